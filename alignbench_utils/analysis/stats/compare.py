"""Paired model comparisons with multiple-testing correction, and rank tiers.

Why: a leaderboard gap means little without its uncertainty, and with k models there are
k(k−1)/2 comparisons, so p-values are adjusted (Holm by default, or Benjamini–Hochberg) with
``statsmodels.stats.multitest.multipletests``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from statsmodels.stats.multitest import multipletests

from alignbench_utils.analysis.stats.bootstrap import BootstrapResult, as_result, intervals
from alignbench_utils.analysis.stats.matrix import score_matrix
from alignbench_utils.taxonomy import CATEGORIES, OVERALL_COL

__all__ = ["bootstrap_p_value", "category_tests", "compare_models", "rank_tiers", "tier_labels"]

_COMPARE_COLUMNS = ["model_a", "model_b", "metric", "diff", "lower", "upper", "p_value",
                    "p_adjusted", "significant"]


def bootstrap_p_value(diffs: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "difference = 0" from replicate differences.

    ``p = min(1, 2·min((1 + #{d ≤ 0}) / (B + 1), (1 + #{d ≥ 0}) / (B + 1)))``; the +1 keeps p
    above zero (a resample cannot prove p = 0) and is the usual Davison–Hinkley correction.
    NaN replicates are dropped.

    >>> bootstrap_p_value(np.array([1.0, 2.0, 3.0, -1.0]))
    0.8
    >>> bootstrap_p_value(np.zeros(9))
    1.0
    """
    d = diffs[~np.isnan(diffs)]
    b = d.size
    low = (1 + np.count_nonzero(d <= 0)) / (b + 1)
    high = (1 + np.count_nonzero(d >= 0)) / (b + 1)
    return float(min(1.0, 2 * min(low, high)))


def _adjust(p: np.ndarray, correction: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """multipletests over the finite p-values; NaN stays NaN and never significant."""
    adjusted = np.full(p.shape, np.nan)
    reject = np.zeros(p.shape, dtype=bool)
    finite = np.isfinite(p)
    if finite.any():
        reject[finite], adjusted[finite], _, _ = multipletests(p[finite], alpha=alpha,
                                                              method=correction)
    return adjusted, reject


def compare_models(data: pd.DataFrame | BootstrapResult, *, n_boot: int = 10_000,
                   seed: int = 0, level: float = 0.95, correction: str = "holm",
                   metrics: Sequence[str] = (OVERALL_COL,)) -> pd.DataFrame:
    """Every pair of models: difference (a − b), paired bootstrap CI, p-value, adjusted p.

    The CI is the percentile interval of the paired replicate differences (same resamples for
    both models); p-values come from :func:`bootstrap_p_value` and are adjusted across all
    rows (pairs × ``metrics``); ``significant`` is the adjusted test at ``1 − level``.
    """
    result = as_result(data, n_boot=n_boot, seed=seed)
    alpha = (1 - level) / 2
    rows = []
    for metric in metrics:
        k = result.metrics.index(metric)
        for i, j in combinations(range(len(result.models)), 2):
            d = result.replicates[:, i, k] - result.replicates[:, j, k]
            finite = d[~np.isnan(d)]
            lower, upper = (np.quantile(finite, [alpha, 1 - alpha]) if finite.size
                            else (np.nan, np.nan))
            rows.append({"model_a": result.models[i], "model_b": result.models[j],
                         "metric": metric,
                         "diff": result.estimates[i, k] - result.estimates[j, k],
                         "lower": lower, "upper": upper,
                         "p_value": bootstrap_p_value(d) if finite.size else np.nan})
    table = pd.DataFrame(rows, columns=_COMPARE_COLUMNS[:7])
    table["p_adjusted"], table["significant"] = _adjust(table["p_value"].to_numpy(float),
                                                        correction, 1 - level)
    return table


def category_tests(frame: pd.DataFrame, *, correction: str = "holm",
                   alpha: float = 0.05) -> pd.DataFrame:
    """Wilcoxon signed-rank test per category and model pair on per-question differences.

    Only questions where both models are ok enter (``n``). scipy's default ``zero_method``
    ('wilcox') drops zero differences; a pair with no non-zero difference gets NaN p.
    p-values are adjusted across all tests (categories × pairs).
    """
    matrix = score_matrix(frame)
    rows = []
    for cat, sl in zip(CATEGORIES, matrix.slices):
        block = matrix.scores[:, sl]
        for i, j in combinations(range(len(matrix.models)), 2):
            d = block[i] - block[j]
            d = d[~np.isnan(d)]
            stat = p = np.nan
            if np.count_nonzero(d):
                res = wilcoxon(d)
                stat, p = float(res.statistic), float(res.pvalue)
            rows.append({"category": cat, "model_a": matrix.models[i],
                         "model_b": matrix.models[j], "n": d.size,
                         "median_diff": float(np.median(d)) if d.size else np.nan,
                         "statistic": stat, "p_value": p})
    table = pd.DataFrame(rows, columns=["category", "model_a", "model_b", "n", "median_diff",
                                        "statistic", "p_value"])
    table["p_adjusted"], table["significant"] = _adjust(table["p_value"].to_numpy(float),
                                                        correction, alpha)
    return table


def tier_labels(separated: np.ndarray) -> list[int]:
    """Tiers from a leader-separation matrix of models sorted best first.

    ``separated[i, j]`` is True when model ``i`` is significantly better than model ``j``.
    Walking down the order, a model joins the current tier unless the tier's leader (its first
    model) is separated from it; then it starts and leads a new tier.

    >>> s = np.array([[0, 0, 1], [0, 0, 0], [0, 0, 0]], dtype=bool)
    >>> tier_labels(s)
    [1, 1, 2]
    """
    if separated.shape[0] == 0:
        return []
    tiers, leader = [1], 0
    for j in range(1, separated.shape[0]):
        if separated[leader, j]:
            leader = j
            tiers.append(tiers[-1] + 1)
        else:
            tiers.append(tiers[-1])
    return tiers


def rank_tiers(data: pd.DataFrame | BootstrapResult, *, level: float = 0.95,
               n_boot: int = 10_000, seed: int = 0, metric: str = OVERALL_COL) -> pd.DataFrame:
    """Models sorted by ``metric`` with CI, rank and tier.

    Rule: sort by estimate (best first); the first model leads tier 1; a model starts a new
    tier (and leads it) when the paired bootstrap CI of (leader − model) at ``level`` lies
    entirely above 0, otherwise it shares the leader's tier. Unadjusted paired CIs are used,
    so tiers are a display aid, not a family-wise claim. A model without an estimate (a
    category with no ok judgment) is listed last with no rank and no tier.
    """
    result = as_result(data, n_boot=n_boot, seed=seed)
    k = result.metrics.index(metric)
    lower, upper = intervals(result, level=level)
    order = np.argsort(-result.estimates[:, k], kind="stable")  # NaN sorts last
    estimate = result.estimates[order, k]
    n_ranked = int(np.isfinite(estimate).sum())
    reps = result.replicates[:, order[:n_ranked], k]
    diffs = reps[:, :, None] - reps[:, None, :]
    separated = np.nanquantile(diffs, (1 - level) / 2, axis=0) > 0
    unranked = [pd.NA] * (len(order) - n_ranked)
    return pd.DataFrame({
        "model": [result.models[i] for i in order],
        "estimate": estimate,
        "lower": lower[order, k],
        "upper": upper[order, k],
        "rank": pd.array(pd.Series(-estimate).rank(method="min"), dtype="Int64"),
        "tier": pd.array(tier_labels(separated) + unranked, dtype="Int64"),
    })
