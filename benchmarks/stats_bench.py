"""Speed of the vectorised leaderboard bootstrap vs a naive pandas loop, and CI coverage.

Synthetic frame: 20 models × the 683 v1.1 questions (real category sizes), ~2% failures.
Prints figures only; run: ``.venv/bin/python benchmarks/stats_bench.py``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from bench_common import best_of, v11_category_sizes

from alignbench_utils.analysis.aggregate import summarize_category_means
from alignbench_utils.analysis.stats import (
    bootstrap_leaderboard,
    interval_coverage,
    synthetic_frame,
)
from alignbench_utils.taxonomy import CATEGORIES

N_BOOT, N_NAIVE, N_COVERAGE = 10_000, 200, 400


def naive_bootstrap(frame: pd.DataFrame, n_boot: int, seed: int) -> list[pd.DataFrame]:
    """One pandas groupby per resample: what a first attempt looks like."""
    rng = np.random.default_rng(seed)
    ok = frame[frame["status"] == "ok"]
    by_cat = [frame.loc[frame["category"] == c, "question_id"].unique() for c in CATEGORIES]
    out = []
    for _ in range(n_boot):
        picks = np.concatenate([rng.choice(q, q.size) for q in by_cat])
        sample = pd.DataFrame({"question_id": picks}).merge(ok, on="question_id")
        means = sample.groupby(["model", "category"])["score"].mean().unstack()
        out.append(summarize_category_means(means[list(CATEGORIES)]))
    return out


def main() -> None:
    sizes = v11_category_sizes()
    means = np.linspace(5.0, 7.5, 20)
    frame = synthetic_frame(means, sizes, sd=1.5, fail_rate=0.02, seed=0)
    n_q = sum(sizes.values())
    print(f"frame: {frame['model'].nunique()} models x {n_q} questions, "
          f"{(frame['status'] != 'ok').mean():.1%} failed")
    fast = {}
    for method in ("percentile", "bca"):
        fast[method] = best_of(3, lambda m=method: bootstrap_leaderboard(
            frame, n_boot=N_BOOT, seed=0, method=m))
        print(f"bootstrap_leaderboard n_boot={N_BOOT} method={method}: "
              f"{fast[method]:.3f} s (best of 3)")
    slow = best_of(1, lambda: naive_bootstrap(frame, N_NAIVE, seed=0))
    projected = slow * N_BOOT / N_NAIVE
    print(f"naive pandas loop n_boot={N_NAIVE}: {slow:.2f} s -> {projected:.1f} s projected "
          f"for {N_BOOT}; speedup x{projected / fast['percentile']:.0f}")
    for method in ("percentile", "bca"):
        start = time.perf_counter()
        cov = interval_coverage(N_COVERAGE, method=method, seed=1000)
        print(f"coverage of 95% {method} interval for 总分 over {N_COVERAGE} simulated datasets "
              f"(100 q/category, n_boot=1000): {cov:.3f} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
