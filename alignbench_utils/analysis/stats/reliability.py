"""How far a judge can be trusted: agreement of its repeated samples and of a panel's judges
(Krippendorff's alpha), where the variance of 总分 comes from, and how stable the ranking is.

Why these: two runs of one judge give different scores, so a leaderboard needs to say how much
of a difference is the judge's own noise. Alpha is computed by the ``krippendorff`` package
(interval metric; a missing or failed judgment is a missing value), never by hand; its
bootstrap CI resamples the units (items: model × question). The variance decomposition fits
crossed random effects with statsmodels ``MixedLM``; rank stability redraws a judge's samples.

Frames: the *sample frame* is :func:`~alignbench_utils.analysis.aggregate.judgments_frame` with one row
per sample (``sample`` column); the *items frame* has one row per judge and item
(:func:`alignbench_utils.analysis.panels.reduce_samples`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import krippendorff
import numpy as np
import pandas as pd
from scipy.stats import rankdata

from alignbench_utils.analysis.stats.matrix import question_layout
from alignbench_utils.taxonomy import combine_categories

__all__ = [
    "alpha_interval",
    "judge_alpha",
    "rank_stability",
    "reliability_data",
    "sample_alphas",
    "variance_components",
]

_ITEM = ["model", "question_id"]


def reliability_data(frame: pd.DataFrame, coder: str) -> pd.DataFrame:
    """Coders × items table of ok scores (NaN: failed or missing), the layout Krippendorff's
    alpha takes; ``coder`` is the column naming the coders (``sample`` or ``judge``).

    >>> f = pd.DataFrame({"model": "m", "question_id": [1, 1, 2], "sample": [0, 1, 0],
    ...                   "status": ["ok", "ok", "parse_failed"], "score": [5.0, 6.0, None]})
    >>> reliability_data(f, "sample").to_numpy().tolist()
    [[5.0, nan], [6.0, nan]]
    """
    ok = frame["status"].eq("ok")
    score = pd.to_numeric(frame["score"], errors="coerce").where(ok)
    return (frame.assign(_score=score)
            .pivot_table(index=coder, columns=_ITEM, values="_score", aggfunc="first",
                         dropna=False))


def _alpha(data: np.ndarray) -> float:
    """Interval alpha of a coders × units array; NaN when it is undefined (fewer than two
    pairable values, or no variance at all)."""
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = data[:, pairable]
    if pairable.sum() < 2 or np.nanstd(values) == 0:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=values, level_of_measurement="interval"))


def alpha_interval(data: pd.DataFrame | np.ndarray, *, n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Krippendorff's alpha (interval) of a coders × units table and its percentile bootstrap
    CI at ``level`` (units resampled with replacement, ``default_rng(seed)``).

    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(5, 2, 200)
    >>> data = np.round(truth + rng.normal(0, 1, (3, 200)))  # judges write whole points
    >>> est, lo, hi = alpha_interval(data, n_boot=200)
    >>> bool(lo < est < hi), round(est, 1)
    (True, 0.8)
    """
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    values = np.asarray(data, float)
    estimate = _alpha(values)
    if np.isnan(estimate):
        return estimate, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    n = values.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reps = np.array([_alpha(values[:, idx]) for idx in rng.integers(0, n, (n_boot, n))])
    lower, upper = np.nanquantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return estimate, float(lower), float(upper)


def sample_alphas(samples: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0,
                  level: float = 0.95) -> pd.DataFrame:
    """Per judge: alpha across its repeated samples of each item, with CI.

    Columns ``judge, samples`` (most samples of an item), ``n_items``, ``alpha_samples``,
    ``alpha_samples_lower``, ``alpha_samples_upper``, ``level``; alpha is NaN for a judge with
    one sample per item (nothing to compare).
    """
    rows = []
    for judge, part in samples.groupby("judge", sort=True):
        data = reliability_data(part, "sample")
        est, lo, hi = alpha_interval(data.to_numpy(float), n_boot=n_boot, seed=seed,
                                     level=level)
        rows.append({"judge": judge, "samples": int(part["sample"].max()) + 1,
                     "n_items": data.shape[1], "alpha_samples": est,
                     "alpha_samples_lower": lo, "alpha_samples_upper": hi, "level": level})
    return pd.DataFrame(rows, columns=["judge", "samples", "n_items", "alpha_samples",
                                       "alpha_samples_lower", "alpha_samples_upper", "level"])


