"""Tokens and cost spent so far, per model and judge, read off the records themselves.

Every record carries its ``usage`` and ``cost_usd`` (from the endpoint's price table when one
is set), so what a run has cost is a sum over its store files: the same count for the stage
summaries, the budget check, ``results/provenance.json`` and the report's index. Every stage
counts (answers, pointwise judgments, judge meta-evaluation, pairwise comparisons): a judge's
spend is its records' ``cost_usd`` in all of them, broken down by stage.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from alignbench_utils.data.layout import RunLayout, run_root
from alignbench_utils.data.store import read_records_in, read_records_under

__all__ = ["endpoint_cost", "folder_cost", "folder_spend", "owner", "record_stage", "run_spend",
           "spend_by_endpoint", "spend_folders", "spend_frame"]

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


def record_stage(record: Mapping[str, Any]) -> str:
    """The stage that wrote a record (a key of :data:`layout.STAGE_DIRS`).

    >>> [record_stage(r) for r in ({"model": "m"}, {"judge": "j"},
    ...  {"kind": "pairwise", "benchmark": "llmbar"}, {"kind": "pairwise", "model_a": "m"})]
    ['generate', 'judge', 'judge_eval', 'pairwise']
    """
    if record.get("kind") == "pairwise":
        return "judge_eval" if "benchmark" in record else "pairwise"
    return "judge" if record.get("judge") else "generate"


def _totals() -> dict[str, Any]:
    return {"records": 0, "requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
            "cost_usd": None}


def _add_record(totals: dict[str, Any], rec: Mapping[str, Any]) -> None:
    usage = rec.get("usage") if isinstance(rec.get("usage"), Mapping) else {}
    totals["records"] += 1
    totals["requests"] += int(_number(rec.get("attempts")) or 0)
    totals["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
    totals["completion_tokens"] += int(usage.get("completion_tokens") or 0)
    cost = _number(rec.get("cost_usd"))
    if cost is not None:
        totals["cost_usd"] = (totals["cost_usd"] or 0.0) + cost


def _number(value: Any) -> float | None:
    """A finite number or None (a frame's NaN for a missing field, a JSON null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def spend_by_endpoint(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict]]:
    """``{"models": {name: totals}, "judges": {name: totals}}``; totals are ``records``,
    ``requests`` (HTTP attempts or batch submissions), ``prompt_tokens``,
    ``completion_tokens``, ``cost_usd`` (None when no record had a price) and ``stages``:
    the same totals per stage (:func:`record_stage`).

    >>> s = spend_by_endpoint([
    ...     {"model": "m", "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    ...      "attempts": 2, "cost_usd": 0.5},
    ...     {"model": "m", "judge": "j", "usage": {"prompt_tokens": 100, "completion_tokens": 9},
    ...      "attempts": 1, "cost_usd": None},
    ...     {"kind": "pairwise", "judge": "j", "model_a": "m", "attempts": 1, "cost_usd": 0.25}])
    >>> s["models"]["m"]["cost_usd"], s["judges"]["j"]["prompt_tokens"], s["judges"]["j"]["cost_usd"]
    (0.5, 100, 0.25)
    >>> {stage: t["cost_usd"] for stage, t in s["judges"]["j"]["stages"].items()}
    {'judge': None, 'pairwise': 0.25}
    """
    out: dict[str, dict[str, dict]] = {"models": {}, "judges": {}}
    for rec in records:
        role, name = owner(rec)
        totals = out[_ROLES[role]].setdefault(name, {**_totals(), "stages": {}})
        _add_record(totals, rec)
        _add_record(totals["stages"].setdefault(record_stage(rec), _totals()), rec)
    return out


def run_spend(run_dir: str | os.PathLike,
              records: Iterable[Mapping[str, Any]] | None = None) -> dict[str, dict[str, dict]]:
    """:func:`spend_by_endpoint` over every record of every stage of a run folder: the one
    count of spend that every page shows. ``records``: the run's answer and judgment records
    when already read (``RunLayout.record_dirs``); the other stages' are read here."""
    layout = RunLayout(run_dir)
    if records is None:
        return spend_by_endpoint(read_records_in(layout.stage_dirs.values()))
    others = [d for d in layout.stage_dirs.values() if d not in layout.record_dirs]
    return spend_by_endpoint([*records, *read_records_in(others)])


def spend_frame(spend: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Any:
    """One row per model and judge (the report's "Tokens and cost" table), with the cost of
    each stage in a column ``cost_usd <stage>`` when any endpoint spent in more than one.

    >>> spend_frame({"models": {"m": {"records": 1, "requests": 1, "prompt_tokens": 3,
    ...              "completion_tokens": 4, "cost_usd": None}}, "judges": {}}).to_dict("records")
    [{'role': 'model', 'name': 'm', 'records': 1, 'requests': 1, 'prompt_tokens': 3, 'completion_tokens': 4, 'cost_usd': None}]
    """
    import pandas as pd

    entries = [(role[:-1], name, totals) for role in ("models", "judges")
               for name, totals in spend.get(role, {}).items()]
    stages = sorted({stage for *_, totals in entries for stage in totals.get("stages", {})})
    by_stage = [f"cost_usd {stage}" for stage in stages] if len(stages) > 1 else []
    rows = [{"role": role, "name": name, **{k: v for k, v in totals.items() if k != "stages"},
             **{f"cost_usd {stage}": t["cost_usd"]
                for stage, t in totals.get("stages", {}).items()}}
            for role, name, totals in entries]
    columns = ["role", "name", "records", "requests", "prompt_tokens", "completion_tokens",
               "cost_usd", *by_stage]
    frame = pd.DataFrame(rows, columns=columns)
    money = ["cost_usd", *by_stage]
    frame[money] = frame[money].astype(object).where(frame[money].notna(), None)
    return frame


def spend_folders(store_files: Iterable[str | os.PathLike]) -> set[Path]:
    """The folders whose records count against an endpoint writing ``store_files``: every
    stage folder of their run (the budget is for the whole run), or a store file's own
    folder when it lies outside a run folder.

    >>> sorted(p.name for p in spend_folders(["runs/r/judgments/j/m.jsonl", "out/x.jsonl"]))
    ['answers', 'comparisons', 'judge_eval', 'judgments', 'out']
    """
    folders: set[Path] = set()
    for file in store_files:
        root = run_root(file)
        folders |= (set(RunLayout(root).stage_dirs.values()) if root is not None
                    else {Path(file).parent})
    return folders


def folder_spend(folders: Iterable[str | os.PathLike]) -> dict[str, dict[str, dict]]:
    """:func:`spend_by_endpoint` of the store files in ``folders`` and below them
    (:func:`spend_folders`)."""
    return spend_by_endpoint(rec for folder in sorted({Path(f) for f in folders})
                             if folder.is_dir() for rec in read_records_under(folder))


def endpoint_cost(spend: Mapping[str, Mapping[str, Mapping[str, Any]]],
                  name: str) -> float | None:
    """What the model or judge ``name`` has cost in ``spend`` (:func:`spend_by_endpoint`);
    None when none of its records has a cost.

    >>> endpoint_cost({"models": {"m": {"cost_usd": 0.5}}, "judges": {"m": {"cost_usd": 1.0}}},
    ...               "m")
    1.5
    """
    costs = [spend[role][name]["cost_usd"] for role in ("models", "judges")
             if name in spend[role] and spend[role][name]["cost_usd"] is not None]
    return sum(costs) if costs else None


def folder_cost(folders: Iterable[str | os.PathLike], name: str) -> float | None:
    """What the model or judge ``name`` has cost so far according to the store files in
    ``folders`` and below them (:func:`spend_folders`); None when none of its records has a
    cost."""
    return endpoint_cost(folder_spend(folders), name)
