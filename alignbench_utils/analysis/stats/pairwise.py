"""Pairwise comparisons → games (both orders combined) → win / tie / loss against a baseline.

The *comparisons frame* has one row per judged order:

- ``question_id``, ``category``;
- ``model_a``, ``model_b``: the two answers' models. In the baseline design ``model_a`` is the
  challenger and ``model_b`` the fixed baseline; any pair of models is accepted;
- ``order``: ``"ab"`` (model_a's answer shown first) or ``"ba"`` (swapped);
- ``status``: ``"ok"``, ``"parse_failed"`` (the judge's reply had no verdict) or ``"error"``;
- ``winner``: ``"a"``, ``"b"`` or ``"tie"``, already mapped back to model_a / model_b; read
  only where ``status`` is ok;
- ``len_a``, ``len_b`` (only needed for length control): characters of model_a's and
  model_b's answers, whichever was shown first.

A *game* is one (question, model_a, model_b) with its two orders combined. Why both orders:
LLM judges favour a position, so a verdict counts only when it survives the swap. A game is
*complete* when both orders are ok; a consistent game takes the common verdict; an
inconsistent one follows ``inconsistent``: ``"tie"`` (MT-Bench's convention, the default),
``"drop"`` (left out, still counted in ``n_inconsistent``) or ``"half"`` (each order counts as
half a game, as when every order is its own game in Arena-Hard). An incomplete game (an order
missing, a format error or an error) is never a tie, win or loss: it is counted
(``n_incomplete``; the failed orders themselves in ``n_parse_failed`` and ``n_error``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alignbench_utils.analysis.stats.bootstrap import bootstrap_replicates, intervals, metric_totals
from alignbench_utils.analysis.stats.matrix import METRICS, question_layout
from alignbench_utils.taxonomy import CATEGORIES

__all__ = [
    "GAME_KEYS",
    "INCONSISTENT_RULES",
    "GameArrays",
    "against_baseline",
    "combine_orders",
    "game_arrays",
    "mean_lengths",
    "win_rates",
]

GAME_KEYS = ["question_id", "category", "model_a", "model_b"]
INCONSISTENT_RULES = ("tie", "drop", "half")
_ORDERS = ("ab", "ba")
_WINNERS = ("a", "tie", "b")  # index = column of the (win, tie, loss) outcome for model_a
_STATUSES = ("ok", "parse_failed", "error")
_REQUIRED = ("question_id", "category", "model_a", "model_b", "order", "status", "winner")
_LENGTHS = ["len_a", "len_b"]


def _first_bad(frame: pd.DataFrame, bad: np.ndarray, column: str, allowed: tuple) -> str:
    i = int(np.flatnonzero(bad)[0])
    return (f"comparisons row {frame.index[i]!r}: {column} = {frame[column].iloc[i]!r}; "
            f"allowed: {allowed} ({int(bad.sum())} such rows)")


def _check(comparisons: pd.DataFrame) -> None:
    """Raise ``ValueError`` naming the first bad row of a comparisons frame."""
    missing = [c for c in _REQUIRED if c not in comparisons.columns]
    if missing:
        raise ValueError(f"comparisons frame lacks columns {missing}; needs {list(_REQUIRED)}")
    for column, allowed in (("order", _ORDERS), ("status", _STATUSES)):
        bad = ~comparisons[column].isin(allowed).to_numpy()
        if bad.any():
            raise ValueError(_first_bad(comparisons, bad, column, allowed))
    bad = (comparisons["status"].eq("ok") & ~comparisons["winner"].isin(_WINNERS)).to_numpy()
    if bad.any():
        raise ValueError(_first_bad(comparisons, bad, "winner", _WINNERS) + " with status ok")
    same = (comparisons["model_a"] == comparisons["model_b"]).to_numpy()
    if same.any():
        raise ValueError(_first_bad(comparisons, same, "model_b", ("a model other than model_a",)))
    low = comparisons[["model_a", "model_b"]].min(axis=1)
    high = comparisons[["model_a", "model_b"]].max(axis=1)
    key = pd.DataFrame({"q": comparisons["question_id"], "lo": low, "hi": high,
                        "order": comparisons["order"]})
    if key.duplicated().any():
        raise ValueError("a (question_id, pair, order) appears twice (a pair must be listed in "
                         "one orientation per question, each order once); first: "
                         f"{key[key.duplicated()].iloc[0].tolist()}")


def _outcomes(verdicts: pd.Series) -> np.ndarray:
    """Verdicts → one-hot (win, tie, loss) rows for model_a; NaN rows where no verdict."""
    code = pd.Index(_WINNERS).get_indexer(verdicts)
    out = np.full((code.size, 3), np.nan)
    has = code >= 0
    out[has] = np.eye(3)[code[has]]
    return out


def combine_orders(comparisons: pd.DataFrame, *, inconsistent: str = "tie") -> pd.DataFrame:
    """One row per game: both orders' verdicts, their combination, and failure counts.

    Columns: ``question_id, category, model_a, model_b, winner_ab, winner_ba, n_parse_failed,
    n_error, complete, consistent, win, tie, loss, used`` (+ ``len_a, len_b`` when given).
    ``win, tie, loss`` are model_a's share of the game (sum 1; quarters under ``"half"``), NaN
    unless ``used``; ``consistent`` is NA unless ``complete``. Games keep the order of their
    first row. Raises ``ValueError`` on a malformed frame, and when the two orders of a game
    disagree on an answer length.

    >>> rows = [(1, "ab", "ok", "a"), (1, "ba", "ok", "a"), (2, "ab", "ok", "a"),
    ...         (2, "ba", "ok", "b"), (3, "ab", "parse_failed", None), (3, "ba", "ok", "tie")]
    >>> f = pd.DataFrame(rows, columns=["question_id", "order", "status", "winner"]).assign(
    ...     category="数学计算", model_a="x", model_b="base")
    >>> g = combine_orders(f)
    >>> print(g[["question_id", "consistent", "win", "tie", "loss", "used"]].to_string())
       question_id  consistent  win  tie  loss   used
    0            1        True  1.0  0.0   0.0   True
    1            2       False  0.0  1.0   0.0   True
    2            3        <NA>  NaN  NaN   NaN  False
    >>> combine_orders(f, inconsistent="half").loc[1, ["win", "tie", "loss"]].tolist()
    [0.5, 0.0, 0.5]
    >>> int(g["n_parse_failed"].sum()), bool(g.loc[2, "complete"])
    (1, False)
    """
    if inconsistent not in INCONSISTENT_RULES:
        raise ValueError(f"unknown inconsistent rule {inconsistent!r}; use one of "
                         f"{INCONSISTENT_RULES}")
    _check(comparisons)
    status = comparisons["status"]
    rows = comparisons.assign(_verdict=comparisons["winner"].where(status.eq("ok")),
                              n_parse_failed=status.eq("parse_failed"),
                              n_error=status.eq("error"))
    grouped = rows.groupby(GAME_KEYS, sort=False)
    games = grouped[["n_parse_failed", "n_error"]].sum()
    verdicts = rows.pivot(index=GAME_KEYS, columns="order", values="_verdict")
    verdicts = verdicts.reindex(index=games.index, columns=list(_ORDERS))
    games["winner_ab"], games["winner_ba"] = verdicts["ab"], verdicts["ba"]
    first, second = _outcomes(games["winner_ab"]), _outcomes(games["winner_ba"])
    complete = ~(np.isnan(first[:, 0]) | np.isnan(second[:, 0]))
    agree = (first == second).all(axis=1)
    combined = np.where((complete & agree)[:, None], first, np.nan)
    split = complete & ~agree
    if inconsistent == "tie":
        combined[split] = (0.0, 1.0, 0.0)
    elif inconsistent == "half":
        combined[split] = (first[split] + second[split]) / 2
    games["complete"] = complete
    games["consistent"] = pd.array(np.where(complete, agree, None), dtype="boolean")
    games[["win", "tie", "loss"]] = combined
    games["used"] = ~np.isnan(combined[:, 0])
    if set(_LENGTHS) <= set(comparisons.columns):
        if (grouped[_LENGTHS].nunique() > 1).to_numpy().any():
            raise ValueError("the two orders of a game give different answer lengths; len_a "
                             "and len_b must be model_a's and model_b's, whatever the order")
        games[_LENGTHS] = grouped[_LENGTHS].first()
    return games.reset_index()


def against_baseline(games: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """The games involving ``baseline``, seen from the other model (column ``model``).

    Games listed with the baseline as model_a are turned round (win ↔ loss, len_a ↔ len_b),
    so ``win`` is always the challenger's; other games are left out.

    >>> g = pd.DataFrame({"model_a": ["base", "x"], "model_b": ["y", "base"], "win": [1.0, 0.0],
    ...                   "tie": [0.0, 0.0], "loss": [0.0, 1.0]})
    >>> against_baseline(g, "base")[["model", "win", "loss"]].values.tolist()
    [['y', 0.0, 1.0], ['x', 0.0, 1.0]]
    >>> against_baseline(g.iloc[:1], "base")[["model", "win", "loss"]].values.tolist()
    [['y', 0.0, 1.0]]
    """
    involved = games["model_a"].eq(baseline) | games["model_b"].eq(baseline)
    if not involved.any():
        raise ValueError(f"baseline {baseline!r} is in no comparison")
    out = games[involved].copy()
    flip = out["model_a"].eq(baseline).to_numpy()
    out.insert(0, "model", np.where(flip, out["model_b"], out["model_a"]))
    for left, right in (("win", "loss"), *([tuple(_LENGTHS)] if "len_a" in out else [])):
        first, second = out[left].to_numpy(), out[right].to_numpy()
        out[left], out[right] = np.where(flip, second, first), np.where(flip, first, second)
    return out.drop(columns=["model_a", "model_b"]).reset_index(drop=True)


def mean_lengths(comparisons: pd.DataFrame) -> pd.Series:
    """Mean answer length (characters) per model, each (question, model) answer counted once.

    A baseline's answer appears in every game of its question; it is counted once, so the
    mean is over the model's answers, not its games.

    >>> f = pd.DataFrame({"question_id": [1, 1, 2], "model_a": ["x", "y", "x"],
    ...                   "model_b": ["b", "b", "b"], "len_a": [10, 30, 20], "len_b": [5, 5, 7]})
    >>> mean_lengths(f).to_dict()
    {'x': 15.0, 'y': 30.0, 'b': 6.0}
    """
    missing = [c for c in _LENGTHS if c not in comparisons.columns]
    if missing:
        raise ValueError(f"comparisons frame lacks answer lengths {missing}")
    answers = pd.concat([
        comparisons[["question_id", f"model_{s}", f"len_{s}"]].set_axis(
            ["question_id", "model", "length"], axis=1) for s in ("a", "b")])
    answers = answers.drop_duplicates(["question_id", "model"])
    return answers.groupby("model", sort=False)["length"].mean().astype(float)


@dataclass(frozen=True)
class GameArrays:
    """Games as (question × pair) arrays on the shared :func:`~.matrix.question_layout`.

    ``pairs[p] = (i, j)`` indexes ``models`` (model_a, model_b); ``score[q, p]`` is model_a's
    score (win + tie/2) in that game, 0 where not used; ``used[q, p]`` is 1.0 for a used game.
    """

    models: tuple[str, ...]
    question_ids: np.ndarray
    slices: tuple[slice, ...]
    pairs: np.ndarray  # (n_pairs, 2) int
    score: np.ndarray  # (n_questions, n_pairs)
    used: np.ndarray  # (n_questions, n_pairs), 0/1


def game_arrays(games: pd.DataFrame) -> GameArrays:
    """Pivot a :func:`combine_orders` table to :class:`GameArrays` (all games, any design).

    >>> f = pd.DataFrame({"question_id": [1, 1, 2, 2], "category": "数学计算",
    ...                   "model_a": "x", "model_b": "b", "order": ["ab", "ba"] * 2,
    ...                   "status": "ok", "winner": ["a", "a", "tie", "b"]})
    >>> a = game_arrays(combine_orders(f))
    >>> a.models, a.pairs.tolist(), a.score.tolist(), a.used.tolist()
    (('x', 'b'), [[0, 1]], [[1.0], [0.5]], [[1.0], [1.0]])
    """
    qids, slices = question_layout(games)
    models = tuple(pd.unique(pd.concat([games["model_a"], games["model_b"]])))
    index = pd.Index(models)
    a, b = index.get_indexer(games["model_a"]), index.get_indexer(games["model_b"])
    pair_codes, pair_index = pd.factorize(pd.Series(a * len(models) + b), sort=True)
    pairs = np.column_stack(np.divmod(pair_index.to_numpy(), len(models)))
    q = pd.Index(qids).get_indexer(games["question_id"])
    used = games["used"].to_numpy(bool)
    score = np.zeros((qids.size, len(pairs)))
    hits = np.zeros_like(score)
    score[q[used], pair_codes[used]] = (games["win"] + games["tie"] / 2).to_numpy()[used]
    hits[q[used], pair_codes[used]] = 1.0
    return GameArrays(models, qids, slices, pairs, score, hits)


_COUNTS = ["win", "tie", "loss", "used", "inconsistent", "n_parse_failed", "n_error",
           "incomplete"]
_COUNT_NAMES = ["wins", "ties", "losses", "n_games", "n_inconsistent", "n_parse_failed",
                "n_error", "n_incomplete"]


def win_rates(comparisons: pd.DataFrame, *, baseline: str, inconsistent: str = "tie",
              n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Win / tie / loss and win rate (win + tie/2) against ``baseline``, per model and metric.

    Long format, one row per challenger and metric (the 8 categories, 中文推理, 中文语言, 总分):
    ``model, metric, win_rate, lower, upper, wins, ties, losses, n_games, n_inconsistent,
    n_parse_failed, n_error, n_incomplete``. A category's win rate is the mean game score
    over its used games; the groups and 总分 combine category win rates with the official
    formula (as the pointwise leaderboard does), so they weigh each category equally within its
    group and need not equal the pooled (wins + ties/2) / n_games. CIs: the stratified paired
    bootstrap of :func:`~.bootstrap.bootstrap_replicates` (percentile, ``level``) over
    questions; with one seed and one set of questions it draws the same resamples as the
    pointwise bootstrap. Counts of a group are sums over its categories. Games without the
    baseline are left out.

    >>> f = pd.DataFrame({"question_id": [1, 1, 2, 2], "category": "数学计算",
    ...                   "model_a": "x", "model_b": "base", "order": ["ab", "ba"] * 2,
    ...                   "status": "ok", "winner": ["a", "a", "tie", "b"]})
    >>> t = win_rates(f, baseline="base", n_boot=100).set_index("metric")
    >>> t.loc["数学计算", ["win_rate", "wins", "ties", "losses"]].tolist()
    [0.75, 1.0, 1.0, 0.0]
    >>> int(t.loc["总分", "n_inconsistent"]), int(t.loc["总分", "n_games"])
    (1, 2)
    """
    games = against_baseline(combine_orders(comparisons, inconsistent=inconsistent), baseline)
    games["inconsistent"] = games["consistent"].eq(False).fillna(False)
    games["incomplete"] = ~games["complete"]
    judged = pd.DataFrame({
        "model": games["model"], "question_id": games["question_id"],
        "category": games["category"], "status": np.where(games["used"], "ok", "not_used"),
        "score": games["win"] + games["tie"] / 2})
    result = bootstrap_replicates(judged, n_boot=n_boot, seed=seed)
    lower, upper = intervals(result, level=level)
    counts = games.groupby(["model", "category"])[_COUNTS].sum()
    full = pd.MultiIndex.from_product([result.models, CATEGORIES])
    counts = counts.reindex(full, fill_value=0).to_numpy(float)
    counts = metric_totals(counts.reshape(len(result.models), len(CATEGORIES), -1)
                           .transpose(0, 2, 1)).transpose(0, 2, 1)
    table = pd.DataFrame({
        "model": np.repeat(result.models, len(METRICS)),
        "metric": np.tile(METRICS, len(result.models)),
        "win_rate": result.estimates.ravel(), "lower": lower.ravel(), "upper": upper.ravel()})
    table[_COUNT_NAMES] = counts.reshape(-1, len(_COUNTS))
    integer = [n for n in _COUNT_NAMES if n not in ("wins", "ties", "losses")]
    return table.astype(dict.fromkeys(integer, int))
