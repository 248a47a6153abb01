"""The pairwise AlignBench leaderboard (notebook 08): every model against a baseline.

Pointwise 1-10 scores saturate and drift between judge runs; pairwise preference against a
baseline (the Arena-Hard and AlpacaEval design) separates close models better. Here every
other model's answer to each question is judged against the baseline's answer to the same
question, in both orders, with the official reference answer in the prompt
(``alignbench-pairwise`` by default), through the pairwise stage
(:mod:`alignbench_utils.stages.compare`): resumable, a rerun costs zero calls, format errors are
recorded with their raw text and counted, never read as ties. Then:

- win / tie / loss and win rate per model and category with bootstrap CIs
  (:func:`~alignbench_utils.analysis.stats.win_rates`; an inconsistent pair of orders counts as a tie,
  the MT-Bench convention, or ``drop`` / ``half``);
- Bradley-Terry ratings over all judged pairs with stratified bootstrap CIs;
- mean answer length and a length-controlled win rate (AlpacaEval 2.0's idea);
- how the pointwise and pairwise rankings agree: Kendall's tau with a CI and the pairs of
  models the two order differently.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from alignbench_utils.analysis import stats
from alignbench_utils.analysis.aggregate import run_judgments_frame, select_judge
from alignbench_utils.config import DEFAULT_CONCURRENCY, JudgeSpec, parse_spec
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.report.tables import write_table
from alignbench_utils.running.client import endpoint_from_spec
from alignbench_utils.running.engine import StageFailedError
from alignbench_utils.stages.compare import (
    answer_pairs,
    comparisons_from_records,
    pairwise_protocol,
    run_pairwise,
    unreadable_stage,
)
from alignbench_utils.stages.judge import load_answers

__all__ = ["OVERALL_WIN_RATE", "POOLED_WIN_RATE", "PairwiseLeaderboard", "compare_with_baseline",
           "pairwise_leaderboard"]

# The two win rates, named apart. 总分's is made as the pointwise 总分: the win rate (win +
# tie/2 over games) per category, 中文推理 = mean of 数学计算 and 逻辑推理, 中文语言 = mean of the
# six language categories, 总分 = their mean; it is not (W + T/2)/N of the row's counts. The
# pooled one is (W + T/2)/N over every used game, the raw rate the length control adjusts.
OVERALL_WIN_RATE = "win_rate_总分"
POOLED_WIN_RATE = "win_rate_pooled"


def compare_with_baseline(run_dir: str | os.PathLike, judge: dict[str, Any], *, baseline: str,
                          protocol: str = "alignbench-pairwise", models: Sequence[str] = (),
                          orders: str | None = None,
                          concurrency: int = DEFAULT_CONCURRENCY,
                          progress: bool = False) -> pd.DataFrame:
    """Judge every model's answers (``models``, default all in ``answers/``) against the
    baseline's with ``judge`` (a run-YAML judge entry) into ``comparisons/``; prints the
    summary line and returns it as a one-row table. Raises
    :class:`~alignbench_utils.running.engine.StageFailedError` when not one reply could be read under
    the protocol, naming the judge, the protocol and the most common reply."""
    layout = RunLayout(run_dir)
    spec = parse_spec(JudgeSpec, judge, where="pairwise.judge")
    answers = load_answers(layout.answers_dir)
    if models:
        answers = [a for a in answers if a["model"] in {*models, baseline}]
    judging = pairwise_protocol(protocol, orders=orders, max_tokens=spec.sampling.max_tokens,
                                seed=spec.sampling.seed)
    summary = run_pairwise(answer_pairs(answers, baseline=baseline),
                           endpoint_from_spec(judge, concurrency), layout.comparisons_dir,
                           protocol=judging, stage="pairwise", progress=progress)
    print(summary.one_line(), flush=True)
    unreadable = unreadable_stage(summary, judge=spec.name, protocol=judging.name)
    if unreadable:  # a leaderboard built on no verdict at all would be a table of nothing
        raise StageFailedError(unreadable)
    return pd.DataFrame([summary.to_dict()]).drop(columns=["stage", "out_paths", "errors"])


@dataclass
class PairwiseLeaderboard:
    """The pairwise view of one judge's comparisons against one baseline."""

    judge: str
    baseline: str
    comparisons: pd.DataFrame  # one row per judged order (the stats comparisons frame)
    win_rates: pd.DataFrame  # stats.win_rates: per model and metric, with CIs and counts
    ratings: pd.DataFrame  # stats.bradley_terry: rating, CI, rank per model
    length: stats.LengthControlResult | None  # None when answer lengths do not vary
    agreement: stats.RankingAgreement | None  # None without pointwise judgments

    def overview(self) -> pd.DataFrame:
        """One row per model: rating and rank, the 总分 win rate (:data:`OVERALL_WIN_RATE`)
        with wins/ties/losses, format errors, mean answer length, the pooled win rate
        (:data:`POOLED_WIN_RATE`) and the length-controlled win rate."""
        total = self.win_rates[self.win_rates["metric"].eq("总分")].set_index("model")
        table = self.ratings.set_index("model")[["rating", "lower", "upper", "rank"]].join(
            total[["win_rate", "wins", "ties", "losses", "n_inconsistent", "n_parse_failed",
                   "n_error"]].rename(columns={"win_rate": OVERALL_WIN_RATE}), how="left")
        if self.length is not None:
            table = table.join(self.length_table().set_index("model")[
                ["mean_length", POOLED_WIN_RATE, "lc_win_rate"]], how="left")
        return table.reset_index().sort_values("rank", kind="stable").reset_index(drop=True)

    def length_table(self) -> pd.DataFrame:
        """The length control's table with its raw win rate named :data:`POOLED_WIN_RATE`
        (every used game against the baseline pooled, not the 总分 formula)."""
        if self.length is None:
            raise ValueError("length control was not estimated (answer lengths do not vary)")
        return self.length.table.rename(columns={"win_rate": POOLED_WIN_RATE})


