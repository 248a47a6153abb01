"""The benchmarks shipped in ``data/judgebench/``: LLMBar and PandaLM, as items frames.

Both are JSON arrays; a bad record fails with an :class:`~alignbench_utils.errors.InputError`
naming the path, the item index and the field.
"""

from __future__ import annotations

import os

import pandas as pd

from alignbench_utils.data.jsonl import read_json_array, require_fields
from alignbench_utils.errors import InputError
from alignbench_utils.judgebench.items import (
    LLMBAR_LABELS,
    PANDALM_LABELS,
    majority_label,
    map_label,
    nonempty_items,
    require_text,
)
from alignbench_utils.paths import judgebench_dir

__all__ = ["LLMBAR_ADVERSARIAL", "LLMBAR_PROCESSED", "LLMBAR_SUBSETS", "load_llmbar",
           "load_pandalm"]

LLMBAR_ADVERSARIAL = ("Adversarial_Neighbor", "Adversarial_GPTInst", "Adversarial_GPTOut",
                      "Adversarial_Manual")
LLMBAR_SUBSETS = ("Natural", *LLMBAR_ADVERSARIAL)
LLMBAR_PROCESSED = ("Processed_MT-Bench", "Processed_FairEval", "Processed_LLMEval2")


def load_llmbar(subset: str = "Natural", *, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """One LLMBar subset (shipped unless ``path`` names a file in LLMBar's format).

    LLMBar's ``input`` holds the whole instruction, so it becomes ``instruction`` and ``input``
    is empty; ``item_id`` is the item's index in the file (LLMBar has no ids, and its published
    ``result.json`` files keep the same order). Labels are 1 or 2: LLMBar has no ties.

    >>> f = load_llmbar("Natural")
    >>> len(f), sorted(f["label"].unique().tolist())
    (100, [1, 2])
    """
    if path is None:
        if subset not in LLMBAR_SUBSETS + LLMBAR_PROCESSED:
            raise InputError(f"unknown LLMBar subset {subset!r}; known: "
                             f"{', '.join(LLMBAR_SUBSETS + LLMBAR_PROCESSED)}", field="benchmark")
        path = judgebench_dir() / "llmbar" / "data" / f"{subset}.json"
    rows = []
    for index, obj in read_json_array(path):
        where = {"path": path, "item": index}
        require_text(obj, ("input", "output_1", "output_2"), where)
        rows.append({"benchmark": "llmbar", "subset": subset, "item_id": index,
                     "instruction": obj["input"], "input": "", "output_1": obj["output_1"],
                     "output_2": obj["output_2"], "group": None,
                     "label": map_label(obj.get("label"), LLMBAR_LABELS, **where)})
    return nonempty_items(rows, path)


def load_pandalm(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """PandaLM's human-annotated test set (999 items, shipped unless ``path`` is given).

    ``label`` is the majority of the three annotators (:func:`~.items.majority_label`, as
    PandaLM's ``compute_metrics.py``); the three raw labels are kept as the tuple column
    ``human_labels``. ``group`` is the item's ``motivation_app``; ``cmp_key`` names the two
    models compared. The shipped file stores six responses (items 157-164, a model answering
    "True") as JSON ``true``; a boolean response becomes its Python text ``"True"``/``"False"``.

    >>> f = load_pandalm()
    >>> len(f), f["label"].value_counts().sort_index().tolist()
    (999, [105, 422, 472])
    """
    path = path or judgebench_dir() / "pandalm" / "testset-v1.json"
    rows, seen = [], {}
    for index, obj in read_json_array(path):
        where = {"path": path, "item": index}
        obj = obj | {k: str(obj[k]) for k in ("response1", "response2")
                     if isinstance(obj.get(k), bool)}
        require_fields(obj, {"idx": int}, **where)
        require_text(obj, ("motivation_app", "cmp_key", "instruction", "input", "response1",
                            "response2"), where)
        if obj["idx"] in seen:
            raise InputError(f"duplicate idx {obj['idx']} (first seen at item {seen[obj['idx']]})",
                             field="idx", **where)
        seen[obj["idx"]] = index
        votes = tuple(map_label(obj.get(f"annotator{k}"), PANDALM_LABELS, field=f"annotator{k}",
                                **where) for k in (1, 2, 3))
        rows.append({"benchmark": "pandalm", "subset": "testset-v1", "item_id": obj["idx"],
                     "instruction": obj["instruction"], "input": obj["input"],
                     "output_1": obj["response1"], "output_2": obj["response2"],
                     "label": majority_label(votes), "group": obj["motivation_app"],
                     "human_labels": votes, "cmp_key": obj["cmp_key"]})
    return nonempty_items(rows, path)
