"""Agreement of a judge with humans, with another judge, or with itself.

Pointwise scores: Pearson, Spearman, Kendall tau-b, quadratic-weighted Cohen's kappa, exact
and within-1 agreement, each with a percentile bootstrap CI over items (system level: over
items within each group, then per-group means are correlated). Judge-human agreement with the
AlignBench and CritiqueLLM papers' conventions (:func:`judge_human_agreement`): per question
across models, then averaged ("sample level"), and across model means ("system level"), next
to the pooled figures; human scores as long records or a wide table
(:func:`human_scores_long`). Pairwise verdicts: accuracy, both-orders agreement, consistency
and position bias. Public names here are stable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, pearsonr, rankdata, spearmanr

from alignbench_utils.analysis.stats.bootstrap import resample_counts
from alignbench_utils.errors import InputError

__all__ = [
    "human_scores_long",
    "inter_judge_agreement",
    "judge_human_agreement",
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


HUMAN_COLUMNS = ("question_id", "model", "human_score")


def _question_ids(labels: pd.Index) -> pd.Index:
    """Column labels as question ids: integers when every label is one (AlignBench's ids)."""
    text = labels.astype(str).str.strip()
    return pd.Index(text.astype(int)) if text.str.fullmatch(r"-?\d+").all() else pd.Index(text)


def human_scores_long(table: pd.DataFrame, *, model_column: str = "model") -> pd.DataFrame:
    """Human scores as long records (``question_id, model, human_score``) from a wide table.

    The wide table has one row per model (named by ``model_column``, else by the index) and one
    column per question id, on any scale; an empty cell means "not rated" and is left out.
    Column labels that are all integers become integer ids. A long table (with the three
    columns) is returned as is, checked.

    >>> wide = pd.DataFrame({"model": ["a", "b"], "1": [3, 5], "2": [4, None]})
    >>> human_scores_long(wide).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'question_id': 1, 'model': 'a', 'human_score': 3.0},
     {'question_id': 2, 'model': 'a', 'human_score': 4.0},
     {'question_id': 1, 'model': 'b', 'human_score': 5.0}]
    """
    if set(HUMAN_COLUMNS) <= set(table.columns):
        long = table[list(HUMAN_COLUMNS)].copy()
    else:
        wide = table.set_index(model_column) if model_column in table.columns else table
        if wide.index.duplicated().any():
            raise InputError(f"model {wide.index[wide.index.duplicated()][0]!r} has two rows",
                             field=model_column)
        wide = wide.set_axis(_question_ids(wide.columns), axis=1)
        long = (wide.rename_axis(index="model", columns="question_id")
                .stack(future_stack=True).rename("human_score").reset_index())
        long = long[long["human_score"].notna()][list(HUMAN_COLUMNS)]
    score = pd.to_numeric(long["human_score"], errors="coerce")
    bad = score.isna() & long["human_score"].notna()
    if bad.any():
        row = long[bad].iloc[0]
        raise InputError(f"score of model {row['model']!r} on question {row['question_id']} "
                         f"is not a number: {row['human_score']!r:.40}", field="human_score")
    if long.duplicated(["question_id", "model"]).any():
        row = long[long.duplicated(["question_id", "model"])].iloc[0]
        raise InputError(f"model {row['model']!r} has two scores for question "
                         f"{row['question_id']}", field="human_score")
    return long.assign(human_score=score.astype(float)).reset_index(drop=True)


def _score_grids(judgments: pd.DataFrame, human: pd.DataFrame
                 ) -> tuple[np.ndarray, np.ndarray, pd.Index, int]:
    """Judge and human scores as (questions × models) grids, NaN unless both exist; ids are
    joined as strings. Also returns the model names and how many pairs were incomplete."""
    keys = ["question_id", "model"]
    judge = judgments.assign(score=pd.to_numeric(judgments["score"], errors="coerce")
                             .where(judgments["status"].eq("ok")))[keys + ["score"]]
    if judge.duplicated(keys).any():
        raise ValueError("judgments have duplicated (model, question_id) rows; filter one judge")
    pairs = (judge.astype({"question_id": str, "model": str})
             .merge(human.astype({"question_id": str, "model": str}), on=keys, how="outer"))
    complete = pairs["score"].notna() & pairs["human_score"].notna()
    grid = pairs[complete].pivot(index="question_id", columns="model",
                                 values=["score", "human_score"])
    return (grid["score"].to_numpy(float), grid["human_score"].to_numpy(float),
            grid["score"].columns, int((~complete).sum()))


def _per_question(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_boot: int
                  ) -> tuple[dict[str, float], dict[str, np.ndarray], int, np.ndarray]:
    """Mean over questions of the correlation across the models that answered each; questions
    with fewer than two models or constant scores have none and are left out (CritiqueLLM's
    ``correlation_sample`` skips them the same way). Questions are resampled."""
    n_q = x.shape[0]
    weights = resample_counts(rng.integers(0, n_q, size=(n_boot, n_q)), n_q)
    est, reps = {}, {}
    for name in _CORRELATIONS:
        r = np.array([_point(name, a[m], b[m]) if m.sum() >= 2 else np.nan
                      for a, b, m in zip(x, y, ~np.isnan(x))])
        valid = ~np.isnan(r)
        est[name] = float(r[valid].mean()) if valid.any() else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            reps[name] = (weights @ np.nan_to_num(r)) / (weights @ valid)
    return est, reps, int(valid.sum()), weights


def _model_means(x: np.ndarray, y: np.ndarray, weights: np.ndarray
                 ) -> tuple[dict[str, float], dict[str, np.ndarray], int]:
    """Correlation of per-model mean scores; replicates reuse the resampled questions."""
    ok = ~np.isnan(x)
    xf, yf = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    counts = ok.sum(axis=0)
    keep = counts > 0
    mx, my = xf.sum(0)[keep] / counts[keep], yf.sum(0)[keep] / counts[keep]
    est = {name: _point(name, mx, my) for name in _CORRELATIONS}
    with np.errstate(invalid="ignore", divide="ignore"):
        n = weights @ ok[:, keep]
        bx, by = (weights @ xf[:, keep]) / n, (weights @ yf[:, keep]) / n
    reps = {name: fn(bx, by) for name, fn in _CORRELATIONS.items()}
    return est, reps, int(keep.sum())


def judge_human_agreement(judgments: pd.DataFrame, human: pd.DataFrame, *, n_boot: int = 2000,
                          seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Pointwise judge-human agreement in the AlignBench/CritiqueLLM conventions, long format.

    ``judgments``: a judgments frame of one judge (``model, question_id, status, score``);
    ``human``: long records or a wide table (:func:`human_scores_long`), any scale. Scores are
    paired on (model, question_id); a failed judgment or a missing score drops the pair.
    Columns ``level, metric, estimate, lower, upper, n, n_dropped``:

    - ``level='per_question'`` (the papers' *sample level*): for each question, the Pearson,
      Spearman and Kendall (tau-b) correlation across the models that answered it, averaged
      over questions; ``n`` questions used, ``n_dropped`` questions without a correlation.
    - ``level='system'``: the correlation of per-model mean scores; ``n`` models.
    - ``level='pooled'``: :func:`pointwise_agreement` over all pairs (its ``sample`` rows:
      correlations, quadratic kappa, exact and within-1 rates, meaningful only on one scale);
      ``n_dropped`` counts incomplete pairs.

    CIs resample questions (per question and system level share the same resamples;
    ``numpy.random.default_rng(seed)``), pooled ones resample pairs.

    >>> j = pd.DataFrame({"model": ["a", "b", "c"] * 2, "question_id": [1, 1, 1, 2, 2, 2],
    ...                   "status": "ok", "score": [8, 6, 3, 7, 7, 2]})
    >>> h = pd.DataFrame({"model": ["a", "b", "c"], "1": [5, 4, 1], "2": [4, 5, 1]})
    >>> t = judge_human_agreement(j, h, n_boot=200).set_index(["level", "metric"])
    >>> round(float(t.loc[("per_question", "spearman"), "estimate"]), 4)
    0.933
    """
    long = human_scores_long(human)
    x, y, models, incomplete = _score_grids(judgments, long)
    rng = np.random.default_rng(seed)
    est, reps, n_questions, weights = _per_question(x, y, rng, n_boot)
    rows = _rows("per_question", est, reps, n_questions, x.shape[0] - n_questions, level)
    est, reps, n_models = _model_means(x, y, weights)
    rows += _rows("system", est, reps, n_models, len(models) - n_models, level)
    complete = ~np.isnan(x)
    pooled = pointwise_agreement(x[complete], y[complete], n_boot=n_boot, seed=seed, level=level)
    pooled = pooled.assign(level="pooled", n_dropped=incomplete)
    return pd.concat([pd.DataFrame(rows, columns=_COLUMNS), pooled], ignore_index=True)
