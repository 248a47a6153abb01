"""The common item type of pairwise meta-evaluation, and the label maps of each benchmark.

Every benchmark, whatever its own format, becomes one items frame so that judging, metrics
and tables need one code path. Labels are always 1 (``output_1`` better), 2 (``output_2``
better) or 0 (tie); each benchmark's own coding is mapped by one of the tables below, kept
next to the frame so the mappings are documented and tested in one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from alignbench_utils.data.jsonl import require_fields
from alignbench_utils.errors import InputError

__all__ = [
    "AUTOJ_LABELS",
    "ITEM_COLUMNS",
    "LABELS",
    "LLMBAR_LABELS",
    "MTBENCH_WINNERS",
    "PANDALM_LABELS",
    "items_frame",
    "majority_label",
    "map_label",
    "nonempty_items",
    "require_text",
]

ITEM_COLUMNS = ("benchmark", "subset", "item_id", "instruction", "input", "output_1", "output_2",
                "label", "group")
LABELS = (1, 2, 0)

# Each benchmark's own label -> the common label (1 = output_1, 2 = output_2, 0 = tie).
LLMBAR_LABELS: dict[Any, int] = {1: 1, 2: 2}
PANDALM_LABELS: dict[Any, int] = {0: 0, 1: 1, 2: 2, "0": 0, "1": 1, "2": 2}
# Auto-J and CritiqueLLM: 0 = response 1, 1 = response 2, 2 = tie.
AUTOJ_LABELS: dict[Any, int] = {0: 1, 1: 2, 2: 0}
# MT-Bench human judgments: the winner field; both tie kinds are ties (FastChat convertvote).
MTBENCH_WINNERS: dict[Any, int] = {"model_a": 1, "model_b": 2, "tie": 0, "tie (bothbad)": 0}


def map_label(value: Any, table: Mapping[Any, int], *, path: str | Path | None = None,
              line: int | None = None, item: int | None = None, field: str = "label") -> int:
    """Map a benchmark's own label to the common one, or fail with a located error.

    >>> map_label(0, AUTOJ_LABELS), map_label(2, AUTOJ_LABELS)
    (1, 0)
    >>> map_label(3, LLMBAR_LABELS, item=4)
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: item 4, field 'label': unknown label 3; allowed: 1, 2
    """
    if isinstance(value, bool) or value not in table:
        allowed = ", ".join(dict.fromkeys(str(k) for k in table))
        raise InputError(f"unknown label {value!r:.40}; allowed: {allowed}", path=path, line=line,
                         item=item, field=field)
    return table[value]


def majority_label(votes: Iterable[int]) -> int:
    """The most frequent label; equal counts go to the one seen first.

    This is PandaLM's ``get_majority_vote`` (``data/compute_metrics.py``: a dict of counts in
    insertion order, ``max`` by count), so the PandaLM gold labels are reproduced exactly.

    >>> majority_label([2, 1, 2]), majority_label([0, 1, 2]), majority_label([1, 0, 0])
    (2, 0, 0)
    """
    counts = Counter(votes)
    if not counts:
        raise ValueError("majority_label needs at least one vote")
    return max(counts, key=counts.__getitem__)


def items_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows (dicts with at least :data:`ITEM_COLUMNS`) as the items frame.

    ``item_id`` becomes a string (ids are joined on, and some benchmarks have composite ids),
    ``label`` a nullable integer; benchmark-specific extra columns (raw human labels, scenario,
    reference, ...) follow the common ones.

    >>> f = items_frame([{"benchmark": "b", "subset": "s", "item_id": 0, "instruction": "i",
    ...                   "input": "", "output_1": "x", "output_2": "y", "label": 1,
    ...                   "group": None}])
    >>> f.loc[0, "item_id"], str(f["label"].dtype)
    ('0', 'Int64')
    """
    frame = pd.DataFrame(list(rows))
    missing = [c for c in ITEM_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"items lack columns {missing}")
    frame["item_id"] = frame["item_id"].astype(str)
    frame["label"] = frame["label"].astype("Int64")
    extras = [c for c in frame.columns if c not in ITEM_COLUMNS]
    return frame[[*ITEM_COLUMNS, *extras]]


def require_text(obj: dict[str, Any], fields: Iterable[str], where: dict[str, Any]) -> None:
    """Every named field present and a string, else a located error (``where``: path, line or
    item)."""
    require_fields(obj, dict.fromkeys(fields, str), **where)


def nonempty_items(rows: Sequence[dict[str, Any]], source: Any) -> pd.DataFrame:
    """The items frame of a file's rows; a file without items is an error, not an empty run."""
    if not rows:
        raise InputError("file is empty: no items", path=source)
    return items_frame(rows)
