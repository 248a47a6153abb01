"""Importers of published judge outputs into the verdicts frame.

Published judges then sit in the same tables as the judges run here, and the published
figures become tests: LLMBar's ChatGPT ``result.json`` files give their ``statistics.json``,
PandaLM's output files give its README's accuracy/precision/recall/F1. Each importer checks
that the file is about the items it claims to be (same texts and labels, or same ids), since a
silent misalignment would produce plausible, wrong figures.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from alignbench_utils.data.jsonl import read_json_array, require_fields
from alignbench_utils.errors import InputError
from alignbench_utils.judgebench.frame import verdicts_frame
from alignbench_utils.judgebench.shipped import (
    LLMBAR_PROCESSED,
    LLMBAR_SUBSETS,
    load_llmbar,
    load_pandalm,
)
from alignbench_utils.paths import judgebench_dir

__all__ = [
    "import_llmbar_result",
    "import_pandalm_result",
    "published_llmbar_chatgpt",
    "published_pandalm",
]

LLMBAR_SWAPS = {"swap = False": "ab", "swap = True": "ba"}
PANDALM_FIELDS = {"gpt_result": "gpt-3.5-turbo (published)",
                  "pandalm_result": "PandaLM-7B (published)"}
# PandaLM compute_metrics.py: these results are ties; "garbage" is an unreadable reply.
PANDALM_TIES = {"Tie": False, "tie": False, "garbage": True}


def _llmbar_status(winner: Any, completion: list[Any]) -> tuple[str, str | None]:
    """ok with a winner; ``error`` when the API returned no text and a finish reason other than
    stop/length (LLMBar records refusals such as "content management policy" so); else a
    format error (text without a verdict)."""
    if winner is not None:
        return "ok", None
    text, reason = (completion + [None, None])[:2]
    if not text and reason not in (None, "stop", "length"):
        return "error", str(reason)
    return "parse_failed", None


def _check_same_item(obj: dict[str, Any], item: pd.Series, where: dict[str, Any]) -> None:
    expected = {"input": item["instruction"], "output_1": item["output_1"],
                "output_2": item["output_2"], "label": int(item["label"])}
    for name, value in expected.items():
        if obj.get(name) != value:
            raise InputError(f"differs from the shipped item {item['item_id']} of "
                             f"{item['subset']}: the file is for other items or another order",
                             field=name, **where)


def import_llmbar_result(path: str | os.PathLike, *, subset: str,
                         judge: str = "ChatGPT Vanilla_NoRules (published)",
                         items: pd.DataFrame | None = None) -> pd.DataFrame:
    """An LLMBar ``result.json`` (one evaluator on one subset) as a verdicts frame.

    Each item's last ``results`` entry holds ``"swap = False"`` (order "ab") and
    ``"swap = True"`` (order "ba", winner already mapped back, as the verdicts frame wants);
    ``winner`` "1"/"2" is the verdict, ``raw`` the completion, ``finish_reason`` is kept. Items
    are checked against ``items`` (default: the shipped subset) text by text.
    """
    if items is None:
        if subset not in LLMBAR_SUBSETS + LLMBAR_PROCESSED:
            raise InputError(f"no shipped LLMBar subset {subset!r} to check against; pass items=",
                             path=path, field="subset")
        items = load_llmbar(subset)
    records = list(read_json_array(path))
    if len(records) != len(items):
        raise InputError(f"{len(records)} items, but {subset} has {len(items)}", path=path)
    rows = []
    for (index, obj), (_, item) in zip(records, items.iterrows()):
        where = {"path": path, "item": index}
        require_fields(obj, {"results": list}, **where)
        _check_same_item(obj, item, where)
        if not obj["results"] or not isinstance(obj["results"][-1], dict):
            raise InputError("expected a non-empty list of result objects", field="results",
                             **where)
        for swap, order in LLMBAR_SWAPS.items():
            result = obj["results"][-1].get(swap)
            if not isinstance(result, dict) or result.get("winner") not in ("1", "2", None):
                raise InputError(f"expected {{'completion': [text, finish_reason], 'winner': "
                                 f"'1' | '2' | null}}, got {result!r:.60}",
                                 field=f"results[-1].{swap}", **where)
            completion = list(result.get("completion") or [])
            status, error = _llmbar_status(result["winner"], completion)
            rows.append({"judge": judge, "benchmark": "llmbar", "subset": subset,
                         "item_id": item["item_id"], "order": order,
                         "verdict": None if result["winner"] is None else int(result["winner"]),
                         "status": status, "raw": str(completion[0]) if completion else "",
                         "finish_reason": completion[1] if len(completion) > 1 else None,
                         "error": error})
    return verdicts_frame(rows)


def published_llmbar_chatgpt() -> pd.DataFrame:
    """LLMBar's published ChatGPT (Vanilla_NoRules) verdicts on all eight shipped subsets."""
    folder = judgebench_dir() / "llmbar" / "results_chatgpt_vanilla_norules"
    return pd.concat([import_llmbar_result(folder / f"{subset}.result.json", subset=subset)
                      for subset in LLMBAR_SUBSETS + LLMBAR_PROCESSED], ignore_index=True)


