"""Each benchmark's official agreement metric, plus format errors and position bias.

Why per-item features: every metric here is a function of *sums over items* (counts of hits,
of calls, of confusion cells). Each item contributes one row of features; a metric's value is
``value(X.sum(0))`` and a bootstrap replicate is ``value(W @ X)`` with ``W`` the resample
counts of items (:mod:`.table`), so one matrix product gives every replicate of every metric.

Families (the benchmark decides which; :data:`BENCHMARK_FAMILY`), all over judged items:

- **llmbar** (LLMBar ``evaluate.py``): ``correct_ab``/``correct_ba`` (its ``correct_False``/
  ``correct_True``), ``correct_average`` = both orders' hits / 2N (its headline accuracy),
  ``correct_both`` = both orders right / N, ``equal`` = same winner in both orders / N. No
  verdict is never right; as in the official code (``output_True == output_False``), two
  missing verdicts count as ``equal``.
- **autoj** (Auto-J ``pairwise_eval.py``; CritiqueLLM's ``eval_pairwise.py`` is the same):
  ties are a class; ``agreement`` = both orders equal the label / N; consistency is the common
  ``consistency`` below.
- **pandalm** (PandaLM ``compute_metrics.py``): ``accuracy`` and macro ``precision``,
  ``recall``, ``f1`` over {0, 1, 2} against the annotator majority, a class with no
  prediction (or no gold) scoring 0 as officially. The order shown is "ab" (PandaLM judges one
  order); with ``swap_rule`` its paper's rule combines both orders: the same label in both is
  kept, a conflict or a tie in either is a tie. A missing verdict is wrong: it counts against
  its gold class's recall and in no class's precision.
- **mtbench** (FastChat ``compute_agreement.py``): the judge's vote is its verdict when both
  orders agree, a tie when they disagree (FastChat's "inconsistent"); every human vote of an
  item (``human_labels``, else ``label``) is compared: ``agreement_with_ties`` over all votes,
  ``agreement_without_ties`` leaving out pairs where the judge or the human says tie. A judge
  with no verdict in either order disagrees with every vote.

Common to every family (rates over calls or items of one judge on one benchmark subset):
``parse_failed_rate``, ``error_rate``, ``fallback_rate`` (official fallbacks such as PandaLM's
tie for an unreadable reply); ``consistency`` = items with the same verdict in both orders / items
judged in both (a missing verdict is never consistent); ``position_bias`` = share of decisive
(non-tie) verdicts that chose the response shown first, minus 0.5 (0 = no preference; with
both orders judged the gold labels cancel, so this is the judge's own lean, cf. Wang et al.
2023, "Large Language Models are not Fair Evaluators"); ``biased_first``/``biased_second`` =
share of items judged in both orders where the judge chose the first-/second-shown response
both times, i.e. changed its mind with the order (Zheng et al. 2023, "Judging LLM-as-a-Judge
with MT-Bench and Chatbot Arena", Table 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "BENCHMARK_FAMILY",
    "COMMON_METRICS",
    "FAMILY_METRICS",
    "HEADLINE",
    "ItemArrays",
    "features",
    "item_arrays",
    "metric_values",
]

BENCHMARK_FAMILY = {"llmbar": "llmbar", "pandalm": "pandalm", "autoj": "autoj",
                    "critiquellm": "autoj", "mtbench-human": "mtbench"}
HEADLINE = {"llmbar": "correct_average", "autoj": "agreement", "pandalm": "accuracy",
            "mtbench": "agreement_without_ties"}
Sums = dict[str, np.ndarray]


@dataclass(frozen=True)
class ItemArrays:
    """One judge on one benchmark subset, item-aligned (``n`` items of the subset).

    ``ab``/``ba``: verdicts mapped back to the original labels, NaN for no verdict or no call;
    ``has_ab``/``has_ba``: a call was made; ``votes``: (n, m) human votes, NaN-padded;
    ``calls``/``parse_failures``/``errors``/``fallbacks``: counts per item.
    """

    label: np.ndarray
    votes: np.ndarray
    ab: np.ndarray
    ba: np.ndarray
    has_ab: np.ndarray
    has_ba: np.ndarray
    calls: np.ndarray
    parse_failures: np.ndarray
    errors: np.ndarray
    fallbacks: np.ndarray


def _votes(items: pd.DataFrame) -> np.ndarray:
    if "human_labels" not in items.columns:
        return items["label"].to_numpy(dtype=float)[:, None]
    raw = [tuple(v) if isinstance(v, (tuple, list)) else (lab,)
           for v, lab in zip(items["human_labels"], items["label"])]
    out = np.full((len(raw), max(map(len, raw))), np.nan)
    for i, votes in enumerate(raw):
        out[i, :len(votes)] = votes
    return out


def item_arrays(verdicts: pd.DataFrame, items: pd.DataFrame) -> ItemArrays:
    """Align one judge's verdicts on one subset with that subset's items (in items order).

    >>> from .items import items_frame
    >>> from .frame import verdicts_frame
    >>> its = items_frame([{"benchmark": "b", "subset": "s", "item_id": i, "instruction": "",
    ...     "input": "", "output_1": "", "output_2": "", "label": 1, "group": None}
    ...     for i in range(2)])
    >>> vs = verdicts_frame([{"judge": "j", "benchmark": "b", "subset": "s", "item_id": 1,
    ...     "order": "ba", "verdict": 2, "status": "ok", "raw": ""}])
    >>> a = item_arrays(vs, its)
    >>> a.ba.tolist(), a.has_ab.tolist(), a.calls.tolist()
    ([nan, 2.0], [False, False], [0, 1])
    """
    position = pd.Index(items["item_id"]).get_indexer(verdicts["item_id"])
    if (position < 0).any():
        unknown = verdicts["item_id"].to_numpy()[position < 0]
        raise ValueError(f"{len(unknown)} verdicts name items not in the items frame "
                         f"(e.g. item_id {unknown[0]!r})")
    n = len(items)
    verdict = verdicts["verdict"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    status = verdicts["status"].to_numpy()
    by_order = {}
    for order in ("ab", "ba"):
        chosen = verdicts["order"].to_numpy() == order
        values = np.full(n, np.nan)
        values[position[chosen]] = verdict[chosen]
        by_order[order] = (values, np.bincount(position[chosen], minlength=n) > 0)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(position[mask], minlength=n)

    return ItemArrays(
        label=items["label"].to_numpy(dtype=float), votes=_votes(items),
        ab=by_order["ab"][0], ba=by_order["ba"][0], has_ab=by_order["ab"][1],
        has_ba=by_order["ba"][1], calls=count(np.ones(len(position), bool)),
        parse_failures=count(status == "parse_failed"), errors=count(status == "error"),
        fallbacks=count(verdicts["fallback"].to_numpy(dtype=bool)))


def _common(a: ItemArrays) -> Sums:
    both = a.has_ab & a.has_ba
    decisive = np.isin(a.ab, (1, 2)).astype(int) + np.isin(a.ba, (1, 2))
    return {"judged": (a.calls > 0), "calls": a.calls, "parse_failures": a.parse_failures,
            "errors": a.errors, "fallbacks": a.fallbacks, "paired": both,
            "consistent": both & (a.ab == a.ba), "first_shown": (a.ab == 1).astype(int)
            + (a.ba == 2), "decisive": decisive, "biased_first": (a.ab == 1) & (a.ba == 2),
            "biased_second": (a.ab == 2) & (a.ba == 1)}


def _need_both_orders(a: ItemArrays, family: str) -> None:
    half = (a.calls > 0) & ~(a.has_ab & a.has_ba)
    if half.any():
        raise ValueError(f"{family} metrics need both orders; {int(half.sum())} judged items "
                         f"have only one (e.g. item at position {int(half.argmax())})")


def _llmbar(a: ItemArrays, _: bool) -> Sums:
    _need_both_orders(a, "llmbar")
    hit_ab, hit_ba = a.ab == a.label, a.ba == a.label
    return {"hit_ab": hit_ab, "hit_ba": hit_ba, "hit_both": hit_ab & hit_ba,
            "equal": (a.ab == a.ba) | (np.isnan(a.ab) & np.isnan(a.ba))}


def _autoj(a: ItemArrays, _: bool) -> Sums:
    _need_both_orders(a, "autoj")
    return {"agree_both": (a.ab == a.label) & (a.ba == a.label)}


def _combined_vote(a: ItemArrays) -> np.ndarray:
    """One vote from both orders: the same verdict in both is kept, anything else is a tie, a
    missing verdict in either leaves none. This is PandaLM's paper's swap rule (a conflict or a
    tie in either order is a tie) and MT-Bench's (an inconsistent pair counts as a tie)."""
    return np.where(np.isnan(a.ab) | np.isnan(a.ba), np.nan, np.where(a.ab == a.ba, a.ab, 0))


