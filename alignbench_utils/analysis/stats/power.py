"""Statistical power of a run: the smallest 总分 difference it can detect, and how many
questions a given difference needs.

Why from paired differences: every model answers the same questions, so a comparison's noise
is the spread of per-question differences, not of scores. 总分 is a weighted mean of category
means (:func:`~alignbench_utils.taxonomy.combine_categories`), so the standard error of a
difference is ``sqrt(Σ_c w_c² s_c² / n_c)`` over categories ``c`` (``s_c`` the standard
deviation of the paired differences there, ``n_c`` their number, ``w_c`` the category's weight
in 总分). A two-sided test at level ``alpha`` with power ``power`` detects
``(z_{1-alpha/2} + z_{power}) · se``; with the categories' shares kept, the questions needed
for a difference δ are ``n · (mde / δ)²``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import norm

from alignbench_utils.analysis.stats.matrix import score_matrix
from alignbench_utils.taxonomy import CATEGORIES, combine_categories

__all__ = ["OVERALL_WEIGHTS", "power_table", "questions_needed"]

#: Each category's weight in 总分 (1/4 for the two reasoning ones, 1/12 for the six others).
OVERALL_WEIGHTS: np.ndarray = combine_categories(np.eye(len(CATEGORIES)))[:, -1]


def power_table(items: pd.DataFrame, *, alpha: float = 0.05,
                power: float = 0.8) -> pd.DataFrame:
    """Per pair of models (one judge's items frame): ``n_questions`` both have ok, observed
    ``difference`` in 总分 (model_a − model_b, over those questions), its ``se`` and the
    minimum detectable difference ``mde`` at ``power`` and two-sided level ``alpha``.

    >>> rng = np.random.default_rng(0)
    >>> q = np.arange(800)
    >>> f = pd.DataFrame({"model": np.repeat(["a", "b"], 800), "question_id": np.tile(q, 2),
    ...                   "category": np.tile([CATEGORIES[i % 8] for i in q], 2),
    ...                   "status": "ok", "score": rng.normal(5, 1, 1600)})
    >>> t = power_table(f)
    >>> int(t.loc[0, "n_questions"]), round(float(t.loc[0, "mde"]), 2)
    (800, 0.15)
    """
    matrix = score_matrix(items)
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    rows = []
    for a, b in combinations(range(len(matrix.models)), 2):
        diff = matrix.scores[a] - matrix.scores[b]
        var, means, n_total = 0.0, np.full(len(CATEGORIES), np.nan), 0
        for c, sl in enumerate(matrix.slices):
            d = diff[sl][~np.isnan(diff[sl])]
            n_total += d.size
            if d.size:
                means[c] = d.mean()
            if d.size > 1:
                var += OVERALL_WEIGHTS[c] ** 2 * d.var(ddof=1) / d.size
        se = float(np.sqrt(var)) if n_total else float("nan")
        rows.append({"model_a": matrix.models[a], "model_b": matrix.models[b],
                     "n_questions": n_total,
                     "difference": float(combine_categories(means)[-1]), "se": se,
                     "mde": z * se, "alpha": alpha, "power": power})
    return pd.DataFrame(rows, columns=["model_a", "model_b", "n_questions", "difference", "se",
                                       "mde", "alpha", "power"])


def questions_needed(table: pd.DataFrame, differences: Sequence[float]) -> pd.DataFrame:
    """Questions needed to detect each 总分 difference, from the median pair of a
    :func:`power_table` (categories kept in the run's proportions): ``n · (mde / δ)²``.

    >>> t = pd.DataFrame({"n_questions": [100], "mde": [0.5]})
    >>> questions_needed(t, [0.25, 1.0]).values.tolist()
    [[0.25, 400.0], [1.0, 25.0]]
    """
    n = float(np.median(table["n_questions"]))
    mde = float(np.median(table["mde"]))
    deltas = np.asarray(differences, float)
    return pd.DataFrame({"difference": deltas, "questions_needed": np.ceil(n * (mde / deltas) ** 2)})
