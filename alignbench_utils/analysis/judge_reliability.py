"""The judges of a run, judged: reliability, bias, cost and speed, power and replacement
(notebook ``09_judges``).

Why one module: the judges notebook calls one function per cell, and each function here
reads the run folder through :class:`~.layout.RunLayout` and the frames of
:func:`~.aggregate.run_judgments_frame` (samples kept for reliability, combined for the rest),
then calls the statistics of :mod:`.stats.reliability`, :mod:`.stats.judge_bias`,
:mod:`.stats.power` and :mod:`.stats.calibration`. Every number comes from the records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alignbench_utils.analysis.aggregate import run_judgments_frame
from alignbench_utils.analysis.cross_judge import judge_order
from alignbench_utils.analysis.panels import combine_run, read_judging
from alignbench_utils.analysis.plots import save_figure
from alignbench_utils.analysis.stats.calibration import calibrate_judge, calibration_errors
from alignbench_utils.analysis.stats.judge_bias import (
    example_copy_rate,
    length_bias,
    position_bias,
    self_preference,
)
from alignbench_utils.analysis.stats.power import power_table, questions_needed
from alignbench_utils.analysis.stats.reliability import (
    judge_alpha,
    rank_stability,
    sample_alphas,
    variance_components,
)
from alignbench_utils.data.layout import RunLayout

__all__ = [
    "bias_table",
    "calibration_report",
    "judges_leaderboard",
    "power_report",
    "rank_stability_table",
    "reliability_table",
    "variance_table",
]


def reliability_table(run_dir: str | Path, *, n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95) -> pd.DataFrame:
    """Krippendorff's alpha across each judge's samples and across each panel's judges, with
    bootstrap CIs; written to ``results/judge_reliability.csv``. One row per judge and panel:
    ``judge, kind, samples, n_items, alpha_samples`` (+ bounds), ``alpha_judges`` (+ bounds,
    panels only), ``level``.
    """
    layout = RunLayout(run_dir)
    samples = run_judgments_frame(run_dir, combine=False)
    items = combine_run(samples, layout)
    samples = samples[samples["judge"].ne("")]
    table = sample_alphas(samples, n_boot=n_boot, seed=seed, level=level).assign(kind="judge")
    rows = []
    for panel in read_judging(layout)[1]:
        est, lo, hi = judge_alpha(items, panel.judges, n_boot=n_boot, seed=seed, level=level)
        rows.append({"judge": panel.name, "kind": "panel", "samples": 1,
                     "n_items": int(items["judge"].eq(panel.name).sum()),
                     "alpha_judges": est, "alpha_judges_lower": lo, "alpha_judges_upper": hi,
                     "level": level})
    table = pd.concat([table, pd.DataFrame(rows)], ignore_index=True) if rows else table
    for column in ("alpha_judges", "alpha_judges_lower", "alpha_judges_upper"):
        if column not in table:
            table[column] = np.nan
    table = table[["judge", "kind", "samples", "n_items", "alpha_samples", "alpha_samples_lower",
                   "alpha_samples_upper", "alpha_judges", "alpha_judges_lower",
                   "alpha_judges_upper", "level"]]
    layout.results_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(layout.table("judge_reliability"), index=False, encoding="utf-8")
    return table


def variance_table(run_dir: str | Path) -> pd.DataFrame:
    """The variance of the judges' ok scores by source (question, model, judge,
    model × question, sample): :func:`~.stats.reliability.variance_components`."""
    samples = run_judgments_frame(run_dir, combine=False)
    return variance_components(samples[samples["judge"].ne("")])


def rank_stability_table(run_dir: str | Path, *, n_draws: int = 500,
                         seed: int = 0) -> pd.DataFrame:
    """Per judge with repeated samples: the probability that each model's rank changes
    between two samplings of k samples per item, and ``samples_needed`` (the first k whose
    every model stays put with probability ≥ 95%; NaN: more samples than the run has)."""
    samples = run_judgments_frame(run_dir, combine=False)
    tables = []
    for judge, part in samples[samples["judge"].ne("")].groupby("judge", sort=True):
        if part["sample"].max() < 1:
            continue
        table = rank_stability(part, n_draws=n_draws, seed=seed)
        stable = table.loc[table["stable"], "samples_per_item"]
        tables.append(table.assign(judge=judge,
                                   samples_needed=stable.min() if len(stable) else np.nan))
    columns = ["judge", "model", "samples_per_item", "p_rank_change", "stable", "samples_needed"]
    return pd.concat(tables, ignore_index=True)[columns] if tables \
        else pd.DataFrame(columns=columns)


def bias_table(run_dir: str | Path, *, families: Mapping[str, str | None] | None = None,
               n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """One row per judge and panel: length slope per 100 characters (question and model
    held fixed), self-preference (when ``families`` names the judge's and other judges'
    families), the rate of copying the prompt's example scores, and for judges with
    pairwise comparisons in the run their position bias and order consistency."""
    items = run_judgments_frame(run_dir)
    return _bias_table(items[items["judge"].ne("")], run_dir, families=families, n_boot=n_boot,
                       seed=seed, level=level)


def _bias_table(items: pd.DataFrame, run_dir: str | Path, *,
                families: Mapping[str, str | None] | None, n_boot: int, seed: int,
                level: float) -> pd.DataFrame:
    """:func:`bias_table` of the run's combined judgments frame ``items`` (judges only)."""
    from alignbench_utils.stages.compare import comparisons_from_records

    table = pd.DataFrame({"judge": judge_order(items)})
    table = table.merge(length_bias(items, level=level).drop(columns="n"), how="left")
    table = table.merge(self_preference(items, dict(families or {}), n_boot=n_boot, seed=seed,
                                        level=level).drop(columns=["n_own", "n_other"]),
                        how="left")
    table = table.merge(example_copy_rate(items).drop(columns="n"), how="left")
    comparisons_dir = RunLayout(run_dir).comparisons_dir
    pairwise = [comparisons_from_records(comparisons_dir, judge=judge)
                for judge in sorted(p.name for p in comparisons_dir.glob("*") if p.is_dir())]
    pairwise = [p for p in pairwise if not p.empty]
    if pairwise:
        positions = position_bias(pd.concat(pairwise, ignore_index=True), level=level)
        table = table.merge(positions.drop(columns="n_decisive"), how="outer")
    return table