def _pandalm(a: ItemArrays, swap_rule: bool) -> Sums:
    if swap_rule:
        _need_both_orders(a, "pandalm swap-rule")
    prediction = _combined_vote(a) if swap_rule else a.ab
    counted = a.has_ab & a.has_ba if swap_rule else a.has_ab
    column = np.where(np.isnan(prediction), 3, np.nan_to_num(prediction)).astype(int)
    cell = a.label.astype(int) * 4 + column
    return {f"cm{k}": counted & (cell == k) for k in range(12)}


def _mtbench(a: ItemArrays, _: bool) -> Sums:
    _need_both_orders(a, "mtbench")
    vote = _combined_vote(a)
    human = a.votes
    present = ~np.isnan(human) & (a.calls > 0)[:, None]
    agree = present & (human == vote[:, None])
    decisive = present & (human != 0) & (vote != 0)[:, None]
    return {"votes": present.sum(1), "votes_agree": agree.sum(1),
            "votes_decisive": decisive.sum(1), "votes_decisive_agree": (decisive & agree).sum(1)}


FEATURES: dict[str, Callable[[ItemArrays, bool], Sums]] = {
    "llmbar": _llmbar, "autoj": _autoj, "pandalm": _pandalm, "mtbench": _mtbench}


def features(a: ItemArrays, family: str, *, swap_rule: bool = False) -> tuple[list[str],
                                                                               np.ndarray]:
    """Feature names and the (n items, k) feature matrix of one judge on one subset."""
    named = _common(a) | FEATURES[family](a, swap_rule)
    return list(named), np.column_stack([np.asarray(v, dtype=float) for v in named.values()])


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _macro(s: Sums) -> dict[str, np.ndarray]:
    """PandaLM's accuracy and macro precision/recall/F1 from summed confusion cells."""
    cm = np.stack([s[f"cm{k}"] for k in range(12)], axis=-1).reshape(*np.shape(s["cm0"]), 3, 4)
    tp = np.diagonal(cm[..., :3], axis1=-2, axis2=-1)
    predicted = cm[..., :3].sum(axis=-2)
    gold = cm.sum(axis=-1)
    precision = np.nan_to_num(_ratio(tp, predicted))
    recall = np.nan_to_num(_ratio(tp, gold))
    f1 = np.nan_to_num(_ratio(2 * precision * recall, precision + recall))
    return {"accuracy": _ratio(tp.sum(-1), gold.sum(-1)), "precision": precision.mean(-1),
            "recall": recall.mean(-1), "f1": f1.mean(-1)}


