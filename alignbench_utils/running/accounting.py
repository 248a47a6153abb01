"""Tokens and cost spent so far, per model and judge, read off the records themselves.

Every record carries its ``usage`` and ``cost_usd`` (from the endpoint's price table when one
is set), so what a run has cost is a sum over its store files: the same count for the stage
summaries, the budget check, ``results/provenance.json`` and the report's index.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import read_records_in, read_records_under

__all__ = ["folder_cost", "owner", "run_spend", "spend_by_endpoint", "spend_frame"]

_ROLES = {"judge": "judges", "model": "models"}


def owner(record: Mapping[str, Any]) -> tuple[str, str]:
    """Who paid for a record: ``("judge", name)`` for a judgment, ``("model", name)`` for
    an answer.

    >>> owner({"model": "m", "judge": "j"}), owner({"model": "m"})
    (('judge', 'j'), ('model', 'm'))
    """
    if record.get("judge"):
        return "judge", str(record["judge"])
    return "model", str(record.get("model"))


def _number(value: Any) -> float | None:
    """A finite number or None (a frame's NaN for a missing field, a JSON null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def spend_by_endpoint(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict]]:
    """``{"models": {name: totals}, "judges": {name: totals}}``; totals are ``records``,
    ``requests`` (HTTP attempts or batch submissions), ``prompt_tokens``,
    ``completion_tokens`` and ``cost_usd`` (None when no record had a price).

    >>> s = spend_by_endpoint([
    ...     {"model": "m", "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    ...      "attempts": 2, "cost_usd": 0.5},
    ...     {"model": "m", "judge": "j", "usage": {"prompt_tokens": 100, "completion_tokens": 9},
    ...      "attempts": 1, "cost_usd": None}])
    >>> s["models"]["m"]["cost_usd"], s["judges"]["j"]["prompt_tokens"], s["judges"]["j"]["cost_usd"]
    (0.5, 100, None)
    """
    out: dict[str, dict[str, dict]] = {"models": {}, "judges": {}}
    for rec in records:
        role, name = owner(rec)
        totals = out[_ROLES[role]].setdefault(name, {
            "records": 0, "requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
            "cost_usd": None})
        usage = rec.get("usage") if isinstance(rec.get("usage"), Mapping) else {}
        totals["records"] += 1
        totals["requests"] += int(_number(rec.get("attempts")) or 0)
        totals["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
        totals["completion_tokens"] += int(usage.get("completion_tokens") or 0)
        cost = _number(rec.get("cost_usd"))
        if cost is not None:
            totals["cost_usd"] = (totals["cost_usd"] or 0.0) + cost
    return out


def run_spend(run_dir: str | os.PathLike) -> dict[str, dict[str, dict]]:
    """:func:`spend_by_endpoint` over every answer and judgment record of a run folder."""
    return spend_by_endpoint(read_records_in(RunLayout(run_dir).record_dirs))


def spend_frame(spend: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Any:
    """One row per model and judge (the report's "Tokens and cost" table).

    >>> spend_frame({"models": {"m": {"records": 1, "requests": 1, "prompt_tokens": 3,
    ...              "completion_tokens": 4, "cost_usd": None}}, "judges": {}}).to_dict("records")
    [{'role': 'model', 'name': 'm', 'records': 1, 'requests': 1, 'prompt_tokens': 3, 'completion_tokens': 4, 'cost_usd': None}]
    """
    import pandas as pd

    rows = [{"role": role[:-1], "name": name, **totals}
            for role in ("models", "judges") for name, totals in spend.get(role, {}).items()]
    columns = ["role", "name", "records", "requests", "prompt_tokens", "completion_tokens",
               "cost_usd"]
    return pd.DataFrame(rows, columns=columns).astype({"cost_usd": object})


def folder_cost(folders: Iterable[str | os.PathLike], name: str, *,
                recursive: bool = False) -> float | None:
    """What the model or judge ``name`` has cost so far according to the store files in
    ``folders`` (each stage writes one endpoint's records into one folder: ``answers/``,
    ``judgments/<judge>/``), and in the folders below them when ``recursive`` (a judge's
    other protocols: ``judgments/<judge>/<protocol>/``); None when none of its records has a
    cost."""
    pattern = "**/*.jsonl" if recursive else "*.jsonl"
    spend = spend_by_endpoint(rec for folder in sorted({Path(f) for f in folders})
                              if folder.is_dir() for file in sorted(folder.glob(pattern))
                              for rec in read_records_under(file))
    costs = [spend[role][name]["cost_usd"] for role in ("models", "judges")
             if name in spend[role] and spend[role][name]["cost_usd"] is not None]
    return sum(costs) if costs else None