def pairwise_leaderboard(run_dir: str | os.PathLike, *, judge: str, baseline: str,
                         pointwise_judge: str = "", inconsistent: str = "tie",
                         n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                         write: bool = True) -> PairwiseLeaderboard:
    """Every table of the pairwise leaderboard from the run's comparison records; with
    ``write``, also ``results/pairwise_*.csv``. ``pointwise_judge`` (default: the
    alphabetically first judge with judgments) gives the ranking it is compared with."""
    layout = RunLayout(run_dir)
    comparisons = comparisons_from_records(layout.comparisons_dir, judge=judge)
    if comparisons.empty:
        raise ValueError(f"no pairwise comparisons by judge {judge!r} in "
                         f"{layout.comparisons_dir}")
    common = {"baseline": baseline, "inconsistent": inconsistent}
    boot = {"n_boot": n_boot, "seed": seed, "level": level}
    try:
        length = stats.length_controlled_win_rates(comparisons, level=level, **common)
    except ValueError as exc:  # all lengths equal: the length effect cannot be estimated
        print(f"length control not estimated: {exc}")
        length = None
    agreement = None
    if layout.judgments_dir.is_dir() and any(layout.judgments_dir.rglob("*.jsonl")):
        _, pointwise = select_judge(run_judgments_frame(run_dir), pointwise_judge)
        agreement = stats.ranking_agreement(pointwise, comparisons, **common, **boot)
    result = PairwiseLeaderboard(
        judge=judge, baseline=baseline, comparisons=comparisons,
        win_rates=stats.win_rates(comparisons, **common, **boot),
        ratings=stats.bradley_terry(comparisons, **common, **boot), length=length,
        agreement=agreement)
    if write:
        layout.results_dir.mkdir(parents=True, exist_ok=True)
        result.win_rates.to_csv(layout.table("pairwise_win_rates"), index=False)
        result.ratings.to_csv(layout.table("pairwise_ratings"), index=False)
        overview = result.overview()
        overview.to_csv(layout.table("pairwise_leaderboard"), index=False)
        write_table(overview, layout.judge_table("pairwise_leaderboard", judge)
                    .with_suffix(""), decimals=3,
                    caption=f"Pairwise leaderboard against {baseline}, judge {judge}: "
                            f"Bradley-Terry rating [{level:.0%} CI]; {OVERALL_WIN_RATE} is "
                            f"made as 总分 (mean of the reasoning and language means of the "
                            f"category win rates), {POOLED_WIN_RATE} pools every game")
        if agreement is not None:
            agreement.discordant.to_csv(layout.table("pairwise_vs_pointwise"), index=False)
    return result