def judge_alpha(items: pd.DataFrame, judges: Sequence[str], *, n_boot: int = 1000,
                seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Alpha across ``judges`` (e.g. a panel's members) on their item scores, with CI."""
    part = items[items["judge"].isin(judges)]
    data = reliability_data(part, "judge").reindex(list(judges))
    return alpha_interval(data.to_numpy(float), n_boot=n_boot, seed=seed, level=level)


def variance_components(samples: pd.DataFrame) -> pd.DataFrame:
    """Variance of the ok scores split into question, model, judge, model × question and
    sample (residual) parts, from a statsmodels ``MixedLM`` (REML).

    The fit: ``score ~ C(model) + C(judge)`` with questions as groups (random intercept) and a
    model × question variance component inside each question; the residual is what is left
    within one judge's judgments of one answer: the spread of its samples (with one sample per
    item it also holds the judge × answer interaction). Models and judges are few and chosen,
    so they are fixed effects; their parts are the variance of their estimated effects around
    their mean (``ddof=0``). Columns ``component, variance, share``; a part the data cannot
    show (one judge, one model) is 0. Questions as groups keep each block small, so the fit
    takes seconds on the full benchmark where one group of crossed effects would take minutes.
    """
    import statsmodels.formula.api as smf

    ok = samples[samples["status"].eq("ok")]
    models, judges = sorted(ok["model"].unique()), sorted(ok["judge"].unique())
    data = pd.DataFrame({
        "score": pd.to_numeric(ok["score"]).to_numpy(float),
        "question": ok["question_id"].astype(str).to_numpy(),
        "model": pd.Categorical(ok["model"].map({m: f"m{i}" for i, m in enumerate(models)})),
        "judge": pd.Categorical(ok["judge"].map({j: f"j{i}" for i, j in enumerate(judges)})),
    })
    if data["question"].nunique() < 2:
        raise ValueError("the variance decomposition needs two or more questions")
    fixed = " + ".join(["1"] + [f"C({c})" for c in ("model", "judge") if data[c].nunique() > 1])
    vc = {"item": "0 + C(model)"} if len(models) > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm(f"score ~ {fixed}", data, groups="question", re_formula="1",
                          vc_formula=vc).fit(reml=True)

    def spread(prefix: str) -> float:
        effects = [0.0] + [float(v) for k, v in fit.fe_params.items() if k.startswith(prefix)]
        return float(np.var(effects))

    rows = [("question", float(np.asarray(fit.cov_re)[0, 0])), ("model", spread("C(model)")),
            ("judge", spread("C(judge)")),
            ("model × question", float(np.asarray(fit.vcomp)[0]) if vc else 0.0),
            ("sample (residual)", float(fit.scale))]
    table = pd.DataFrame(rows, columns=["component", "variance"])
    table["share"] = table["variance"] / table["variance"].sum()
    return table


def _totals(scores: np.ndarray, slices: Sequence[slice]) -> np.ndarray:
    """总分 of (..., models, questions) item scores, by the official mean of category means."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cats = np.stack([np.nanmean(scores[..., sl], axis=-1) if sl.stop > sl.start
                         else np.full(scores.shape[:-1], np.nan) for sl in slices], axis=-1)
    return combine_categories(cats)[..., -1]


def rank_stability(samples: pd.DataFrame, *, n_draws: int = 500, seed: int = 0,
                   max_samples: int | None = None, threshold: float = 0.05) -> pd.DataFrame:
    """For one judge's samples: the probability that each model's rank by 总分 changes between
    two independent samplings that use ``k`` samples per item (drawn with replacement from
    the item's ok samples), for k = 1 … ``max_samples`` (default: the most an item has).

    Columns ``model, samples_per_item, p_rank_change, stable`` (every model's probability
    ≤ ``threshold``); the first ``k`` that is stable is how many samples make the ranking
    stable (none: ask for more samples). Questions stay fixed: this is the judge's noise only.
    """
    if samples["judge"].nunique() > 1:
        raise ValueError("rank_stability takes one judge's samples; filter by judge first")
    ok = samples[samples["status"].eq("ok")]
    qids, slices = question_layout(samples)
    models = tuple(pd.unique(samples["model"]))
    k_max = int(samples["sample"].max()) + 1
    array = np.full((len(models), len(qids), k_max), np.nan)
    array[pd.Index(models).get_indexer(ok["model"]), pd.Index(qids).get_indexer(ok["question_id"]),
          ok["sample"].to_numpy(int)] = pd.to_numeric(ok["score"]).to_numpy(float)
    array = np.sort(array, axis=-1)  # NaN last: an item's ok samples first
    counts = (~np.isnan(array)).sum(axis=-1)
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(1, (max_samples or k_max) + 1):
        idx = (rng.random((n_draws, 2, *counts.shape, k)) * counts[..., None]).astype(int)
        drawn = np.take_along_axis(array[None, None], np.minimum(idx, k_max - 1), -1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            totals = _totals(np.nanmean(drawn, axis=-1), slices)  # (n_draws, 2, models)
        ranks = rankdata(-np.nan_to_num(totals, nan=-np.inf), method="min", axis=-1)
        change = (ranks[:, 0] != ranks[:, 1]).mean(axis=0)
        stable = bool(change.max() <= threshold)
        rows += [{"model": m, "samples_per_item": k, "p_rank_change": float(p), "stable": stable}
                 for m, p in zip(models, change)]
    return pd.DataFrame(rows)
