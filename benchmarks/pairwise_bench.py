"""Speed of the pairwise statistics and their recovery of a known truth.

Synthetic comparisons (``stats.synthetic_comparisons``): 20 models (m0 the baseline) × the 683
v1.1 questions (real category sizes) × 2 orders, position bias 0.3, 2% format errors. Prints:

- time of Bradley-Terry + 1,000 stratified bootstrap resamples (baseline design and all 190
  pairs), of the win-rate table and of the length-control GLM, and a naive loop (pandas
  resample + statsmodels fit per resample) for comparison;
- recovery: estimated vs true ratings on one data set, and coverage of the 95% interval over
  many smaller data sets;
- length control: raw vs length-controlled vs true win rate with a planted length effect.

Run: ``.venv/bin/python benchmarks/pairwise_bench.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from bench_common import best_of, v11_category_sizes
from scipy.stats import kendalltau
from tqdm import tqdm

from alignbench_utils.analysis.stats import (
    bradley_terry_replicates,
    combine_orders,
    expected_game_scores,
    length_controlled_win_rates,
    synthetic_comparisons,
    win_rates,
)
from alignbench_utils.taxonomy import CATEGORIES

N_BOOT, N_NAIVE, N_COVERAGE = 1000, 20, 400
STRENGTHS = np.linspace(-0.8, 1.2, 20) - np.linspace(-0.8, 1.2, 20)[5]  # m0 mid-table
LENGTHS = 400 * np.exp(np.random.default_rng(1).normal(0, 0.4, 20))


def target_ratings(strengths, **judge) -> np.ndarray:
    """True Bradley-Terry ratings of the star design: log-odds of the expected game score."""
    truth = expected_game_scores(strengths, **judge)[:, 0]
    return 1000 + 400 * np.log10(truth / (1 - truth))


def naive_bootstrap(frame: pd.DataFrame, n_boot: int, seed: int) -> None:
    """What a first attempt looks like: resample questions with pandas, refit with statsmodels."""
    rng = np.random.default_rng(seed)
    games = combine_orders(frame)
    games = games[games["used"]]
    models = sorted(set(games["model_a"]) | set(games["model_b"]) - {"m0"})
    by_cat = [games.loc[games["category"] == c, "question_id"].unique() for c in CATEGORIES]
    for _ in range(n_boot):
        picks = np.concatenate([rng.choice(q, q.size) for q in by_cat if q.size])
        sample = pd.DataFrame({"question_id": picks}).merge(games, on="question_id")
        x = (sample["model_a"].to_numpy()[:, None] == np.array(models)).astype(float)
        x -= sample["model_b"].to_numpy()[:, None] == np.array(models)
        sm.GLM((sample["win"] + sample["tie"] / 2).to_numpy(), x,
               family=sm.families.Binomial()).fit()


def speed(sizes: dict[str, int]) -> None:
    frame = synthetic_comparisons(STRENGTHS, sizes, mean_lengths=LENGTHS, position_bias=0.3,
                                  length_effect=0.8, fail_rate=0.02, seed=0)
    n_q = sum(sizes.values())
    print(f"baseline design: {frame['model_a'].nunique() + 1} models x {n_q} questions x 2 "
          f"orders = {len(frame)} judged orders, {(frame['status'] != 'ok').mean():.1%} "
          "format errors")
    t = best_of(3, lambda: bradley_terry_replicates(frame, baseline="m0", n_boot=N_BOOT, seed=0))
    print(f"  Bradley-Terry + bootstrap, n_boot={N_BOOT}: {t:.2f} s (best of 3, incl. "
          "combining orders)")
    t_win = best_of(3, lambda: win_rates(frame, baseline="m0", n_boot=N_BOOT, seed=0))
    print(f"  win rates per category + bootstrap, n_boot={N_BOOT}: {t_win:.2f} s (best of 3)")
    t_lc = best_of(3, lambda: length_controlled_win_rates(frame, baseline="m0"))
    print(f"  length-control GLM (statsmodels, cluster-robust): {t_lc:.2f} s (best of 3)")
    slow = best_of(1, lambda: naive_bootstrap(frame, N_NAIVE, seed=0))
    projected = slow * N_BOOT / N_NAIVE
    print(f"  naive loop (pandas resample + statsmodels GLM) n_boot={N_NAIVE}: {slow:.2f} s -> "
          f"{projected:.0f} s projected for {N_BOOT}; speedup x{projected / t:.0f}")
    every = synthetic_comparisons(STRENGTHS, sizes, design="all", position_bias=0.3,
                                  fail_rate=0.02, seed=0)
    t_all = best_of(1, lambda: bradley_terry_replicates(every, baseline="m0", n_boot=N_BOOT))
    print(f"all-pairs design: 190 pairs x {n_q} questions x 2 orders = {len(every)} judged "
          f"orders; Bradley-Terry + bootstrap n_boot={N_BOOT}: {t_all:.2f} s")


def recovery(sizes: dict[str, int]) -> None:
    judge = {"position_bias": 0.3}
    frame = synthetic_comparisons(STRENGTHS, sizes, seed=1, **judge)
    result = bradley_terry_replicates(frame, baseline="m0", n_boot=N_BOOT, seed=1)
    target = target_ratings(STRENGTHS, **judge)[[int(m[1:]) for m in result.models]]
    lower, upper = np.nanquantile(result.replicates, [0.025, 0.975], axis=0)
    error = result.ratings - target
    print(f"recovery (20 models x 683 questions, no length effect): rating - truth: mean abs "
          f"{np.abs(error).mean():.1f}, max abs {np.abs(error).max():.1f} Elo points; mean 95% "
          f"CI width {np.mean(upper - lower):.1f}; truth inside CI for "
          f"{np.mean((lower <= target + 1e-9) & (target - 1e-9 <= upper)):.0%} of models; "
          f"Kendall tau(estimated, true) = {kendalltau(result.ratings, target).statistic:.3f}")
    small = {c: 40 for c in CATEGORIES}
    strengths = [0.0, 0.8, -0.6, 0.35, 1.4, -0.3]
    target = target_ratings(strengths, **judge)
    hits = []
    for s in tqdm(range(N_COVERAGE), desc="coverage", leave=False):
        data = synthetic_comparisons(strengths, small, seed=10_000 + s, **judge)
        rep = bradley_terry_replicates(data, baseline="m0", n_boot=500, seed=s)
        t = target[[int(m[1:]) for m in rep.models]]
        lo, hi = np.nanquantile(rep.replicates, [0.025, 0.975], axis=0)
        hits.append(((lo <= t + 1e-9) & (t - 1e-9 <= hi))[np.array(rep.models) != "m0"])
    hits = np.array(hits)
    print(f"coverage of the 95% rating interval over {N_COVERAGE} data sets (6 models x 320 "
          f"questions, n_boot=500): {hits.mean():.3f} (per model "
          f"{', '.join(f'{h:.2f}' for h in hits.mean(axis=0))})")


def length_control(sizes: dict[str, int]) -> None:
    judge = {"position_bias": 0.3}
    truth = expected_game_scores(STRENGTHS, **judge)[:, 0]
    for effect in (0.0, 1.0):
        frame = synthetic_comparisons(STRENGTHS, sizes, mean_lengths=LENGTHS,
                                      length_effect=effect, seed=2, **judge)
        result = length_controlled_win_rates(frame, baseline="m0")
        table = result.table[~result.table["is_baseline"]]
        true = truth[[int(m[1:]) for m in table["model"]]]
        raw_err = np.abs(table["win_rate"] - true)
        lc_err = np.abs(table["lc_win_rate"] - true)
        inside = (table["lc_lower"] <= true) & (true <= table["lc_upper"])
        print(f"length effect {effect} (logit per tanh unit): fitted coefficient "
              f"{result.length_coef:.2f} [{result.length_lower:.2f}, {result.length_upper:.2f}]; "
              f"|raw - true win rate| mean {raw_err.mean():.3f} max {raw_err.max():.3f}; "
              f"|LC - true| mean {lc_err.mean():.3f} max {lc_err.max():.3f}; truth inside LC "
              f"95% CI for {inside.mean():.0%} of models")
        if effect:
            longest = table.loc[table["mean_length"].idxmax()]
            shortest = table.loc[table["mean_length"].idxmin()]
            for row in (longest, shortest):
                print(f"  {row['model']} (mean {row['mean_length']:.0f} chars vs baseline "
                      f"{result.table.loc[result.table['is_baseline'], 'mean_length'].iloc[0]:.0f}"
                      f"): raw {row['win_rate']:.3f}, LC {row['lc_win_rate']:.3f}, true "
                      f"{truth[int(row['model'][1:])]:.3f}")


def main() -> None:
    sizes = v11_category_sizes()
    speed(sizes)
    recovery(sizes)
    length_control(sizes)


if __name__ == "__main__":
    main()