COMMON_METRICS: dict[str, Callable[[Sums], np.ndarray]] = {
    "parse_failed_rate": lambda s: _ratio(s["parse_failures"], s["calls"]),
    "error_rate": lambda s: _ratio(s["errors"], s["calls"]),
    "fallback_rate": lambda s: _ratio(s["fallbacks"], s["calls"]),
    "consistency": lambda s: _ratio(s["consistent"], s["paired"]),
    "position_bias": lambda s: _ratio(s["first_shown"], s["decisive"]) - 0.5,
    "biased_first": lambda s: _ratio(s["biased_first"], s["paired"]),
    "biased_second": lambda s: _ratio(s["biased_second"], s["paired"]),
}
FAMILY_METRICS: dict[str, Callable[[Sums], dict[str, np.ndarray]]] = {
    "llmbar": lambda s: {
        "correct_average": _ratio(s["hit_ab"] + s["hit_ba"], 2 * s["judged"]),
        "correct_both": _ratio(s["hit_both"], s["judged"]),
        "equal": _ratio(s["equal"], s["judged"]),
        "correct_ab": _ratio(s["hit_ab"], s["judged"]),
        "correct_ba": _ratio(s["hit_ba"], s["judged"])},
    "autoj": lambda s: {"agreement": _ratio(s["agree_both"], s["judged"])},
    "pandalm": _macro,
    "mtbench": lambda s: {
        "agreement_with_ties": _ratio(s["votes_agree"], s["votes"]),
        "agreement_without_ties": _ratio(s["votes_decisive_agree"], s["votes_decisive"])},
}


def metric_values(names: list[str], sums: np.ndarray, family: str) -> dict[str, np.ndarray]:
    """Every metric of ``family`` (headline first) and the common ones, from feature sums
    (``(k,)`` for the estimate or ``(n_boot, k)`` for replicates)."""
    s = {name: sums[..., i] for i, name in enumerate(names)}
    return FAMILY_METRICS[family](s) | {name: fn(s) for name, fn in COMMON_METRICS.items()}
