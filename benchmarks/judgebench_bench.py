"""Published judges through the judge meta-evaluation metrics: figures and speed.

Prints LLMBar's ChatGPT (Vanilla_NoRules) and PandaLM's gpt-3.5-turbo / PandaLM-7B figures as
reproduced from their published outputs, the study table of those judges (headline metric
with 95% CI, format errors, position bias), and the time of ``judge_metrics`` with
``n_boot=2000`` against a naive loop that recomputes each replicate with pandas.
Run: ``.venv/bin/python benchmarks/judgebench_bench.py``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from alignbench_utils.judgebench import (
    LLMBAR_PROCESSED,
    LLMBAR_SUBSETS,
    judge_metrics,
    load_llmbar,
    load_pandalm,
    published_llmbar_chatgpt,
    published_pandalm,
    study_table,
)

N_BOOT, N_NAIVE = 2000, 50


def naive_correct_average(verdicts: pd.DataFrame, items: pd.DataFrame, n_boot: int,
                          seed: int) -> list[float]:
    """Per replicate: resample items, merge, recompute LLMBar accuracy with pandas."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        picks = items.iloc[rng.integers(0, len(items), len(items))][["item_id", "label"]]
        merged = picks.merge(verdicts, on="item_id")
        out.append(float((merged["verdict"] == merged["label"]).mean()))
    return out


def main() -> None:
    items = pd.concat([load_llmbar(s) for s in LLMBAR_SUBSETS + LLMBAR_PROCESSED]
                      + [load_pandalm()], ignore_index=True)
    verdicts = pd.concat([published_llmbar_chatgpt(), published_pandalm()], ignore_index=True)
    start = time.perf_counter()
    long = judge_metrics(verdicts, items, n_boot=N_BOOT, seed=0)
    fast = time.perf_counter() - start
    shown = long[long["metric"].isin(["correct_average", "correct_both", "equal", "accuracy",
                                      "precision", "recall", "f1"])]
    print("Reproduced published figures (percent):")
    for row in shown.itertuples():
        print(f"  {row.judge:38s} {row.subset:22s} {row.metric:16s} {100 * row.estimate:8.4f}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(study_table(verdicts, items, n_boot=N_BOOT, seed=0).round(3).to_string())
    print(f"judge_metrics: {len(verdicts)} calls, {len(items)} items, n_boot={N_BOOT}: "
          f"{fast:.2f} s")
    natural = verdicts[verdicts["subset"].eq("Natural")]
    start = time.perf_counter()
    naive_correct_average(natural, load_llmbar("Natural"), N_NAIVE, seed=0)
    slow = (time.perf_counter() - start) * N_BOOT / N_NAIVE
    start = time.perf_counter()
    judge_metrics(natural, load_llmbar("Natural"), n_boot=N_BOOT, seed=0)
    quick = time.perf_counter() - start
    print(f"LLMBar Natural, n_boot={N_BOOT}: every metric vectorised {quick:.3f} s vs naive "
          f"pandas loop (one metric) {slow:.1f} s projected; speedup x{slow / quick:.0f}")


if __name__ == "__main__":
    main()
