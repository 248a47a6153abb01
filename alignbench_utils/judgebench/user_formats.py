"""Benchmarks read in their own formats from a user's path (Auto-J, CritiqueLLM: no licence
to ship them) or from the Hugging Face hub (MT-Bench human judgments), as items frames.

A bad JSONL record fails with an :class:`~alignbench_utils.errors.InputError` naming the path,
the line and the field, the same way question files do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from alignbench_utils.data.jsonl import read_jsonl, require_fields
from alignbench_utils.errors import InputError
from alignbench_utils.judgebench.items import (
    AUTOJ_LABELS,
    MTBENCH_WINNERS,
    majority_label,
    map_label,
    nonempty_items,
    require_text,
)
from alignbench_utils.paths import judgebench_dir

__all__ = [
    "MTBENCH_HUB",
    "autoj_scenario_groups",
    "load_autoj",
    "load_critiquellm_pairwise",
    "load_critiquellm_pointwise",
    "load_mtbench_human",
    "mtbench_human_items",
]

MTBENCH_HUB = "lmsys/mt_bench_human_judgments"


@cache
def autoj_scenario_groups() -> dict[str, str]:
    """Auto-J scenario -> its group (58 scenarios in 8 groups), from the shipped data file."""
    path = judgebench_dir() / "autoj" / "scenario_groups.json"
    groups = json.loads(path.read_text(encoding="utf-8"))
    return {scenario: group for group, members in groups.items() for scenario in members}


def _jsonl_items(path: str | os.PathLike,
                 convert: Callable[[int, dict[str, Any], dict[str, Any]], dict[str, Any]]
                 ) -> pd.DataFrame:
    """Read a JSONL benchmark file; ``convert(index, obj, where)`` validates and maps a record."""
    rows = [convert(index, obj, {"path": path, "line": number})
            for index, (number, obj) in enumerate(read_jsonl(path))]
    return nonempty_items(rows, path)


def load_autoj(path: str | os.PathLike) -> pd.DataFrame:
    """Auto-J's pairwise test set in its own format (``testdata_pairwise.jsonl``).

    Fields ``scenario, label, prompt, "response 1", "response 2"``. Auto-J codes the label as
    0 = response 1, 1 = response 2, 2 = tie; it becomes 1, 2, 0 (:data:`~.items.AUTOJ_LABELS`).
    ``group`` is the scenario's group (Auto-J reports per group and overall), ``scenario`` is
    kept; ``item_id`` is the record's 0-based position, which Auto-J's script pairs
    predictions by.
    """
    groups = autoj_scenario_groups()

    def convert(index: int, obj: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
        require_text(obj, ("scenario", "prompt", "response 1", "response 2"), where)
        if obj["scenario"] not in groups:
            raise InputError(f"unknown scenario {obj['scenario']!r:.60}: not one of Auto-J's "
                             f"{len(groups)} scenarios (data/judgebench/autoj/"
                             "scenario_groups.json)", field="scenario", **where)
        return {"benchmark": "autoj", "subset": Path(path).stem, "item_id": index,
                "instruction": obj["prompt"], "input": "", "output_1": obj["response 1"],
                "output_2": obj["response 2"], "group": groups[obj["scenario"]],
                "label": map_label(obj.get("label"), AUTOJ_LABELS, **where),
                "scenario": obj["scenario"]}

    return _jsonl_items(path, convert)


def load_critiquellm_pairwise(path: str | os.PathLike) -> pd.DataFrame:
    """A CritiqueLLM AlignBench pairwise set in its own format.

    Fields ``id, category, question, response_1, response_2, label`` (0 = response 1,
    1 = response 2, 2 = tie, mapped as Auto-J's), optional ``reference`` (reference-based sets)
    and ``human_score_1/2`` (kept). ``group`` is the AlignBench category.
    """
    seen: dict[int, int] = {}

    def convert(index: int, obj: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
        require_fields(obj, {"id": int}, **where)
        require_text(obj, ("category", "question", "response_1", "response_2"), where)
        if "reference" in obj:
            require_text(obj, ("reference",), where)
        scores = [k for k in ("human_score_1", "human_score_2") if k in obj]
        require_fields(obj, dict.fromkeys(scores, (int, float)), **where)
        if obj["id"] in seen:
            raise InputError(f"duplicate id {obj['id']} (first seen on line {seen[obj['id']]})",
                             field="id", **where)
        seen[obj["id"]] = where["line"]
        return {"benchmark": "critiquellm", "subset": Path(path).stem, "item_id": obj["id"],
                "instruction": obj["question"], "input": "", "output_1": obj["response_1"],
                "output_2": obj["response_2"], "group": obj["category"],
                "label": map_label(obj.get("label"), AUTOJ_LABELS, **where),
                "reference": obj.get("reference"), **{k: obj[k] for k in scores}}

    return _jsonl_items(path, convert)


def load_critiquellm_pointwise(path: str | os.PathLike) -> pd.DataFrame:
    """A CritiqueLLM AlignBench pointwise set: human scores of several models' answers.

    A different shape from the pairwise items: one row per (question, model) with columns
    ``question_id, id, category, question, reference, response, model, human_score`` (any
    scale; CritiqueLLM's is 1-5), ready for
    :func:`alignbench_utils.analysis.stats.agreement.judge_human_agreement`. The files have no
    question id, so ``question_id`` is the question text's first-seen position (0-based)
    unless a ``question_id`` field is present; one model answering a question twice is an
    error.
    """
    rows: list[dict[str, Any]] = []
    question_ids: dict[str, int] = {}
    first_line: dict[tuple[int, str], int] = {}
    for number, obj in read_jsonl(path):
        where = {"path": path, "line": number}
        require_fields(obj, {"id": int, "human_score": (int, float)}, **where)
        require_text(obj, ("category", "question", "response", "model"), where)
        if "reference" in obj:
            require_text(obj, ("reference",), where)
        if "question_id" in obj:
            require_fields(obj, {"question_id": int}, **where)
        qid = obj.get("question_id", question_ids.setdefault(obj["question"], len(question_ids)))
        key = (qid, obj["model"])
        if key in first_line:
            raise InputError(f"model {obj['model']!r} answers question {qid} twice (first on "
                             f"line {first_line[key]})", field="model", **where)
        first_line[key] = number
        rows.append({"question_id": qid, "id": obj["id"], "category": obj["category"],
                     "question": obj["question"], "reference": obj.get("reference"),
                     "response": obj["response"], "model": obj["model"],
                     "human_score": float(obj["human_score"])})
    if not rows:
        raise InputError("file is empty: no items", path=path)
    return pd.DataFrame(rows)


def _turn_text(conversation: list[dict[str, Any]], role: str, turn: int) -> str:
    said = [m["content"] for m in conversation if m.get("role") == role]
    return said[turn - 1] if len(said) >= turn else ""


def _mtbench_votes(records: Iterable[dict[str, Any]], source: str) -> Iterator[dict[str, Any]]:
    """Validated votes, keyed like FastChat's ``compute_agreement.py``: model names sorted,
    the winner reverted when the pair was stored the other way round."""
    fields = {"question_id": int, "model_a": str, "model_b": str, "winner": str, "judge": str,
              "turn": int, "conversation_a": list, "conversation_b": list}
    for index, obj in enumerate(records):
        where = {"path": source, "item": index}
        require_fields(obj, fields, **where)
        label = map_label(obj["winner"], MTBENCH_WINNERS, field="winner", **where)
        swap = obj["model_a"] > obj["model_b"]
        yield {"key": (obj["question_id"], *sorted((obj["model_a"], obj["model_b"])),
                       obj["turn"]),
               "label": {1: 2, 2: 1}.get(label, label) if swap else label,
               "judge": obj["judge"],
               "conversations": (obj["conversation_b"], obj["conversation_a"]) if swap
               else (obj["conversation_a"], obj["conversation_b"])}


def mtbench_human_items(records: Iterable[dict[str, Any]], *,
                        source: str = MTBENCH_HUB) -> pd.DataFrame:
    """MT-Bench human judgment records (the hub dataset's rows) as items, one per
    (question, model pair, turn).

    Every human vote is kept in ``human_labels`` (with ``annotators``): MT-Bench's agreement
    counts each vote. ``label`` is their majority (:func:`~.items.majority_label`), for
    display. ``instruction``/``output_1``/``output_2`` are the judged turn's user message and
    answers; the full conversations stay in ``conversation_1/2`` for multi-turn prompts;
    ``group`` is ``"turn 1"`` or ``"turn 2"``.

    >>> conv = lambda a: [{"role": "user", "content": "q"}, {"role": "assistant", "content": a}]
    >>> rec = {"question_id": 81, "model_a": "vicuna", "model_b": "alpaca", "winner": "model_a",
    ...        "judge": "expert_0", "turn": 1, "conversation_a": conv("v"),
    ...        "conversation_b": conv("a")}
    >>> f = mtbench_human_items([rec, rec | {"judge": "expert_1", "winner": "tie"}])
    >>> f.loc[0, "item_id"], f.loc[0, "output_1"], int(f.loc[0, "label"]), f.loc[0, "human_labels"]
    ('81:alpaca:vicuna:1', 'a', 2, (2, 0))
    """
    items: dict[tuple, dict[str, Any]] = {}
    for vote in _mtbench_votes(records, source):
        qid, model_1, model_2, turn = vote["key"]
        item = items.setdefault(vote["key"], {
            "benchmark": "mtbench-human", "subset": "human",
            "item_id": f"{qid}:{model_1}:{model_2}:{turn}",
            "instruction": _turn_text(vote["conversations"][0], "user", turn), "input": "",
            "output_1": _turn_text(vote["conversations"][0], "assistant", turn),
            "output_2": _turn_text(vote["conversations"][1], "assistant", turn),
            "group": f"turn {turn}", "question_id": qid, "model_1": model_1, "model_2": model_2,
            "turn": turn, "conversation_1": vote["conversations"][0],
            "conversation_2": vote["conversations"][1], "human_labels": (), "annotators": ()})
        item["human_labels"] += (vote["label"],)
        item["annotators"] += (vote["judge"],)
    rows = [item | {"label": majority_label(item["human_labels"])} for item in items.values()]
    return nonempty_items(rows, source)


def load_mtbench_human(split: str = "human", *, name: str = MTBENCH_HUB) -> pd.DataFrame:
    """MT-Bench's expert human judgments from the Hugging Face hub (needs network access and
    the ``datasets`` cache; never used by the tests). See :func:`mtbench_human_items`."""
    import datasets

    return mtbench_human_items(datasets.load_dataset(name, split=split), source=name)
