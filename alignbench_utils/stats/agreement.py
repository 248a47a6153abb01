"""Agreement of a judge with humans, with another judge, or with itself.

Pointwise scores: Pearson, Spearman, Kendall tau-b, quadratic-weighted Cohen's kappa, exact
and within-1 agreement, each with a percentile bootstrap CI over items (system level: over
items within each group, then per-group means are correlated). Pairwise verdicts: accuracy,
both-orders agreement, consistency and position bias. Public names here are stable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, pearsonr, rankdata, spearmanr

from .bootstrap import resample_counts

__all__ = [
    "inter_judge_agreement",
    "pairwise_agreement",
    "pointwise_agreement",
    "quadratic_kappa",
    "test_retest",
]

VERDICTS = ("A", "B", "tie")
_COLUMNS = ["level", "metric", "estimate", "lower", "upper", "n", "n_dropped"]


def quadratic_kappa(x: np.ndarray, y: np.ndarray) -> float:
    """Quadratic-weighted Cohen's kappa of two integer score vectors, on the score scale.

    With weights (i−j)², observed and chance disagreement reduce to moments:
    ``κ = 1 − mean((x−y)²) / (mean(x²) + mean(y²) − 2·mean(x)·mean(y))``; this equals
    statsmodels' ``cohens_kappa(table, wt="quadratic")`` on the full contiguous score table.

    >>> quadratic_kappa(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 4]))
    1.0
    >>> round(quadratic_kappa(np.array([1, 2, 3, 4]), np.array([2, 2, 3, 3])), 4)
    0.6667
    """
    return float(_kappa_rows(np.asarray(x, float)[None], np.asarray(y, float)[None])[0])


def _kappa_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    observed = ((x - y) ** 2).mean(axis=-1)
    chance = (x**2).mean(axis=-1) + (y**2).mean(axis=-1) - 2 * x.mean(-1) * y.mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - observed / chance


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair (NaN for a constant row)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(-1) / np.sqrt((xc**2).sum(-1) * (yc**2).sum(-1))


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _pearson_rows(rankdata(x, axis=-1), rankdata(y, axis=-1))


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.array([kendalltau(a, b, variant="b").statistic for a, b in zip(x, y)])


_CORRELATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "pearson": _pearson_rows, "spearman": _spearman_rows, "kendall": _kendall_rows}


def _point(name: str, x: np.ndarray, y: np.ndarray) -> float:
    """Point values straight from scipy, the reference implementation."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    if name == "pearson":
        return float(pearsonr(x, y).statistic)
    if name == "spearman":
        return float(spearmanr(x, y).statistic)
    return float(kendalltau(x, y, variant="b").statistic)


def _rows(level: str, estimates: dict[str, float], reps: dict[str, np.ndarray], n: int,
          n_dropped: int, ci: float) -> list[dict[str, Any]]:
    alpha = (1 - ci) / 2
    out = []
    for metric, est in estimates.items():
        r = reps[metric][~np.isnan(reps[metric])]
        lower, upper = np.quantile(r, [alpha, 1 - alpha]) if r.size else (np.nan, np.nan)
        out.append({"level": level, "metric": metric, "estimate": est, "lower": lower,
                    "upper": upper, "n": n, "n_dropped": n_dropped})
    return out


