"""The verdicts frame: one row per judge call on one item in one order.

This is the contract between whatever produces pairwise verdicts (a judging run, an importer
of published outputs) and the metrics; see the package docstring for the columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

__all__ = ["KEY", "ORDERS", "STATUSES", "VERDICT_COLUMNS", "check_verdicts", "verdicts_frame"]

VERDICT_COLUMNS = ("judge", "benchmark", "subset", "item_id", "order", "verdict", "status", "raw")
KEY = ["judge", "benchmark", "subset", "item_id", "order"]
ORDERS = ("ab", "ba")
STATUSES = ("ok", "parse_failed", "error")


def check_verdicts(frame: pd.DataFrame) -> None:
    """Fail with a ``ValueError`` naming the first offending row unless ``frame`` keeps the
    contract: the columns exist, ``order`` and ``status`` take their allowed values, an ``ok``
    row has a verdict in {0, 1, 2} and any other row has none, and no key repeats.

    >>> check_verdicts(verdicts_frame([{"judge": "j", "benchmark": "b", "subset": "s",
    ...     "item_id": 1, "order": "ab", "verdict": None, "status": "ok", "raw": ""}]))
    Traceback (most recent call last):
    ...
    ValueError: verdicts row 0 (j/b/s/1/ab): status 'ok' needs a verdict in {0, 1, 2}, got <NA>
    """
    missing = [c for c in VERDICT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"verdicts frame lacks columns {missing}")
    verdict = frame["verdict"]
    ok = frame["status"].eq("ok")
    checks = [
        (~frame["order"].isin(ORDERS), lambda r: f"order must be one of {ORDERS}, got "
                                                 f"{r['order']!r}"),
        (~frame["status"].isin(STATUSES), lambda r: f"status must be one of {STATUSES}, got "
                                                    f"{r['status']!r}"),
        (ok & ~verdict.isin([0, 1, 2]).fillna(False).astype(bool),
         lambda r: f"status 'ok' needs a verdict in {{0, 1, 2}}, got {r['verdict']!r}"),
        (~ok & verdict.notna(), lambda r: f"status {r['status']!r} must have no verdict, got "
                                          f"{r['verdict']!r}"),
        (frame.duplicated(KEY), lambda r: "repeats an earlier row's key"),
    ]
    for bad, message in checks:
        if bad.any():
            position = int(bad.to_numpy().argmax())
            row = frame.iloc[position]
            key = "/".join(str(row[k]) for k in KEY)
            raise ValueError(f"verdicts row {position} ({key}): {message(row)}")


def verdicts_frame(records: Iterable[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Records (or a frame) as a checked verdicts frame: ``item_id`` as string, ``verdict`` as
    nullable integer, ``fallback`` (default False) as bool; extra columns are kept.

    >>> f = verdicts_frame([{"judge": "j", "benchmark": "llmbar", "subset": "Natural",
    ...     "item_id": 0, "order": "ba", "verdict": 2, "status": "ok", "raw": "Output (a)"}])
    >>> f.loc[0, "item_id"], int(f.loc[0, "verdict"]), bool(f.loc[0, "fallback"])
    ('0', 2, False)
    """
    frame = pd.DataFrame(records).reset_index(drop=True)
    if frame.empty:
        frame = pd.DataFrame(columns=list(VERDICT_COLUMNS))
    for column in VERDICT_COLUMNS:
        if column not in frame.columns:
            raise ValueError(f"verdicts frame lacks column {column!r}")
    frame["item_id"] = frame["item_id"].astype(str)
    try:
        frame["verdict"] = pd.array(frame["verdict"].astype(object)
                                    .where(frame["verdict"].notna(), None), dtype="Int64")
    except (TypeError, ValueError):
        raise ValueError("verdict must be 0, 1, 2 or missing (None/NA), got values such as "
                         f"{frame['verdict'].dropna().iloc[0]!r}") from None
    frame["fallback"] = (frame["fallback"].fillna(False).astype(bool) if "fallback" in frame
                         else False)
    check_verdicts(frame)
    extras = [c for c in frame.columns if c not in VERDICT_COLUMNS]
    return frame[[*VERDICT_COLUMNS, *extras]]
