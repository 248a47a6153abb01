"""Synthetic judgments frames with known truth, for tests, coverage checks and benchmarks.

Why in the package: the benchmark script and the tests need the same generator, and a
reader can reproduce a coverage figure from one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..taxonomy import CATEGORIES, OVERALL_COL
from .bootstrap import bootstrap_replicates, intervals
from .matrix import METRICS

__all__ = ["interval_coverage", "synthetic_frame"]


def synthetic_frame(model_means: Sequence[float], sizes: Mapping[str, int], *, sd: float = 1.5,
                    question_sd: float = 1.0, fail_rate: float = 0.0,
                    seed: int = 0) -> pd.DataFrame:
    """Judgments frame: score = model mean + question effect + noise, failures at random.

    ``sizes`` maps category → number of questions; ``question_sd`` is the spread of question
    difficulty shared by all models (what makes paired comparisons sharper). Failed rows get
    ``status='parse_failed'`` and NaN score. The true value of every category is the model
    mean, so every leaderboard metric's truth is the model mean too.

    >>> f = synthetic_frame([6.0, 7.0], {"数学计算": 3, "逻辑推理": 2}, fail_rate=0.0)
    >>> len(f), sorted(f["model"].unique()), f["status"].eq("ok").all()
    (10, ['m0', 'm1'], np.True_)
    """
    unknown = set(sizes) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}")
    rng = np.random.default_rng(seed)
    category = np.repeat(list(sizes), list(sizes.values()))
    n_q, n_m = category.size, len(model_means)
    difficulty = rng.normal(0.0, question_sd, n_q)
    score = (np.asarray(model_means, float)[:, None] + difficulty[None]
             + rng.normal(0.0, sd, (n_m, n_q)))
    failed = rng.random((n_m, n_q)) < fail_rate
    return pd.DataFrame({
        "model": np.repeat([f"m{i}" for i in range(n_m)], n_q),
        "question_id": np.tile(np.arange(n_q), n_m),
        "category": np.tile(category, n_m),
        "status": np.where(failed, "parse_failed", "ok").ravel(),
        "score": np.where(failed, np.nan, score).ravel(),
    })


def interval_coverage(n_sets: int, *, method: str = "percentile", level: float = 0.95,
                      n_boot: int = 1000, per_category: int = 100, seed: int = 0) -> float:
    """Share of ``n_sets`` simulated datasets whose 总分 interval holds the truth (6.0).

    One model, ``per_category`` questions in each of the 8 categories, normal scores
    (question sd 1.0, noise sd 1.5): a setting where the percentile bootstrap is accurate.
    Dataset ``s`` uses data seed ``seed + s`` and bootstrap seed ``s``.
    """
    sizes = {c: per_category for c in CATEGORIES}
    k = METRICS.index(OVERALL_COL)
    hits = 0
    for s in range(n_sets):
        frame = synthetic_frame([6.0], sizes, sd=1.5, question_sd=1.0, seed=seed + s)
        lower, upper = intervals(bootstrap_replicates(frame, n_boot=n_boot, seed=s),
                                 level=level, method=method)
        hits += bool(lower[0, k] <= 6.0 <= upper[0, k])
    return hits / n_sets