def _usage(samples: pd.DataFrame) -> pd.DataFrame:
    """Per judge: judgments recorded, parse-failure rate, price per 1,000 judgments and
    seconds per judgment, from the records (rows of failed answers are not judgments)."""
    judged = samples[samples["judge"].ne("") & samples["request_hash"].notna()] \
        if "request_hash" in samples else samples.iloc[0:0]
    rows = []
    for judge, part in judged.groupby("judge", sort=True):
        cost, latency = (pd.to_numeric(part[c], errors="coerce") if c in part
                         else pd.Series(np.nan, index=part.index)
                         for c in ("cost_usd", "latency_s"))
        rows.append({"judge": judge, "n_judgments": len(part),
                     "parse_failure_rate": float(part["status"].eq("parse_failed").mean()),
                     "usd_per_1000": float(cost.sum() / len(part) * 1000) if cost.notna().any()
                     else np.nan,
                     "seconds_per_judgment": float(latency.mean())})
    return pd.DataFrame(rows, columns=["judge", "n_judgments", "parse_failure_rate",
                                       "usd_per_1000", "seconds_per_judgment"])


def _agreement(items: pd.DataFrame, judge: str, reference: pd.DataFrame) -> float:
    """Spearman correlation of ``judge``'s item scores with ``reference`` scores
    (``model, question_id, score``) on the items both have."""
    mine = items[items["judge"].eq(judge) & items["status"].eq("ok")]
    both = mine.merge(reference, on=["model", "question_id"], suffixes=("", "_ref"))
    if len(both) < 3:
        return float("nan")
    return float(both["score"].astype(float).corr(both["score_ref"].astype(float),
                                                    method="spearman"))


