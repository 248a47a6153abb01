"""Length-controlled win rates: how much of a pairwise win is verbosity (AlpacaEval 2.0's idea).

LLM judges prefer longer answers, so a verbose model's raw win rate overstates it. Model, over
all used games (any design), by a binomial GLM with logit link (statsmodels):

    logit E[score of model_a] = θ_a − θ_b + γ · tanh((len_a − len_b) / s)

with θ_baseline = 0, the game score win + tie/2, and ``s`` the standard deviation of the
length differences over the used games (AlpacaEval normalises the same way; tanh bounds the
pull of an extreme length gap). The length-controlled win rate against the baseline is the
prediction with the length term set to zero, ``σ(θ_m)``: the win rate the model would have if
its answers were as long as the baseline's. With γ = 0 it equals the raw win rate of a
baseline-only design. AlpacaEval also fits a per-instruction difficulty term; this one does
not (683 extra parameters for a small gain).

Intervals: Wald on the logit scale with cluster-robust (by question) standard errors, mapped
through σ; clustering by question matches the question bootstrap of the other tables, and
the sandwich keeps the fractional outcomes (ties) honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import norm

from alignbench_utils.analysis.stats.bradley_terry import check_linked
from alignbench_utils.analysis.stats.pairwise import (
    against_baseline,
    combine_orders,
    game_arrays,
    mean_lengths,
)

__all__ = ["LengthControlResult", "length_controlled_win_rates"]


@dataclass(frozen=True)
class LengthControlResult:
    """Per model table and the fitted length term.

    ``table``: ``model, is_baseline, mean_length, n_games, win_rate, lc_win_rate, lc_lower,
    lc_upper`` (``n_games`` and ``win_rate``: the used games against the baseline, pooled;
    the baseline's own row has its mean length, no games and no win rate). ``length_coef`` is
    γ with its interval at ``level``; ``length_scale`` is ``s`` in characters.
    """

    table: pd.DataFrame
    length_coef: float
    length_lower: float
    length_upper: float
    length_scale: float
    level: float


def _design(games: pd.DataFrame, others: list[str], scale: float) -> np.ndarray:
    """Pair indicators (+1 model_a, −1 model_b) for the non-baseline models, then the length."""
    a = games["model_a"].to_numpy()[:, None] == np.asarray(others)[None]
    b = games["model_b"].to_numpy()[:, None] == np.asarray(others)[None]
    length = np.tanh((games["len_a"] - games["len_b"]).to_numpy(float) / scale)
    return np.column_stack([a.astype(float) - b, length])


def length_controlled_win_rates(comparisons: pd.DataFrame, *, baseline: str,
                                inconsistent: str = "tie",
                                level: float = 0.95) -> LengthControlResult:
    """Raw and length-controlled win rate against ``baseline`` per model, and mean lengths.

    Needs ``len_a`` and ``len_b``. Orders are combined by :func:`~.pairwise.combine_orders`;
    only used games enter the fit. Raises ``ValueError`` when the length differences do not
    vary (γ cannot be told from the models) or a model is not linked to the baseline.

    >>> from alignbench_utils.analysis.stats import synthetic_comparisons
    >>> f = synthetic_comparisons([0.0, 0.5], {"数学计算": 300}, mean_lengths=[400, 900],
    ...                           length_effect=1.5, seed=0)
    >>> r = length_controlled_win_rates(f, baseline="m0")
    >>> m1 = r.table.set_index("model").loc["m1"]
    >>> bool(m1["win_rate"] > m1["lc_win_rate"] + 0.1), r.length_lower > 0
    (True, True)
    """
    lengths = mean_lengths(comparisons)
    games = combine_orders(comparisons, inconsistent=inconsistent)
    check_linked(game_arrays(games), baseline)
    used = games[games["used"]].reset_index(drop=True)
    if used[["len_a", "len_b"]].isna().any().any():
        raise ValueError("a used game lacks an answer length (len_a / len_b)")
    scale = float((used["len_a"] - used["len_b"]).std())
    if not scale > 0:
        raise ValueError("the answer-length differences do not vary; no length term to fit")
    played = set(used["model_a"]) | set(used["model_b"])
    models = [m for m in lengths.index if m in played]
    others = [m for m in models if m != baseline]
    fit = sm.GLM((used["win"] + used["tie"] / 2).to_numpy(), _design(used, others, scale),
                 family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(used["question_id"])[0]})
    z = norm.ppf((1 + level) / 2)
    theta, se = np.asarray(fit.params), np.asarray(fit.bse)
    vs = against_baseline(used, baseline)
    raw = (vs["win"] + vs["tie"] / 2).groupby(vs["model"]).agg(["mean", "size"])
    table = pd.DataFrame({"model": others, "is_baseline": False,
                          "lc_win_rate": expit(theta[:-1]),
                          "lc_lower": expit(theta[:-1] - z * se[:-1]),
                          "lc_upper": expit(theta[:-1] + z * se[:-1])})
    table = pd.concat([table, pd.DataFrame({"model": [baseline], "is_baseline": [True]})])
    table = table.set_index("model").reindex(lengths.index).reset_index()
    table["is_baseline"] = table["model"].eq(baseline)
    table.insert(2, "mean_length", lengths.to_numpy())
    table.insert(3, "n_games", raw["size"].reindex(table["model"]).fillna(0).astype(int).to_numpy())
    table.insert(4, "win_rate", raw["mean"].reindex(table["model"]).to_numpy())
    table = table.sort_values(["is_baseline", "lc_win_rate"], ascending=[True, False])
    return LengthControlResult(
        table=table.reset_index(drop=True), length_coef=float(theta[-1]),
        length_lower=float(theta[-1] - z * se[-1]), length_upper=float(theta[-1] + z * se[-1]),
        length_scale=scale, level=level)
