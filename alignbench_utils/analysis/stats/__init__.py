"""Uncertainty for AlignBench: bootstrap CIs, paired comparisons, mixed model, agreement, and
the pairwise view (win rates, Bradley-Terry ratings, length control, ranking agreement).

Pointwise functions take the judgments frame (``model, question_id, category, status, score``),
pairwise ones the comparisons frame (:mod:`.pairwise`); both exclude failed judgments from
estimates while counting them. Resampling functions take ``n_boot`` and ``seed``
(``numpy.random.default_rng``) and are reproducible.
"""

from alignbench_utils.analysis.stats.agreement import (
    human_scores_long,
    inter_judge_agreement,
    judge_human_agreement,
    pairwise_agreement,
    pointwise_agreement,
    quadratic_kappa,
    test_retest,
)
from alignbench_utils.analysis.stats.bootstrap import (
    BootstrapResult,
    bootstrap_leaderboard,
    bootstrap_replicates,
    intervals,
)
from alignbench_utils.analysis.stats.bradley_terry import (
    BradleyTerryResult,
    bradley_terry,
    bradley_terry_replicates,
    rating_table,
)
from alignbench_utils.analysis.stats.compare import (
    bootstrap_p_value,
    category_tests,
    compare_models,
    rank_tiers,
)
from alignbench_utils.analysis.stats.length_control import (
    LengthControlResult,
    length_controlled_win_rates,
)
from alignbench_utils.analysis.stats.matrix import METRICS, ScoreMatrix, score_matrix
from alignbench_utils.analysis.stats.mixed import mixed_effects
from alignbench_utils.analysis.stats.pairwise import combine_orders, mean_lengths, win_rates
from alignbench_utils.analysis.stats.ranking import (
    RankingAgreement,
    kendall_tau_b,
    ranking_agreement,
)
from alignbench_utils.analysis.stats.synthetic import (
    expected_game_scores,
    interval_coverage,
    synthetic_comparisons,
    synthetic_frame,
)

__all__ = [
    "METRICS",
    "BootstrapResult",
    "BradleyTerryResult",
    "LengthControlResult",
    "RankingAgreement",
    "ScoreMatrix",
    "bootstrap_leaderboard",
    "bootstrap_p_value",
    "bootstrap_replicates",
    "bradley_terry",
    "bradley_terry_replicates",
    "category_tests",
    "combine_orders",
    "compare_models",
    "expected_game_scores",
    "human_scores_long",
    "inter_judge_agreement",
    "interval_coverage",
    "intervals",
    "judge_human_agreement",
    "kendall_tau_b",
    "length_controlled_win_rates",
    "mean_lengths",
    "mixed_effects",
    "pairwise_agreement",
    "pointwise_agreement",
    "quadratic_kappa",
    "rank_tiers",
    "ranking_agreement",
    "rating_table",
    "score_matrix",
    "synthetic_comparisons",
    "synthetic_frame",
    "test_retest",
    "win_rates",
]