def judges_leaderboard(run_dir: str | Path, *, human_labels: str = "",
                       families: Mapping[str, str | None] | None = None, n_boot: int = 1000,
                       seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """The evaluators leaderboard: one row per judge and panel with its agreement (Spearman,
    over items) with the human scores in ``human_labels`` when given, else with the run's
    first panel (for a judge not in any panel: with the mean of the other judges), alpha
    across samples, parse-failure rate, each bias, price per 1,000 judgments and seconds per
    judgment. Sorted by agreement."""
    from alignbench_utils.data.human_labels import read_human_labels

    layout = RunLayout(run_dir)
    samples = run_judgments_frame(run_dir, combine=False)
    items = combine_run(samples, layout)
    items = items[items["judge"].ne("")]
    panels = read_judging(layout)[1]
    judges = judge_order(items)
    table = pd.DataFrame({"judge": judges,
                          "kind": ["panel" if j in {p.name for p in panels} else "judge"
                                   for j in judges]})
    ok = items[items["status"].eq("ok")]
    agreement, against = [], []
    if human_labels:
        labels = read_human_labels(human_labels)
        if labels.kind != "scores":
            raise ValueError(f"{human_labels}: the judges leaderboard needs human scores, "
                             f"not {labels.kind} labels")
        from alignbench_utils.analysis.stats.agreement import human_scores_long

        human = human_scores_long(labels.table).rename(columns={"human_score": "score"})
    for judge in judges:
        if human_labels:
            reference, name = human[["model", "question_id", "score"]], "human"
        else:
            panel = next((p for p in panels if judge in p.judges), panels[0] if panels else None)
            if panel is not None and panel.name != judge:
                reference = ok[ok["judge"].eq(panel.name)][["model", "question_id", "score"]]
                name = f"panel {panel.name}"
            else:
                others = ok[~ok["judge"].isin([judge, *(p.name for p in panels)])]
                reference = others.groupby(["model", "question_id"], as_index=False)["score"] \
                    .mean()
                name = "other judges"
        agreement.append(_agreement(items, judge, reference))
        against.append(name)
    table["agreement"], table["agreement_with"] = agreement, against
    reliability = sample_alphas(samples[samples["judge"].ne("")], n_boot=n_boot, seed=seed,
                                level=level)
    table = (table.merge(reliability[["judge", "samples", "alpha_samples"]], how="left")
             .merge(_usage(samples), how="left")
             .merge(_bias_table(items, run_dir, families=families, n_boot=n_boot, seed=seed,
                                level=level), how="left"))
    return table.sort_values("agreement", ascending=False, kind="stable").reset_index(drop=True)


def power_report(run_dir: str | Path, judge: str = "", *,
                 differences: Sequence[float] = (0.1, 0.2, 0.3, 0.5, 1.0), alpha: float = 0.05,
                 power: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``judge``'s power table (per model pair: the smallest detectable 总分 difference at
    ``power`` and level ``alpha``) and the questions needed per difference; draws both in
    the ``judge_power`` figure (png + svg). An empty ``judge``: the first judge by name."""
    items = run_judgments_frame(run_dir)
    judge = judge or judge_order(items[items["judge"].ne("")])[0]
    items = items[items["judge"].eq(judge)]
    table = power_table(items, alpha=alpha, power=power)
    needed = questions_needed(table, differences)
    layout = RunLayout(run_dir)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    n = float(np.median(table["n_questions"]))
    counts = np.linspace(max(n / 10, 8), n * 4, 60)
    left.plot(counts, float(np.median(table["mde"])) * np.sqrt(n / counts))
    left.axvline(n, ls="--", c="grey", label=f"this run ({n:.0f} questions)")
    left.set(xlabel="questions", ylabel="smallest detectable Δ 总分",
             title=f"{judge}: {power:.0%} power, {alpha:.0%} level")
    left.legend()
    right.plot(needed["difference"], needed["questions_needed"], marker="o")
    right.set(xlabel="Δ 总分 to detect", ylabel="questions needed", yscale="log")
    save_figure(fig, layout.figures_dir, "judge_power")
    plt.close(fig)
    return table, needed


def calibration_report(run_dir: str | Path, source: str, target: str, *,
                       method: str = "linear", test_size: float = 0.3,
                       seed: int = 0) -> pd.DataFrame:
    """``source``'s scores calibrated onto ``target``'s (per category, fitted on a split of
    the questions): the held-out errors before and after, and the ``judge_calibration``
    figure (held-out items, raw and calibrated against the target). An empty ``source`` or
    ``target`` (a run with one judge) gives an empty table and no figure."""
    if not source or not target:
        return pd.DataFrame(columns=["category", "n", "mae_raw", "mae_calibrated", "rmse_raw",
                                     "rmse_calibrated"])
    held = calibrate_judge(run_judgments_frame(run_dir), source, target, method=method,
                           test_size=test_size, seed=seed)
    layout = RunLayout(run_dir)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.scatter(held["target"], held["raw"], s=12, alpha=0.5, label=f"{source} raw")
    ax.scatter(held["target"], held["calibrated"], s=12, alpha=0.5, label=f"{method} calibrated")
    ax.plot([1, 10], [1, 10], c="grey", ls="--")
    ax.set(xlabel=f"{target} score", ylabel=f"{source} score (held-out questions)")
    ax.legend()
    save_figure(fig, layout.figures_dir, "judge_calibration")
    plt.close(fig)
    return calibration_errors(held)
