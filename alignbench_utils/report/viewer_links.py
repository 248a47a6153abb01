"""Links from the rows of a report table to their items in the judgment viewer.

Why: the error-analysis tables (notebook 06's lowest-scored answers and judge disagreements,
notebook 07's worst judge-eval disagreements) show each row cut to a few hundred characters;
the viewer (``reports/<run>/viewer.html``) shows the whole item: question, answer, every
critique with its parsed scores, raw outputs, the second judge beside it. A link per row opens
it there. Links are relative: the report's notebook pages and ``viewer.html`` share a folder.
The query is the viewer's deep-link contract (``item``, ``side``; docs/architecture.md).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from pandas.io.formats.style import Styler

from alignbench_utils.data.layout import VIEWER_PAGE

__all__ = ["LINK_COLUMN", "TEXT_COLUMNS", "link_table", "viewer_links", "viewer_url",
           "with_viewer_links"]

LINK_COLUMN = "viewer"
# Long texts left out of a link table (the viewer shows them whole).
TEXT_COLUMNS = ("question", "answer", "judgment", "judgment_2", "reference", "error",
                "instruction", "output_1", "output_2", "raw_ab", "raw_ba")
_PROTOCOL_SUFFIX = re.compile(r"^(?P<judge>[^/]+)/(?P<protocol>[^/]+)$")
_ORDERS = ("ab", "ba")


def _question_id(value: Any) -> str:
    """A question id as the viewer writes it (``7``, not ``7.0``)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def viewer_url(judge: str, *, model: str | None = None, question_id: Any = None,
               protocol: str | None = None, pair_id: str | None = None,
               order: str | None = None, side: str | None = None,
               page: str = VIEWER_PAGE) -> str:
    """The viewer's link to one item: a judgment (``judge``, ``model``, ``question_id``) or
    one order of a pair (``judge``, ``protocol``, ``pair_id``, ``order``); ``side`` puts a
    second one beside it (``judge:<name>``, ``order:<judge> / <protocol> / <order>``).

    >>> viewer_url("judge-a", model="qwen", question_id=12.0, side="judge:judge-b")
    'viewer.html?item=judge-a%7Cqwen%7C12&side=judge%3Ajudge-b'
    >>> viewer_url("gpt", protocol="llmbar-vanilla", pair_id="llmbar/Natural/3", order="ab")
    'viewer.html?item=gpt%7Cllmbar-vanilla%7Cllmbar%2FNatural%2F3%7Cab'
    """
    key = ([judge, protocol, pair_id, order] if pair_id is not None
           else [judge, model, _question_id(question_id)])
    if any(part is None for part in key):
        raise ValueError(f"an item needs judge, model and question_id, or judge, protocol, "
                         f"pair_id and order; got {key}")
    query = {"item": "|".join(map(str, key))} | ({"side": side} if side else {})
    return f"{page}?{urlencode(query)}"


def _pair_link(row: Mapping[str, Any], protocol: str | None, page: str) -> str:
    """A judge-eval row (``judge``, ``benchmark``, ``subset``, ``item_id``): its first order,
    the other order beside it. A judge named ``judge/protocol`` (a judge recorded under
    several protocols, as ``compare.verdicts_from_records`` names it) links under that protocol.
    """
    judge = str(row["judge"])
    named = _PROTOCOL_SUFFIX.match(judge)
    if named:
        judge, protocol = named["judge"], named["protocol"]
    if protocol is None:
        raise ValueError("judge-eval rows need protocol= (the pairwise protocol judged)")
    orders = [o for o in _ORDERS if pd.notna(row.get(f"status_{o}"))] or ["ab"]
    side = f"order:{judge} / {protocol} / {orders[1]}" if len(orders) > 1 else None
    return viewer_url(judge, protocol=protocol, order=orders[0], side=side, page=page,
                      pair_id=f"{row['benchmark']}/{row['subset']}/{row['item_id']}")


def viewer_links(table: pd.DataFrame, *, judge: str | None = None,
                 side_judge: str | None = None, protocol: str | None = None,
                 page: str = VIEWER_PAGE) -> pd.Series:
    """The viewer link of every row of ``table``.

    Rows of judgments (``model``, ``question_id``; the judge from a ``judge`` column, else
    ``judge=``) open that judgment, ``side_judge``'s beside it when given; rows of judge-eval
    pairs (``benchmark``, ``subset``, ``item_id``) open the pair under ``protocol``.

    >>> rows = pd.DataFrame({"model": ["m"], "question_id": [3], "gap": [4.0]})
    >>> viewer_links(rows, judge="A", side_judge="B").tolist()
    ['viewer.html?item=A%7Cm%7C3&side=judge%3AB']
    """
    if table.empty:
        return pd.Series([], index=table.index, dtype=object, name=LINK_COLUMN)
    if "item_id" in table.columns:
        links = [_pair_link(row, protocol, page) for row in table.to_dict("records")]
    else:
        if judge is None and "judge" not in table.columns:
            raise ValueError("rows without a judge column need judge=")
        judges = table["judge"] if "judge" in table.columns else [judge] * len(table)
        side = f"judge:{side_judge}" if side_judge else None
        links = [viewer_url(str(j), model=m, question_id=q, side=side, page=page)
                 for j, m, q in zip(judges, table["model"], table["question_id"])]
    return pd.Series(links, index=table.index, name=LINK_COLUMN)


def with_viewer_links(table: pd.DataFrame, *, judge: str | None = None,
                      side_judge: str | None = None, protocol: str | None = None,
                      page: str = VIEWER_PAGE) -> pd.DataFrame:
    """``table`` with a ``viewer`` column: each row's link to its item (:func:`viewer_links`),
    for :func:`~alignbench_utils.report.tables.html_table`'s ``link_columns``.

    >>> with_viewer_links(pd.DataFrame({"model": ["m"], "question_id": [3]}), judge="A").iloc[0, -1]
    'viewer.html?item=A%7Cm%7C3'
    """
    return table.assign(**{LINK_COLUMN: viewer_links(table, judge=judge, side_judge=side_judge,
                                                     protocol=protocol, page=page)})


def link_table(table: pd.DataFrame, *, judge: str | None = None,
               side_judge: str | None = None, protocol: str | None = None,
               page: str = VIEWER_PAGE) -> Styler:
    """``table`` without its long texts (``TEXT_COLUMNS``) and with a link per row to its
    item in the viewer (:func:`with_viewer_links`), for display in a notebook and the report."""
    shown = with_viewer_links(table.drop(columns=[c for c in TEXT_COLUMNS if c in table.columns]),
                              judge=judge, side_judge=side_judge, protocol=protocol, page=page)
    return (shown.style.format(precision=1, escape="html")
            .format(lambda url: f'<a href="{html.escape(url)}">open in the viewer</a>',
                    subset=[LINK_COLUMN])
            .hide(axis="index"))
