"""Uncertainty for AlignBench: bootstrap CIs, paired comparisons, mixed model, agreement.

Everything takes the judgments frame (``model, question_id, category, status, score``) and
excludes failed judgments from means while counting them. Resampling functions take
``n_boot`` and ``seed`` (``numpy.random.default_rng``) and are reproducible.
"""

from .agreement import (
    human_scores_long,
    inter_judge_agreement,
    judge_human_agreement,
    pairwise_agreement,
    pointwise_agreement,
    quadratic_kappa,
    test_retest,
)
from .bootstrap import BootstrapResult, bootstrap_leaderboard, bootstrap_replicates, intervals
from .compare import bootstrap_p_value, category_tests, compare_models, rank_tiers
from .matrix import METRICS, ScoreMatrix, score_matrix
from .mixed import mixed_effects
from .synthetic import interval_coverage, synthetic_frame

__all__ = [
    "METRICS",
    "BootstrapResult",
    "ScoreMatrix",
    "bootstrap_leaderboard",
    "bootstrap_p_value",
    "bootstrap_replicates",
    "category_tests",
    "compare_models",
    "human_scores_long",
    "inter_judge_agreement",
    "interval_coverage",
    "intervals",
    "judge_human_agreement",
    "mixed_effects",
    "pairwise_agreement",
    "pointwise_agreement",
    "quadratic_kappa",
    "rank_tiers",
    "score_matrix",
    "synthetic_frame",
    "test_retest",
]