def _chunks(n_boot: int, n: int) -> list[int]:
    """Resample batch sizes bounding memory to ~2M values per batch."""
    size = max(1, 2_000_000 // max(n, 1))
    return [min(size, n_boot - s) for s in range(0, n_boot, size)]


def _sample_level(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                  n_boot: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    integer = bool(np.all(x == np.round(x)) and np.all(y == np.round(y)))
    est = {name: _point(name, x, y) for name in _CORRELATIONS}
    est["kappa_quadratic"] = quadratic_kappa(x, y) if integer else float("nan")
    est["exact"] = float(np.mean(x == y))
    est["within_1"] = float(np.mean(np.abs(x - y) <= 1))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in est}
    for size in _chunks(n_boot, x.size):
        idx = rng.integers(0, x.size, size=(size, x.size))
        xb, yb = x[idx], y[idx]
        for name, fn in _CORRELATIONS.items():
            parts[name].append(fn(xb, yb))
        parts["kappa_quadratic"].append(_kappa_rows(xb, yb) if integer else np.full(size, np.nan))
        parts["exact"].append((xb == yb).mean(axis=1))
        parts["within_1"].append((np.abs(xb - yb) <= 1).mean(axis=1))
    return est, {name: np.concatenate(p) for name, p in parts.items()}


def _system_level(x: np.ndarray, y: np.ndarray, groups: np.ndarray, rng: np.random.Generator,
                  n_boot: int) -> tuple[dict[str, float], dict[str, np.ndarray], int]:
    labels = pd.unique(groups)
    members = [np.flatnonzero(groups == g) for g in labels]
    gx = np.array([x[m].mean() for m in members])
    gy = np.array([y[m].mean() for m in members])
    est = {name: _point(name, gx, gy) for name in _CORRELATIONS}
    bx = np.empty((n_boot, len(members)))
    by = np.empty_like(bx)
    for g, m in enumerate(members):  # resample items within each group
        w = resample_counts(rng.integers(0, m.size, size=(n_boot, m.size)), m.size)
        bx[:, g], by[:, g] = w @ x[m] / m.size, w @ y[m] / m.size
    reps = {name: fn(bx, by) for name, fn in _CORRELATIONS.items()}
    return est, reps, len(labels)


def pointwise_agreement(judge_scores: Sequence[float], human_scores: Sequence[float], *,
                        groups: Sequence[Any] | None = None, n_boot: int = 2000, seed: int = 0,
                        level: float = 0.95) -> pd.DataFrame:
    """Agreement of two score vectors, long format with bootstrap CIs.

    Columns ``level, metric, estimate, lower, upper, n, n_dropped``. ``level='sample'`` rows:
    pearson, spearman, kendall (tau-b), kappa_quadratic (NaN unless all scores are integers),
    exact (share x == y), within_1 (share |x − y| ≤ 1). With ``groups`` (e.g. the model of
    each item) ``level='system'`` rows correlate the per-group means (pearson, spearman,
    kendall; ``n`` is the number of groups). Pairs with a NaN score (or NaN group) are dropped
    and counted in ``n_dropped``. Point estimates are scipy's; CIs are percentile intervals
    over ``n_boot`` resamples of items (system level: items resampled within each group).

    >>> t = pointwise_agreement([1, 2, 3, 4, 5, None], [1, 3, 2, 4, 5, 3], n_boot=200)
    >>> row = t.set_index("metric").loc["pearson"]
    >>> round(float(row["estimate"]), 6), int(row["n"]), int(row["n_dropped"])
    (0.9, 5, 1)
    """
    x = np.asarray(judge_scores, dtype=float)
    y = np.asarray(human_scores, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"score vectors must be 1-D and equal length, got {x.shape}, {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    g = None
    if groups is not None:
        g = pd.Series(list(groups), dtype=object)
        if len(g) != len(x):
            raise ValueError(f"groups has {len(g)} entries, scores have {len(x)}")
        keep &= g.notna().to_numpy()
        g = g.to_numpy()[keep]
    x, y = x[keep], y[keep]
    if x.size < 2:
        raise ValueError(f"need at least 2 complete pairs, got {x.size}")
    rng = np.random.default_rng(seed)
    est, reps = _sample_level(x, y, rng, n_boot)
    rows = _rows("sample", est, reps, x.size, int((~keep).sum()), level)
    if g is not None:
        est, reps, n_groups = _system_level(x, y, g, rng, n_boot)
        rows += _rows("system", est, reps, n_groups, 0, level)
    return pd.DataFrame(rows, columns=_COLUMNS)


def _verdicts(values: Sequence[str], name: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=object)
    bad = [(i, v) for i, v in enumerate(arr) if v not in VERDICTS]
    if bad:
        i, v = bad[0]
        raise ValueError(f"{name}[{i}] = {v!r} is not a verdict; allowed: {VERDICTS} "
                         f"({len(bad)} invalid)")
    return arr


def pairwise_agreement(labels: Sequence[str], verdicts: Sequence[str],
                       swapped_verdicts: Sequence[str] | None = None) -> dict[str, Any]:
    """Agreement of pairwise verdicts ("A", "B" or "tie"; ties are a class) with labels.

    ``swapped_verdicts`` are the verdicts with the answers shown in swapped order, already
    mapped back to the original names (so "A" always means answer A). Returns:

    - ``accuracy``: share of verdicts equal to the label, averaged over the orders given
      (LLMBar convention);
    - ``agreement_both``: share of items where *both* orders equal the label (Auto-J
      convention); without a swap it is the single-order accuracy;
    - ``consistency``: share of items with the same verdict in both orders (None without swap);
    - ``position_bias``: among inconsistent items, the share where the judge picked whichever
      answer was shown first in both orders, i.e. verdict "A" in the original order and "B"
      (mapped back) in the swapped order; NaN when there is no inconsistent item, None without
      swap. ``n_inconsistent`` counts those items; ``n`` the items.

    >>> r = pairwise_agreement(["A", "B", "tie", "A"], ["A", "A", "tie", "B"],
    ...                        ["A", "B", "A", "A"])
    >>> r["accuracy"], r["agreement_both"], r["consistency"], r["position_bias"]
    (0.625, 0.25, 0.25, 0.3333333333333333)
    """
    lab = _verdicts(labels, "labels")
    first = _verdicts(verdicts, "verdicts")
    if first.size != lab.size or lab.size == 0:
        raise ValueError(f"labels ({lab.size}) and verdicts ({first.size}) must be equal, non-empty")
    hit = first == lab
    out: dict[str, Any] = {"n": int(lab.size)}
    if swapped_verdicts is None:
        acc = float(hit.mean())
        return out | {"accuracy": acc, "agreement_both": acc, "consistency": None,
                      "position_bias": None, "n_inconsistent": None}
    second = _verdicts(swapped_verdicts, "swapped_verdicts")
    if second.size != lab.size:
        raise ValueError(f"swapped_verdicts ({second.size}) and labels ({lab.size}) differ")
    hit2 = second == lab
    inconsistent = first != second
    favour_first = (first == "A") & (second == "B")
    n_inc = int(inconsistent.sum())
    return out | {
        "accuracy": float((hit.mean() + hit2.mean()) / 2),
        "agreement_both": float((hit & hit2).mean()),
        "consistency": float(1 - inconsistent.mean()),
        "position_bias": float(favour_first.sum() / n_inc) if n_inc else float("nan"),
        "n_inconsistent": n_inc,
    }


def _paired_scores(frame_a: pd.DataFrame, frame_b: pd.DataFrame) -> pd.DataFrame:
    """Outer join on (model, question_id); a score is NaN unless its status is ok."""
    keys = ["model", "question_id"]
    parts = []
    for name, frame in (("a", frame_a), ("b", frame_b)):
        if frame.duplicated(keys).any():
            raise ValueError(f"frame_{name} has duplicated (model, question_id) rows; "
                             "filter it to one judge")
        score = pd.to_numeric(frame["score"], errors="coerce").where(frame["status"].eq("ok"))
        parts.append(frame[keys].assign(**{f"score_{name}": score}))
    return parts[0].merge(parts[1], on=keys, how="outer")


def inter_judge_agreement(frame_a: pd.DataFrame, frame_b: pd.DataFrame, *, n_boot: int = 2000,
                          seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Two judges' judgments frames on the same answers, joined on (model, question_id).

    Returns :func:`pointwise_agreement` of the two score columns (sample level incl. exact and
    within-1 rates, and system level with one group per model) with a first column
    ``analysis='inter-judge'``. Unmatched or failed judgments count in ``n_dropped``.
    """
    joined = _paired_scores(frame_a, frame_b)
    table = pointwise_agreement(joined["score_a"], joined["score_b"], groups=joined["model"],
                                n_boot=n_boot, seed=seed, level=level)
    return table.assign(analysis="inter-judge")[["analysis", *_COLUMNS]]


def test_retest(frame_first: pd.DataFrame, frame_second: pd.DataFrame, *, n_boot: int = 2000,
                seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Test-retest reliability: one judge judging the same answers twice.

    Same metrics as :func:`inter_judge_agreement`, with ``analysis='test-retest'``.
    """
    table = inter_judge_agreement(frame_first, frame_second, n_boot=n_boot, seed=seed,
                                  level=level)
    return table.assign(analysis="test-retest")


test_retest.__test__ = False  # type: ignore[attr-defined]  # not a pytest test function
