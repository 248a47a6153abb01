"""Stratified, paired bootstrap of the AlignBench leaderboard.

Why this design: the leaderboard is a mean of category means, so questions are resampled
*within each category* (the category sizes are fixed by the benchmark), and every model gets
the *same* resampled questions, so differences between models are paired and the replicate
array can be reused by :mod:`.compare`.

Draw order (fixed, so results are reproducible and checkable by a slow loop):
``rng = numpy.random.default_rng(seed)``; for each category in ``CATEGORIES`` order that has
questions, ``idx = rng.integers(0, n_c, size=(n_boot, n_c))`` indexes that category's columns
of the :class:`~.matrix.ScoreMatrix`. The resample counts ``W`` turn the category means of all
models into one matrix product ``(W @ (S*ok).T) / (W @ ok.T)``.

A replicate where a model has no ok score in a category (possible when it failed most of
that category) is NaN for that category and the groups that contain it; interval functions
ignore NaN replicates (``numpy.nanquantile``).

Repeated judgments (a frame from :func:`alignbench_utils.analysis.panels.reduce_samples`, whose
``sample_scores`` hold each item's ok samples) add a second level: in every replicate each
item's samples are resampled with replacement and reduced again (``sample_reduce``: mean or
median), so the judge's sampling noise enters the interval. Those draws come after the
question draws, from ``default_rng([seed, 1])``, so the question resamples stay those of a
frame without samples.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from alignbench_utils.analysis.stats.matrix import (
    METRICS,
    ScoreMatrix,
    category_means,
    score_matrix,
)
from alignbench_utils.taxonomy import (
    CATEGORIES,
    LANGUAGE,
    LANGUAGE_COL,
    REASONING,
    REASONING_COL,
    combine_categories,
)

__all__ = [
    "BootstrapResult",
    "as_result",
    "bootstrap_leaderboard",
    "bootstrap_replicates",
    "intervals",
    "metric_totals",
    "resample_counts",
    "stratified_weights",
]


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimates and bootstrap replicates of every leaderboard metric.

    ``replicates[b, m, k]`` is metric ``metrics[k]`` of ``models[m]`` in resample ``b``;
    ``jackknife[q, m, k]`` the same with question ``q`` left out (used by BCa).
    """

    models: tuple[str, ...]
    metrics: tuple[str, ...]
    estimates: np.ndarray  # (n_models, n_metrics)
    replicates: np.ndarray  # (n_boot, n_models, n_metrics)
    jackknife: np.ndarray  # (n_questions, n_models, n_metrics)
    n_ok: np.ndarray  # (n_models, n_metrics)
    n_failed: np.ndarray  # (n_models, n_metrics)
    n_boot: int
    seed: int


