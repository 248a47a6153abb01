"""Judge reliability statistics at full benchmark size: speed, and recovery of planted effects.

Synthetic samples (``stats.synthetic_judge_samples``): 5 models × 680 questions (85 per
category, about v1.1's 683) × 2 judges × 3 samples = 20,400 judgments, with a planted length
slope (+0.2 per 100 characters) and self-preference (+1.0) for one judge.
Prints figures only; run: ``.venv/bin/python benchmarks/reliability_bench.py``.
"""

from __future__ import annotations

import time

from alignbench_utils.analysis.panels import reduce_samples
from alignbench_utils.analysis.stats.bootstrap import bootstrap_leaderboard
from alignbench_utils.analysis.stats.judge_bias import length_bias, self_preference
from alignbench_utils.analysis.stats.power import power_table
from alignbench_utils.analysis.stats.reliability import (
    rank_stability,
    sample_alphas,
    variance_components,
)
from alignbench_utils.analysis.stats.synthetic import synthetic_judge_samples

N_BOOT = 1000
MODELS = {"q-small": 3.5, "q-large": 4.5, "l-small": 3.8, "l-large": 4.3, "other": 4.0}
FAMILIES = {"q-small": "qwen", "q-large": "qwen", "l-small": "llama", "l-large": "llama",
            "judge-q": "qwen", "judge-l": "llama"}


def main() -> None:
    start = time.perf_counter()
    frame = synthetic_judge_samples(MODELS, {"judge-q": 0.3, "judge-l": 0.0}, per_category=85,
                                    samples=3, length_slope={"judge-q": 0.2},
                                    self_bonus={"judge-q": 1.0}, families=FAMILIES, seed=0)
    print(f"synthetic samples: {len(frame)} judgments in {time.perf_counter() - start:.1f} s")
    one = frame[frame["judge"].eq("judge-q")]
    items = reduce_samples(frame)
    alpha_name = f"alpha across samples, 2 judges, {N_BOOT} bootstrap resamples"
    self_name = f"self-preference, {N_BOOT} resamples"
    steps = {
        alpha_name: lambda: sample_alphas(frame, n_boot=N_BOOT),
        "variance components (MixedLM)": lambda: variance_components(frame),
        "rank stability, 500 draws, k = 1..3": lambda: rank_stability(one, n_draws=500),
        "reduce samples to items": lambda: reduce_samples(frame),
        "length bias (two-way fixed effects)": lambda: length_bias(items),
        self_name: lambda: self_preference(items, FAMILIES, n_boot=N_BOOT),
    }
    results = {}
    for name, fn in steps.items():
        started = time.perf_counter()
        results[name] = fn()
        print(f"{name}: {time.perf_counter() - started:.2f} s")
    q_items = items[items["judge"].eq("judge-q")]
    for label, data in (("questions and samples", q_items),
                        ("questions only", q_items.drop(columns="sample_scores"))):
        started = time.perf_counter()
        board = bootstrap_leaderboard(data, n_boot=2000)
        seconds = time.perf_counter() - started
        total = board[board["metric"].eq("总分")]
        width = float((total["upper"] - total["lower"]).mean())
        print(f"bootstrap 2000 resamples ({label}): {seconds:.2f} s, mean 95% CI width of "
              f"总分 {width:.3f}")
    print(results[alpha_name].to_string(index=False))
    print(results["variance components (MixedLM)"].to_string(index=False))
    print("length slope per 100 chars (planted: judge-q 0.2, judge-l 0):")
    print(results["length bias (two-way fixed effects)"].to_string(index=False))
    print("self-preference (planted: judge-q 1.0):")
    print(results[self_name].to_string(index=False))
    table = power_table(q_items)
    print("power (judge-q): median minimum detectable 总分 difference "
          f"{table['mde'].median():.3f} over {int(table['n_questions'].median())} questions")
    stability = results["rank stability, 500 draws, k = 1..3"]
    print(stability.groupby("samples_per_item")["p_rank_change"].max()
          .rename("max P(rank changes)").to_string())


if __name__ == "__main__":
    main()
