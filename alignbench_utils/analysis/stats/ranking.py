"""How the pointwise leaderboard and the pairwise Bradley-Terry ranking agree.

Kendall's tau-b between the two orderings of the models both rank, with a bootstrap CI, and
the pairs they order differently. Why paired: both bootstraps run on the questions the two
frames share, with one seed, through :func:`~.bootstrap.stratified_weights`, so resample ``b``
of the pointwise leaderboard and of the ratings use the same questions, and tau is computed
per resample.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from alignbench_utils.analysis.stats.bootstrap import bootstrap_replicates
from alignbench_utils.analysis.stats.bradley_terry import bradley_terry_replicates
from alignbench_utils.analysis.stats.matrix import question_layout
from alignbench_utils.taxonomy import OVERALL_COL

__all__ = ["RankingAgreement", "kendall_tau_b", "ranking_agreement"]


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of ``x`` and ``y`` along the last axis (any leading batch shape).

    ``Σ sign(xi−xj)·sign(yi−yj) / √(n_x·n_y)`` over pairs i < j, ``n_x`` (``n_y``) the pairs
    not tied in x (y): scipy's ``kendalltau(variant='b')``, for many rows at once. NaN where a
    row has a NaN or is constant.

    >>> float(kendall_tau_b(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4])))
    0.6666666666666666
    >>> kendall_tau_b(np.array([[1.0, 2, 3], [1, 2, 3]]), np.array([[3.0, 2, 1], [1, 1, 2]]))
    array([-1.        ,  0.81649658])
    """
    i, j = np.triu_indices(np.shape(x)[-1], k=1)
    sx = np.sign(x[..., i] - x[..., j])
    sy = np.sign(y[..., i] - y[..., j])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(-1) / np.sqrt((sx**2).sum(-1) * (sy**2).sum(-1))


@dataclass(frozen=True)
class RankingAgreement:
    """Kendall tau-b of the two rankings with a percentile CI, and the discordant pairs.

    ``discordant``: ``model_a, model_b, pointwise_a, pointwise_b, rating_a, rating_b,
    share_discordant`` — one row per pair the two rankings order differently (a tie in one and
    not the other included), model_a the one the pointwise leaderboard puts higher;
    ``share_discordant`` is the share of resamples in which they order it differently.
    """

    models: tuple[str, ...]
    tau: float
    lower: float
    upper: float
    level: float
    replicates: np.ndarray  # (n_boot,)
    discordant: pd.DataFrame


def _shared_questions(judgments: pd.DataFrame,
                      comparisons: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shared = set(judgments["question_id"]) & set(comparisons["question_id"])
    if not shared:
        raise ValueError("the judgments and the comparisons share no question")
    judgments = judgments[judgments["question_id"].isin(shared)]
    comparisons = comparisons[comparisons["question_id"].isin(shared)]
    question_layout(pd.concat([judgments[["question_id", "category"]],
                               comparisons[["question_id", "category"]]]))  # same categories
    return judgments, comparisons


def ranking_agreement(judgments: pd.DataFrame, comparisons: pd.DataFrame, *, baseline: str,
                      metric: str = OVERALL_COL, inconsistent: str = "tie", n_boot: int = 1000,
                      seed: int = 0, level: float = 0.95,
                      pseudo_ties: float = 1.0) -> RankingAgreement:
    """Agreement of the pointwise ``metric`` (a judgments frame, one judge) with Bradley-Terry.

    Only the questions both frames have and the models both rank enter. Point tau: the two
    full-data rankings (equal to scipy's ``kendalltau``); CI: percentile interval at ``level``
    of tau over the paired resamples (NaN replicates, where a model lacks data, dropped).
    """
    judgments, comparisons = _shared_questions(judgments, comparisons)
    pointwise = bootstrap_replicates(judgments, n_boot=n_boot, seed=seed)
    pairwise = bradley_terry_replicates(comparisons, baseline=baseline,
                                        inconsistent=inconsistent, n_boot=n_boot, seed=seed,
                                        pseudo_ties=pseudo_ties)
    models = tuple(m for m in pointwise.models if m in pairwise.models)
    if len(models) < 2:
        raise ValueError(f"need two models ranked both ways, got {list(models)}")
    k = pointwise.metrics.index(metric)
    pi = [pointwise.models.index(m) for m in models]
    bi = [pairwise.models.index(m) for m in models]
    x, y = pointwise.estimates[pi, k], pairwise.ratings[bi]
    xr, yr = pointwise.replicates[:, pi, k], pairwise.replicates[:, bi]
    reps = kendall_tau_b(xr, yr)
    alpha = (1 - level) / 2
    lower, upper = np.nanquantile(reps, [alpha, 1 - alpha])
    rows = []
    for i, j in combinations(range(len(models)), 2):
        if np.sign(x[i] - x[j]) == np.sign(y[i] - y[j]):
            continue
        a, b = (i, j) if x[i] >= x[j] else (j, i)
        dx, dy = xr[:, a] - xr[:, b], yr[:, a] - yr[:, b]
        valid = np.isfinite(dx) & np.isfinite(dy)
        flipped = np.sign(dx[valid]) != np.sign(dy[valid])
        rows.append({"model_a": models[a], "model_b": models[b], "pointwise_a": x[a],
                     "pointwise_b": x[b], "rating_a": y[a], "rating_b": y[b],
                     "share_discordant": float(flipped.mean()) if valid.any() else np.nan})
    discordant = pd.DataFrame(rows, columns=["model_a", "model_b", "pointwise_a", "pointwise_b",
                                             "rating_a", "rating_b", "share_discordant"])
    return RankingAgreement(models=models, tau=float(kendall_tau_b(x, y)), lower=float(lower),
                            upper=float(upper), level=level, replicates=reps,
                            discordant=discordant)
