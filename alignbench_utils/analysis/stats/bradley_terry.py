"""Bradley-Terry ratings over all judged games, on an Elo-like scale, with bootstrap CIs.

Model: ``P(i beats j) = σ(θ_i − θ_j)``; a game's outcome for model_a is its score
(win 1, tie ½, loss 0: ties count as half a win each way, as in Arena-Hard), so the
log-likelihood is ``Σ_games s·(θ_a − θ_b) − log(1 + e^(θ_a − θ_b))``, a logistic regression on
pair indicators without intercept. The baseline is the anchor (θ = 0) and ratings are
``anchor_rating + scale · θ / ln 10`` (1000 and 400: a 400-point gap is 10:1 odds).

Why pseudo-ties: a model that won (or lost) every game has no finite maximum-likelihood
rating. Every other model is credited ``pseudo_ties`` extra tied games against the baseline
(default 1, against hundreds of real games): a logistic-beta prior centred on the baseline
that keeps every rating finite, moves a typical rating by well under one point, and is the
same as appending those ties as rows of the logistic regression (that is how the tests check
the fit against statsmodels). Pseudo-ties are not resampled.

Fit: Newton's method with step halving, vectorised over resamples (a batch of
``(n_models−1)²`` systems per step); the bootstrap resamples questions within each category
with :func:`~.bootstrap.stratified_weights`, so one seed on one set of questions gives the
same resamples as the pointwise bootstrap (the ranking agreement relies on that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from alignbench_utils.analysis.stats.bootstrap import stratified_weights
from alignbench_utils.analysis.stats.pairwise import GameArrays, combine_orders, game_arrays

__all__ = [
    "BradleyTerryResult",
    "bradley_terry",
    "bradley_terry_replicates",
    "check_linked",
    "fit_bradley_terry",
    "rating_table",
]

_TOL, _MAX_ITER, _MAX_HALVINGS = 1e-10, 100, 40


def _loglik(theta: np.ndarray, design: np.ndarray, wins: np.ndarray,
            games: np.ndarray) -> np.ndarray:
    diff = theta @ design.T
    return (wins * diff - games * np.logaddexp(0.0, diff)).sum(axis=-1)


def fit_bradley_terry(wins: np.ndarray, games: np.ndarray, pairs: np.ndarray, n_models: int,
                      anchor: int) -> np.ndarray:
    """Maximum-likelihood θ (natural log-odds, θ_anchor = 0) for each row of game totals.

    ``wins[b, p]`` is the score total of ``pairs[p, 0]`` against ``pairs[p, 1]`` (ties as
    halves) and ``games[b, p]`` the number of games, in data set ``b``; returns
    ``(n_sets, n_models)``. Newton steps with halving until no coordinate moves more than
    1e-10; the caller must make the likelihood strictly concave (every model linked to the
    anchor by games with both outcomes, or pseudo-ties). Raises ``RuntimeError`` if it does not
    converge in 100 steps.

    >>> fit_bradley_terry(np.array([[3.0]]), np.array([[4.0]]), np.array([[0, 1]]), 2, 1)
    array([[1.09861229, 0.        ]])
    """
    wins, games = np.atleast_2d(wins).astype(float), np.atleast_2d(games).astype(float)
    design = np.zeros((len(pairs), n_models))
    design[np.arange(len(pairs)), pairs[:, 0]] = 1.0
    design[np.arange(len(pairs)), pairs[:, 1]] = -1.0
    design = np.delete(design, anchor, axis=1)
    theta = np.zeros((wins.shape[0], n_models - 1))
    loglik = _loglik(theta, design, wins, games)
    for _ in range(_MAX_ITER):
        prob = expit(theta @ design.T)
        grad = (wins - games * prob) @ design
        curvature = games * prob * (1 - prob)
        hessian = np.einsum("bp,pi,pj->bij", curvature, design, design, optimize=True)
        step = np.linalg.solve(hessian, grad[..., None])[..., 0]
        trial = theta + step
        trial_ll = _loglik(trial, design, wins, games)
        for _ in range(_MAX_HALVINGS):
            worse = trial_ll < loglik - 1e-12 * (1 + np.abs(loglik))
            if not worse.any():
                break
            step[worse] /= 2
            trial[worse] = theta[worse] + step[worse]
            trial_ll[worse] = _loglik(trial[worse], design, wins[worse], games[worse])
        theta, loglik = trial, trial_ll
        if np.abs(step).max(initial=0.0) < _TOL:
            return np.insert(theta, anchor, 0.0, axis=1)
    raise RuntimeError("Bradley-Terry fit did not converge in "
                       f"{_MAX_ITER} Newton steps (is every model linked to the baseline?)")


@dataclass(frozen=True)
class BradleyTerryResult:
    """Ratings of every model on the full data and in each resample (NaN: no game there)."""

    models: tuple[str, ...]
    baseline: str
    ratings: np.ndarray  # (n_models,)
    replicates: np.ndarray  # (n_boot, n_models)
    n_games: np.ndarray  # (n_models,) used games
    n_boot: int
    seed: int


def check_linked(arrays: GameArrays, baseline: str) -> int:
    """Index of ``baseline`` in ``arrays.models``; raises ``ValueError`` unless every model
    with a used game is linked to it through used games (else its rating is arbitrary)."""
    if baseline not in arrays.models:
        raise ValueError(f"baseline {baseline!r} is in no comparison")
    anchor = arrays.models.index(baseline)
    played = arrays.used.sum(axis=0) > 0
    i, j = arrays.pairs[played].T
    n = len(arrays.models)
    graph = coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    has_games = np.bincount(np.r_[i, j], minlength=n) > 0
    apart = [m for k, m in enumerate(arrays.models) if has_games[k] and label[k] != label[anchor]]
    if apart:
        raise ValueError(f"models {apart} have no chain of games to the baseline "
                         f"{baseline!r}; their ratings would be arbitrary")
    return anchor


def bradley_terry_replicates(comparisons: pd.DataFrame, *, baseline: str,
                             inconsistent: str = "tie", n_boot: int = 1000, seed: int = 0,
                             pseudo_ties: float = 1.0, scale: float = 400.0,
                             anchor_rating: float = 1000.0) -> BradleyTerryResult:
    """Fit Bradley-Terry on all games and on ``n_boot`` stratified resamples of questions.

    Orders are combined by :func:`~.pairwise.combine_orders` (``inconsistent`` rule);
    incomplete games are left out. A model with no used game gets NaN (also per resample).

    >>> f = pd.DataFrame({"question_id": [1, 1, 2, 2], "category": "数学计算",
    ...                   "model_a": "x", "model_b": "base", "order": ["ab", "ba"] * 2,
    ...                   "status": "ok", "winner": ["a", "a", "tie", "tie"]})
    >>> r = bradley_terry_replicates(f, baseline="base", n_boot=50)
    >>> [round(float(v), 1) for v in r.ratings]  # 2 of 3 games (1.5 won + 1 pseudo-tie)
    [1120.4, 1000.0]
    """
    if pseudo_ties <= 0:
        raise ValueError("pseudo_ties must be > 0 (it keeps unbeaten models finite)")
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    arrays = game_arrays(combine_orders(comparisons, inconsistent=inconsistent))
    anchor = check_linked(arrays, baseline)
    weights = np.empty((n_boot, arrays.question_ids.size))
    for _, sl, counts in stratified_weights(arrays.slices, n_boot, np.random.default_rng(seed)):
        weights[:, sl] = counts
    # row 0: the full data; rows 1..n_boot: resamples
    weights = np.vstack([np.ones(arrays.question_ids.size), weights])
    wins, games = weights @ arrays.score, weights @ arrays.used
    n = len(arrays.models)
    others = np.delete(np.arange(n), anchor)
    prior = np.full((len(weights), others.size), float(pseudo_ties))
    pairs = np.vstack([arrays.pairs, np.column_stack([others, np.full(others.size, anchor)])])
    theta = fit_bradley_terry(np.hstack([wins, prior / 2]), np.hstack([games, prior]), pairs,
                              n, anchor)
    model_games = np.zeros((len(weights), n))
    np.add.at(model_games.T, arrays.pairs[:, 0], games.T)
    np.add.at(model_games.T, arrays.pairs[:, 1], games.T)
    ratings = anchor_rating + scale * theta / np.log(10)
    ratings[model_games == 0] = np.nan
    ratings[:, anchor] = anchor_rating
    return BradleyTerryResult(models=arrays.models, baseline=baseline, ratings=ratings[0],
                              replicates=ratings[1:], n_games=model_games[0].astype(int),
                              n_boot=n_boot, seed=seed)


def rating_table(result: BradleyTerryResult, *, level: float = 0.95) -> pd.DataFrame:
    """Ratings sorted best first: ``model, rating, lower, upper, rank, n_games, is_baseline``.

    ``lower``/``upper``: percentile interval of the replicates at ``level``; ``rank``: 1 = best
    (ties share the smaller rank); a model without games is listed last, unranked.
    """
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    alpha = (1 - level) / 2
    reps = result.replicates
    finite = np.isfinite(reps).any(axis=0)
    lower = np.full(len(result.models), np.nan)
    upper = lower.copy()
    lower[finite], upper[finite] = np.nanquantile(reps[:, finite], [alpha, 1 - alpha], axis=0)
    table = pd.DataFrame({"model": result.models, "rating": result.ratings, "lower": lower,
                          "upper": upper, "n_games": result.n_games,
                          "is_baseline": [m == result.baseline for m in result.models]})
    table = table.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(4, "rank", pd.array(table["rating"].rank(ascending=False, method="min"),
                                     dtype="Int64"))
    return table


def bradley_terry(comparisons: pd.DataFrame, *, baseline: str, inconsistent: str = "tie",
                  n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                  pseudo_ties: float = 1.0, scale: float = 400.0,
                  anchor_rating: float = 1000.0) -> pd.DataFrame:
    """The Bradley-Terry leaderboard: :func:`bradley_terry_replicates` → :func:`rating_table`.

    >>> f = pd.DataFrame({"question_id": [1, 1, 2, 2], "category": "数学计算",
    ...                   "model_a": "x", "model_b": "base", "order": ["ab", "ba"] * 2,
    ...                   "status": "ok", "winner": ["a", "a", "b", "b"]})
    >>> bradley_terry(f, baseline="base", n_boot=20)[["model", "rating", "rank"]].values.tolist()
    [['x', 1000.0, 1], ['base', 1000.0, 1]]
    """
    result = bradley_terry_replicates(comparisons, baseline=baseline, inconsistent=inconsistent,
                                      n_boot=n_boot, seed=seed, pseudo_ties=pseudo_ties,
                                      scale=scale, anchor_rating=anchor_rating)
    return rating_table(result, level=level)