def _pandalm_verdict(value: Any, where: dict[str, Any], field: str) -> tuple[int, bool]:
    """PandaLM ``compute_metrics.py``: "Tie"/"tie"/"garbage" are ties, anything else int()."""
    if isinstance(value, str) and value in PANDALM_TIES:
        return 0, PANDALM_TIES[value]
    try:
        verdict = int(value)
    except (TypeError, ValueError):
        verdict = -1
    if isinstance(value, bool) or verdict not in (0, 1, 2):
        raise InputError(f"expected 0, 1, 2, 'Tie' or 'garbage', got {value!r:.40}",
                         field=field, **where)
    return verdict, False


def import_pandalm_result(path: str | os.PathLike, *, judge: str | None = None,
                          items: pd.DataFrame | None = None) -> pd.DataFrame:
    """A PandaLM output file (``gpt-3.5-turbo-testset-v1.json`` with ``gpt_result`` or
    ``pandalm-7b-testset-v1.json`` with ``pandalm_result``) as a verdicts frame, order "ab".

    "garbage" (an unreadable GPT reply) is a tie as in PandaLM's metric script, flagged
    ``fallback`` so that tables show how many there were; ``raw`` is the stored result and
    ``reason`` its explanation. Records must carry the test set's ``idx`` in its order
    (default items: the shipped test set).
    """
    items = load_pandalm() if items is None else items
    records = list(read_json_array(path))
    if len(records) != len(items):
        raise InputError(f"{len(records)} items, but the test set has {len(items)}", path=path)
    field = next((f for f in PANDALM_FIELDS if f in records[0][1]), None)
    if field is None:
        raise InputError(f"no result field; expected one of {list(PANDALM_FIELDS)}", path=path,
                         item=0)
    rows = []
    for (index, obj), item_id in zip(records, items["item_id"]):
        where = {"path": path, "item": index}
        require_fields(obj, {"idx": int, field: (str, int)}, **where)
        if str(obj["idx"]) != item_id:
            raise InputError(f"idx {obj['idx']} at the place of test item {item_id}",
                             field="idx", **where)
        verdict, fallback = _pandalm_verdict(obj[field], where, field)
        rows.append({"judge": judge or PANDALM_FIELDS[field], "benchmark": "pandalm",
                     "subset": "testset-v1", "item_id": item_id, "order": "ab",
                     "verdict": verdict, "status": "ok", "raw": str(obj[field]),
                     "fallback": fallback,
                     "reason": obj.get(field.replace("_result", "_reason"))})
    return verdicts_frame(rows)


def published_pandalm() -> pd.DataFrame:
    """PandaLM's published gpt-3.5-turbo and PandaLM-7B verdicts on its test set."""
    folder = judgebench_dir() / "pandalm"
    items = load_pandalm()
    return pd.concat([import_pandalm_result(folder / name, items=items) for name in
                      ("gpt-3.5-turbo-testset-v1.json", "pandalm-7b-testset-v1.json")],
                     ignore_index=True)