def resample_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` items appears in each row of resample indices ``idx``.

    >>> resample_counts(np.array([[0, 0, 2], [1, 2, 2]]), 3).tolist()
    [[2.0, 0.0, 1.0], [0.0, 1.0, 2.0]]
    """
    rows = idx.shape[0]
    flat = (idx + n * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def stratified_weights(slices: Sequence[slice], n_boot: int,
                       rng: np.random.Generator) -> Iterator[tuple[int, slice, np.ndarray]]:
    """The stratified resamples, category by category: ``(c, slice, counts (n_boot, n_c))``.

    The one place that draws: for each category (``CATEGORIES`` order) with questions,
    ``rng.integers(0, n_c, size=(n_boot, n_c))`` indexes that category's columns of the
    :func:`~.matrix.question_layout`; categories without questions draw nothing. Every
    stratified bootstrap goes through here, so two of them with one seed on one set of
    questions use the same resamples (paired).

    >>> rng = np.random.default_rng(0)
    >>> [(c, w.shape, w.sum(axis=1).tolist()) for c, _, w in
    ...  stratified_weights((slice(0, 2), slice(2, 2), slice(2, 5)), 2, rng)]
    [(0, (2, 2), [2.0, 2.0]), (2, (2, 3), [3.0, 3.0])]
    """
    for c, sl in enumerate(slices):
        n_c = sl.stop - sl.start
        if n_c:
            yield c, sl, resample_counts(rng.integers(0, n_c, size=(n_boot, n_c)), n_c)


def metric_totals(counts: np.ndarray) -> np.ndarray:
    """Category counts (…, 8) → counts of the 11 metrics (groups are sums)."""
    groups = {REASONING_COL: REASONING, LANGUAGE_COL: LANGUAGE}
    extra = [counts[..., [CATEGORIES.index(c) for c in groups[g]]].sum(axis=-1) for g in groups]
    return np.concatenate([counts, np.stack([*extra, counts.sum(axis=-1)], axis=-1)], axis=-1)


def _jackknife(matrix: ScoreMatrix, full: np.ndarray) -> np.ndarray:
    """Leave-one-question-out category means, combined into the 11 metrics."""
    ok = matrix.ok
    filled = np.where(ok, matrix.scores, 0.0)
    n_q = matrix.scores.shape[1]
    cats = np.broadcast_to(full, (n_q, *full.shape)).copy()
    for c, sl in enumerate(matrix.slices):
        sums = filled[:, sl].sum(axis=1)
        counts = ok[:, sl].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cats[sl, :, c] = ((sums - filled[:, sl].T) / (counts - ok[:, sl].T))
    return combine_categories(cats)


def _sample_array(frame: pd.DataFrame, matrix: ScoreMatrix) -> np.ndarray | None:
    """(n_models, n_questions, k) ok sample scores, NaN-padded, when some item of the frame
    has two or more (``sample_scores``); else None."""
    if "sample_scores" not in frame.columns:
        return None
    lists = [v if isinstance(v, list) else [] for v in frame["sample_scores"]]
    k = max(map(len, lists), default=0)
    if k < 2:
        return None
    ok = frame["status"].eq("ok").to_numpy()
    row = pd.Index(matrix.models).get_indexer(frame["model"])
    col = pd.Index(matrix.question_ids).get_indexer(frame["question_id"])
    out = np.full((*matrix.scores.shape, k), np.nan)
    for r, c, values, good in zip(row, col, lists, ok):
        if good and values:
            out[r, c, :len(values)] = values
    return out


def _resampled_scores(samples: np.ndarray, n_boot: int, rng: np.random.Generator,
                      reduce: str, chunk: int = 64) -> Iterator[tuple[slice, np.ndarray]]:
    """Per block of replicates, every item's score after resampling its own samples with
    replacement: ``(replicate slice, scores (block, n_models, n_questions))``."""
    counts = (~np.isnan(samples)).sum(axis=-1)
    slots = np.arange(samples.shape[-1]) < counts[..., None]
    func = np.nanmedian if reduce == "median" else np.nanmean
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        idx = (rng.random((size, *samples.shape)) * counts[..., None]).astype(int)
        drawn = np.take_along_axis(samples[None], np.minimum(idx, samples.shape[-1] - 1), -1)
        with warnings.catch_warnings():  # items without ok samples stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            yield slice(start, start + size), func(np.where(slots, drawn, np.nan), axis=-1)


def bootstrap_replicates(frame: pd.DataFrame, *, n_boot: int = 10_000,
                         seed: int = 0) -> BootstrapResult:
    """Stratified paired bootstrap replicates of all 11 metrics for every model (with
    repeated judgments, samples are resampled within items too: see the module docstring).

    >>> f = pd.DataFrame({"model": "m", "question_id": range(16), "status": "ok",
    ...                   "category": [c for c in CATEGORIES for _ in (0, 1)],
    ...                   "score": [float(i % 2 + 5) for i in range(16)]})
    >>> r = bootstrap_replicates(f, n_boot=200, seed=1)
    >>> r.replicates.shape, float(r.estimates[0, -1])
    ((200, 1, 11), 5.5)
    """
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    matrix = score_matrix(frame)
    ok = matrix.ok
    filled = np.where(ok, matrix.scores, 0.0)
    okf = ok.astype(float)
    rng = np.random.default_rng(seed)
    cats = np.full((n_boot, len(matrix.models), len(CATEGORIES)), np.nan)
    samples = _sample_array(frame, matrix)
    if samples is None:  # one score per item: the weights of one category at a time
        for c, sl, weights in stratified_weights(matrix.slices, n_boot, rng):
            with np.errstate(invalid="ignore", divide="ignore"):
                cats[:, :, c] = (weights @ filled[:, sl].T) / (weights @ okf[:, sl].T)
    else:  # every category's weights kept: each block of sample draws reuses them
        draws = list(stratified_weights(matrix.slices, n_boot, rng))
        reduce = str(frame["sample_reduce"].iloc[0]) if "sample_reduce" in frame else "mean"
        for block, scores in _resampled_scores(samples, n_boot, np.random.default_rng([seed, 1]),
                                               reduce):
            scores = np.where(ok, scores, 0.0)
            for c, sl, weights in draws:
                w = weights[block]
                with np.errstate(invalid="ignore", divide="ignore"):
                    cats[block, :, c] = (np.einsum("bq,bmq->bm", w, scores[:, :, sl])
                                         / (w @ okf[:, sl].T))
    full = category_means(matrix)
    return BootstrapResult(
        models=matrix.models, metrics=METRICS, estimates=combine_categories(full),
        replicates=combine_categories(cats), jackknife=_jackknife(matrix, full),
        n_ok=metric_totals(matrix.n_ok), n_failed=metric_totals(matrix.n_failed),
        n_boot=n_boot, seed=seed)


def as_result(data: pd.DataFrame | BootstrapResult, *, n_boot: int,
              seed: int) -> BootstrapResult:
    """Reuse a :class:`BootstrapResult` or bootstrap a frame (then ``n_boot``/``seed`` apply)."""
    if isinstance(data, BootstrapResult):
        return data
    return bootstrap_replicates(data, n_boot=n_boot, seed=seed)


def _bca_levels(reps: np.ndarray, est: np.ndarray, jack: np.ndarray,
                alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """BCa-adjusted lower/upper quantile levels per cell (Efron 1987).

    Bias correction ``z0 = Φ⁻¹(P*(θ* < θ̂))``; acceleration from the delete-one-question
    jackknife over all questions, ``a = Σd³ / (6 (Σd²)^1.5)``, ``d = mean(θ_(i)) − θ_(i)``.
    """
    valid = ~np.isnan(reps)
    with np.errstate(invalid="ignore", divide="ignore"):
        z0 = norm.ppf((reps < est).sum(axis=0) / valid.sum(axis=0))
        d = np.nanmean(jack, axis=0) - jack
        a = np.nansum(d**3, axis=0) / (6 * np.nansum(d**2, axis=0) ** 1.5)
        a = np.nan_to_num(a)  # a constant jackknife means no skew to correct
        out = []
        for z in (norm.ppf(alpha), norm.ppf(1 - alpha)):
            out.append(norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
    return out[0], out[1]


def intervals(result: BootstrapResult, *, level: float = 0.95,
              method: str = "percentile") -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds, each (n_models, n_metrics), at confidence ``level``.

    ``percentile``: the (1−level)/2 and (1+level)/2 quantiles of the replicates.
    ``bca``: bias-corrected and accelerated (Efron 1987), acceleration from the delete-one
    jackknife over all questions (for a single category this is scipy's ``method='BCa'``);
    a constant cell gets its constant, a cell whose replicates otherwise all lie on one side
    of the estimate (z0 infinite) gets NaN bounds.
    """
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    with warnings.catch_warnings():  # all-NaN cells (empty categories) are expected: NaN bounds
        warnings.simplefilter("ignore", RuntimeWarning)
        return _intervals(result, (1 - level) / 2, method)


def _intervals(result: BootstrapResult, alpha: float,
               method: str) -> tuple[np.ndarray, np.ndarray]:
    reps = result.replicates
    if method == "percentile":
        lower, upper = np.nanquantile(reps, [alpha, 1 - alpha], axis=0)
        return lower, upper
    if method != "bca":
        raise ValueError(f"unknown method {method!r}; use 'percentile' or 'bca'")
    lo_q, hi_q = _bca_levels(reps, result.estimates, result.jackknife, alpha)
    lower = np.full(result.estimates.shape, np.nan)
    upper = lower.copy()
    for m, k in np.ndindex(lower.shape):
        col = reps[:, m, k]
        col = col[~np.isnan(col)]
        if col.size and np.ptp(col) == 0:
            lower[m, k] = upper[m, k] = col[0]
        elif col.size and np.isfinite(lo_q[m, k]) and np.isfinite(hi_q[m, k]):
            lower[m, k], upper[m, k] = np.quantile(col, [lo_q[m, k], hi_q[m, k]])
    return lower, upper


def bootstrap_leaderboard(data: pd.DataFrame | BootstrapResult, *, n_boot: int = 10_000,
                          seed: int = 0, level: float = 0.95,
                          method: str = "percentile") -> pd.DataFrame:
    """Leaderboard with confidence intervals, long format.

    Columns ``model, metric, estimate, lower, upper, n_ok, n_failed``; one row per model and
    metric (8 categories, 中文推理, 中文语言, 总分). ``estimate`` is the plain leaderboard value
    on the full data. Passing a :class:`BootstrapResult` reuses its replicates.
    """
    result = as_result(data, n_boot=n_boot, seed=seed)
    lower, upper = intervals(result, level=level, method=method)
    n_models, n_metrics = result.estimates.shape
    return pd.DataFrame({
        "model": np.repeat(result.models, n_metrics),
        "metric": np.tile(result.metrics, n_models),
        "estimate": result.estimates.ravel(),
        "lower": lower.ravel(),
        "upper": upper.ravel(),
        "n_ok": result.n_ok.ravel(),
        "n_failed": result.n_failed.ravel(),
    })
