"""Human labels for judge agreement (notebook 05): read, recognise, match to judgments.

Two kinds: **scores** (``question_id, model, human_score`` records, or a wide table with one
row per model and one column per question, any scale) and **pairwise labels**
(``question_id, model_a, model_b, label`` with ``A``, ``B`` or ``tie``). A file of neither
shape is an error naming the columns expected and found.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from alignbench_utils.analysis.stats.agreement import HUMAN_COLUMNS, human_scores_long
from alignbench_utils.errors import InputError

__all__ = ["PAIR_COLUMNS", "HumanLabels", "check_labels_match", "match_scores",
           "read_human_labels", "score_verdicts"]

PAIR_COLUMNS = ("question_id", "model_a", "model_b", "label")


class HumanLabels:
    """Labels read from one file: ``kind`` is ``"scores"`` or ``"pairwise"``."""

    def __init__(self, path: Path, kind: str, table: pd.DataFrame) -> None:
        self.path, self.kind, self.table = path, kind, table

    def __repr__(self) -> str:
        return f"HumanLabels({str(self.path)!r}, {self.kind}, {len(self.table)} rows)"


def read_human_labels(path: str | Path) -> HumanLabels:
    """Read a CSV or JSONL file of human labels and recognise its kind."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    table = pd.read_json(path, lines=True) if path.suffix == ".jsonl" else pd.read_csv(path)
    if set(PAIR_COLUMNS) <= set(table.columns):
        return HumanLabels(path, "pairwise", table)
    if set(HUMAN_COLUMNS) <= set(table.columns) or "model" in table.columns:
        try:
            return HumanLabels(path, "scores", human_scores_long(table))
        except InputError as exc:
            raise InputError(exc.reason, path=path, field=exc.field) from None
    raise InputError(f"expected columns {', '.join(HUMAN_COLUMNS)} (or a wide table: a model "
                     f"column and one column per question) or {', '.join(PAIR_COLUMNS)}; "
                     f"got {list(table.columns)}", path=path)


def check_labels_match(labels: HumanLabels, question_ids: Iterable[int],
                       models: Iterable[str]) -> int:
    """How many rows of ``labels`` are about the run's questions and models; an
    :class:`InputError` naming the file when none is (the agreement would rest on nothing).

    >>> t = pd.DataFrame({"question_id": [1, 2], "model": ["a", "z"], "human_score": [3, 4]})
    >>> check_labels_match(HumanLabels(Path("h.csv"), "scores", t), [1, 2], ["a"])
    1
    >>> check_labels_match(HumanLabels(Path("h.csv"), "scores", t), [7], ["a"])
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: h.csv: 0 of its 2 rows match the run's questions and models (models in the file: a, z; in the run: a; question ids in the file: 1 to 2; in the question set: 7 to 7)
    """
    table, ids, names = labels.table, set(question_ids), set(models)
    model_columns = ["model"] if labels.kind == "scores" else ["model_a", "model_b"]
    qid = pd.to_numeric(table["question_id"], errors="coerce")
    matching = qid.isin(ids) & np.logical_and.reduce(
        [table[c].astype(str).isin(names) for c in model_columns])
    count = int(matching.sum())
    if not count:
        in_file = sorted({str(m) for c in model_columns for m in table[c]})
        raise InputError(
            f"0 of its {len(table)} rows match the run's questions and models (models in the "
            f"file: {', '.join(in_file)}; in the run: {', '.join(sorted(names))}; question ids "
            f"in the file: {qid.min():g} to {qid.max():g}; in the question set: {min(ids)} to "
            f"{max(ids)})", path=labels.path)
    return count


def match_scores(frame: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Judgments paired with the human score of the same (model, question_id).

    >>> f = pd.DataFrame({"model": ["a", "b"], "question_id": [1, 1], "score": [7.0, 5.0]})
    >>> match_scores(f, pd.DataFrame({"model": ["a"], "question_id": [1], "human_score": [4.0]}))[
    ...     ["model", "score", "human_score"]].values.tolist()
    [['a', 7.0, 4.0]]
    """
    return frame.merge(scores, on=["model", "question_id"], how="inner")


def score_verdicts(frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The verdicts a pointwise judge's scores imply for labelled pairs: ``A`` when model_a
    scored higher on that question, ``B`` when lower, ``tie`` when equal; pairs where either
    answer has no ok score are left out.

    >>> f = pd.DataFrame({"model": ["a", "b"], "question_id": [1, 1], "score": [7.0, 5.0]})
    >>> p = pd.DataFrame({"question_id": [1], "model_a": ["b"], "model_b": ["a"],
    ...                   "label": ["B"]})
    >>> score_verdicts(f, p)[["label", "verdict"]].values.tolist()
    [['B', 'B']]
    """
    scores = frame.set_index(["model", "question_id"])["score"]
    out = pairs.assign(
        score_a=scores.reindex(list(zip(pairs["model_a"], pairs["question_id"]))).to_numpy(),
        score_b=scores.reindex(list(zip(pairs["model_b"], pairs["question_id"]))).to_numpy())
    out = out.dropna(subset=["score_a", "score_b"])
    out["verdict"] = np.select([out["score_a"] > out["score_b"],
                                out["score_a"] < out["score_b"]], ["A", "B"], "tie")
    return out.reset_index(drop=True)
