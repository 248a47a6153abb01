"""Every judge of a run analysed alike: its tables and figures, with the judge in each file name.

Notebook 03 writes the official tables of all judges (:func:`official_tables`); notebook 04
calls :func:`analyse_judges` (bootstrap CIs, paired comparisons, per-category tests, tiers,
mixed model, the paper tables and figures per judge) and :func:`compare_judges` (the
cross-judge section). A judge is the frame's ``judge`` value, an opaque identity; files are
``<name>__<judge>`` (``RunLayout.judge_table`` / ``judge_figure_name``), so a second judge
never overwrites the first. Models keep the primary judge's 总分 order everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from alignbench_utils.analysis import plots, stats
from alignbench_utils.analysis.aggregate import dimension_means, failure_table, leaderboard
from alignbench_utils.analysis.cross_judge import (
    judge_pairs,
    leaderboards_side_by_side,
    ranking_agreement_table,
    score_confusion,
)
from alignbench_utils.config import FIGURE_FORMATS
from alignbench_utils.data.layout import RunLayout, file_safe
from alignbench_utils.report.tables import english_columns, leaderboard_table, write_table

__all__ = [
    "CrossJudge",
    "JudgeAnalysis",
    "analyse_judges",
    "compare_judges",
    "judges_manifest",
    "official_tables",
    "run_model_order",
]


@dataclass
class JudgeAnalysis:
    """One judge's statistics, paper tables and figures (figures already saved)."""

    judge: str
    leaderboard: pd.DataFrame  # official columns
    ci: pd.DataFrame  # stats.bootstrap_leaderboard
    paper: pd.DataFrame  # tables.leaderboard_table
    comparisons: pd.DataFrame
    category_tests: pd.DataFrame
    tiers: pd.DataFrame
    mixed: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def official_tables(frame: pd.DataFrame, judges: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The official leaderboard, its legacy variant and the dimension means of every judge
    (``judge`` column first, judges in ``judges`` order), and the failure counts: what
    ``aggregate.export_results`` writes to ``results/``."""
    def stacked(table_of) -> pd.DataFrame:
        return pd.concat([table_of(frame, judge=j).assign(judge=j) for j in judges],
                         ignore_index=True).pipe(lambda t: t[["judge", *t.columns[:-1]]])
    return {
        "leaderboard": stacked(leaderboard),
        "leaderboard_legacy": stacked(lambda f, judge: leaderboard(f, judge=judge, legacy=True)),
        "dimensions": stacked(dimension_means),
        "failures": failure_table(frame),
    }


def run_model_order(run_dir: str | Path, judge: str = "") -> list[str]:
    """The run's model order (``plots.model_order``): by 总分 of ``judge`` (empty: the first
    judge by name); empty when the run has no judgments yet."""
    from alignbench_utils.analysis.aggregate import run_judgments_frame
    from alignbench_utils.analysis.cross_judge import judge_order

    layout = RunLayout(run_dir)
    if not layout.judgments_dir.is_dir() or not any(layout.judgments_dir.rglob("*.jsonl")):
        return []
    frame = run_judgments_frame(run_dir)
    return plots.model_order(leaderboard(frame, judge=judge_order(frame, judge)[0]))


def judges_manifest(layout: RunLayout, judges: Sequence[str]) -> Path:
    """``results/judges.json``: the analysed judges in order (primary first) and the part
    of their file names, so the report finds every judge's files."""
    path = layout.table("judges", "json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"judge": j, "file": file_safe(j)} for j in judges],
                               ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _save(fig: Figure, layout: RunLayout, name: str, judge: str | None,
          formats: Sequence[str]) -> list[Path]:
    stem = name if judge is None else layout.judge_figure_name(name, judge)
    paths = plots.save_figure(fig, layout.figures_dir, stem, formats)
    plt.close(fig)
    return paths


def _analyse(frame: pd.DataFrame, judge: str, layout: RunLayout, *, n_boot: int, level: float,
             correction: str, seed: int, formats: Sequence[str], english: bool,
             decimals: int) -> JudgeAnalysis:
    own = frame[frame["judge"] == judge]
    boot = stats.bootstrap_replicates(own, n_boot=n_boot, seed=seed)
    tiers = stats.rank_tiers(boot, level=level)
    ci = stats.bootstrap_leaderboard(boot, level=level)
    result = JudgeAnalysis(
        judge=judge, leaderboard=leaderboard(own), ci=ci,
        paper=leaderboard_table(ci, tiers, decimals=decimals, english=english),
        comparisons=stats.compare_models(boot, level=level, correction=correction),
        category_tests=stats.category_tests(own, correction=correction, alpha=1 - level),
        tiers=tiers, mixed=stats.mixed_effects(own, level=level))
    for name in ("comparisons", "category_tests", "tiers", "mixed"):
        path = layout.judge_table("mixed_effects" if name == "mixed" else name, judge)
        path.parent.mkdir(parents=True, exist_ok=True)
        getattr(result, name).to_csv(path, index=False)
        result.files.append(path)
    ci.to_csv(layout.judge_table("bootstrap_ci", judge), index=False)
    result.files.append(layout.judge_table("bootstrap_ci", judge))
    result.files += write_table(
        result.paper, layout.judge_table("leaderboard_ci", judge).with_suffix(""),
        caption=f"AlignBench leaderboard, judge {judge}: mean score [{level:.0%} bootstrap CI],"
                f" ranked by 总分; models in one tier are not separated at this level",
        decimals=decimals)
    paired = result.comparisons.drop(columns=["p_value"], errors="ignore")
    result.files += write_table(
        english_columns(paired) if english else paired,
        layout.judge_table("paired_comparisons", judge).with_suffix(""),
        caption=f"Paired differences (a − b), judge {judge}, {level:.0%} bootstrap CI, "
                f"p-values corrected ({correction})", decimals=decimals + 1)
    suffix = f" · {judge}"
    result.figures = {
        "leaderboard": plots.plot_leaderboard(ci, level=level, title=f"Leaderboard{suffix}"),
        "category_ci": plots.plot_category_ci(ci, level=level, title=f"Category means{suffix}"),
        "category_heatmap": plots.plot_category_heatmap(result.leaderboard,
                                                        title=f"Mean score per category{suffix}"),
        "radar": plots.plot_radar(result.leaderboard, title=f"Category scores{suffix}"),
        "score_distributions": plots.plot_score_distributions(
            own, title=f"Score distribution per category{suffix}"),
        "paired_forest": plots.plot_paired_forest(result.comparisons,
                                                  title=f"Paired model comparisons{suffix}"),
        "dimension_heatmap": plots.plot_dimension_heatmap(
            dimension_means(own), title=f"Mean score per judge dimension{suffix}"),
    }
    for name, fig in result.figures.items():
        result.files += _save(fig, layout, name, judge, formats)
    return result


def analyse_judges(frame: pd.DataFrame, judges: Sequence[str], run_dir: str | Path, *,
                   n_boot: int = 2000, level: float = 0.95, correction: str = "holm",
                   seed: int = 0, formats: Sequence[str] = FIGURE_FORMATS,
                   english: bool = False, decimals: int = 2) -> list[JudgeAnalysis]:
    """Analyse every judge of ``judges`` (the primary first) on the judgments ``frame`` and
    write its tables (``results/<table>__<judge>.csv``; the paper leaderboard and paired
    comparisons also ``.md`` and ``.tex``) and figures (``figures/<figure>__<judge>.*`` in
    ``formats``), and ``results/judges.json``."""
    layout = RunLayout(run_dir)
    judges_manifest(layout, judges)
    results = [_analyse(frame, judge, layout, n_boot=n_boot, level=level, correction=correction,
                        seed=seed, formats=formats, english=english, decimals=decimals)
               for judge in tqdm(judges, desc="judges", unit="judge")]
    return results


@dataclass
class CrossJudge:
    """The judges compared: leaderboards side by side, ranking agreement, score confusion."""

    side_by_side: pd.DataFrame
    agreement: pd.DataFrame  # cross_judge.ranking_agreement_table
    confusion: dict[tuple[str, str], pd.DataFrame]
    figures: dict[tuple[str, str], Figure]
    files: list[Path]


def compare_judges(frame: pd.DataFrame, analyses: Sequence[JudgeAnalysis], run_dir: str | Path,
                   *, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                   formats: Sequence[str] = FIGURE_FORMATS, decimals: int = 2) -> CrossJudge:
    """The cross-judge section: every judge's 总分 with CI and rank side by side (models in
    the primary judge's order), Kendall's tau between every two judges' rankings with a paired
    bootstrap CI, and each pair's score confusion matrix (figure per pair); written to
    ``results/judges_*`` and ``figures/judge_confusion__<a>__vs__<b>.*``."""
    layout = RunLayout(run_dir)
    judges = [a.judge for a in analyses]
    order = plots.model_order(analyses[0].leaderboard)
    side = leaderboards_side_by_side({a.judge: a.ci for a in analyses}, order, decimals=decimals)
    agreement = ranking_agreement_table(frame, judges, n_boot=n_boot, seed=seed, level=level)
    files = write_table(side, layout.table("judges_leaderboards", "csv").with_suffix(""),
                        caption=f"总分 [{level:.0%} bootstrap CI] and rank under each judge",
                        decimals=decimals)
    files += write_table(agreement, layout.table("judges_ranking_agreement").with_suffix(""),
                         caption="Kendall tau-b between two judges' rankings by 总分, "
                                 f"{level:.0%} paired bootstrap CI", decimals=decimals + 1)
    confusion, figures = {}, {}
    for pair in judge_pairs(judges):
        confusion[pair] = score_confusion(frame, pair)
        name = f"judge_confusion__{file_safe(pair[0])}__vs__{file_safe(pair[1])}"
        confusion[pair].to_csv(layout.table(name))
        figures[pair] = plots.plot_judge_confusion(confusion[pair], pair)
        files += [layout.table(name), *_save(figures[pair], layout, name, None, formats)]
    return CrossJudge(side_by_side=side, agreement=agreement, confusion=confusion,
                      figures=figures, files=files)
