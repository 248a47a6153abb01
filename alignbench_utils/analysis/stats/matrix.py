"""Judgments frame → aligned arrays (models × questions) for vectorised statistics.

Every statistic in this subpackage works on the same layout so that paired comparisons use the
same questions for every model: one row per model (order of first appearance), one column per
question, columns grouped by category in the official order (``taxonomy.CATEGORIES``) and
sorted by ``question_id`` inside a category. A score is NaN where the judgment failed
(``status != "ok"``) or where the model has no row for that question; only failures are
counted in ``n_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alignbench_utils.taxonomy import CATEGORIES, LANGUAGE_COL, OVERALL_COL, REASONING_COL

__all__ = ["METRICS", "ScoreMatrix", "category_means", "question_layout",
           "score_matrix"]

#: The 11 leaderboard metrics, in display order.
METRICS: tuple[str, ...] = CATEGORIES + (REASONING_COL, LANGUAGE_COL, OVERALL_COL)
_REQUIRED = ("model", "question_id", "category", "status", "score")


@dataclass(frozen=True)
class ScoreMatrix:
    """Scores of every model on every question, NaN where not ok.

    ``slices[c]`` holds the columns of ``CATEGORIES[c]`` (empty when the frame has none).
    """

    models: tuple[str, ...]
    question_ids: np.ndarray
    slices: tuple[slice, ...]
    scores: np.ndarray  # (n_models, n_questions)
    n_failed: np.ndarray  # (n_models, n_categories), int

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of usable (ok) scores."""
        return ~np.isnan(self.scores)

    @property
    def n_ok(self) -> np.ndarray:
        """(n_models, n_categories) count of ok scores."""
        ok = self.ok
        return np.stack([ok[:, sl].sum(axis=1) for sl in self.slices], axis=1)


def question_layout(frame: pd.DataFrame) -> tuple[np.ndarray, tuple[slice, ...]]:
    """The shared column layout: question ids grouped by category, and one slice per category.

    Questions follow ``CATEGORIES`` order, sorted by ``question_id`` inside a category;
    ``slices[c]`` is empty for a category without questions. Any frame with ``question_id``
    and ``category`` columns (judgments, pairwise comparisons) gets the same layout for the
    same questions, so bootstraps with one seed draw the same resamples for both. Raises
    ``ValueError`` on unknown categories or a question filed under two categories.

    >>> f = pd.DataFrame({"question_id": [7, 3, 5, 3], "category": ["专业能力", "数学计算",
    ...                   "数学计算", "数学计算"]})
    >>> qids, slices = question_layout(f)
    >>> qids.tolist(), slices[0], slices[-1]
    ([3, 5, 7], slice(0, 2, None), slice(2, 3, None))
    """
    unknown = sorted(set(frame["category"]) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"unknown categories {unknown}; allowed: {', '.join(CATEGORIES)}")
    questions = frame[["question_id", "category"]].drop_duplicates()
    if questions["question_id"].duplicated().any():
        bad = questions.loc[questions["question_id"].duplicated(), "question_id"].tolist()
        raise ValueError(f"questions filed under several categories: {bad[:5]}")
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    questions = questions.assign(_c=questions["category"].map(rank))
    questions = questions.sort_values(["_c", "question_id"], kind="stable")
    sizes = np.bincount(questions["_c"].to_numpy(), minlength=len(CATEGORIES))
    ends = np.cumsum(sizes)
    slices = tuple(slice(int(e - s), int(e)) for s, e in zip(sizes, ends))
    return questions["question_id"].to_numpy(), slices


def score_matrix(frame: pd.DataFrame) -> ScoreMatrix:
    """Validate a judgments frame and pivot it to a :class:`ScoreMatrix`.

    Raises ``ValueError`` on missing columns, unknown categories, a question filed under two
    categories, duplicated (model, question_id) rows (filter to one judge first) or an ``ok``
    row without a score.

    >>> f = pd.DataFrame({"model": ["a", "a", "b", "b"], "question_id": [2, 1, 1, 2],
    ...                   "category": ["数学计算"] * 4, "status": ["ok", "ok", "ok", "error"],
    ...                   "score": [8, 6, 5, None]})
    >>> m = score_matrix(f)
    >>> m.models, m.question_ids.tolist(), m.scores.tolist()
    (('a', 'b'), [1, 2], [[6.0, 8.0], [5.0, nan]])
    >>> m.n_ok[:, 0].tolist(), m.n_failed[:, 0].tolist()
    ([2, 1], [0, 1])
    """
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"judgments frame lacks columns {missing}; needs {list(_REQUIRED)}")
    qids, slices = question_layout(frame)
    if frame.duplicated(["model", "question_id"]).any():
        raise ValueError("duplicated (model, question_id) rows; filter the frame to one judge")
    ok = frame["status"].eq("ok").to_numpy()
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(score[ok]).any():
        raise ValueError("rows with status 'ok' but no numeric score")
    models = tuple(pd.unique(frame["model"]))
    row = pd.Index(models).get_indexer(frame["model"])
    col = pd.Index(qids).get_indexer(frame["question_id"])
    scores = np.full((len(models), len(qids)), np.nan)
    scores[row[ok], col[ok]] = score[ok]
    cat = frame["category"].map({c: i for i, c in enumerate(CATEGORIES)}).to_numpy()
    n_failed = np.zeros((len(models), len(CATEGORIES)), dtype=int)
    np.add.at(n_failed, (row[~ok], cat[~ok]), 1)
    return ScoreMatrix(models, qids, slices, scores, n_failed)


def category_means(matrix: ScoreMatrix) -> np.ndarray:
    """(n_models, 8) mean ok score per category; NaN where a model has no ok score there."""
    ok = matrix.ok
    filled = np.where(ok, matrix.scores, 0.0)
    sums = np.stack([filled[:, sl].sum(axis=1) for sl in matrix.slices], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / matrix.n_ok
