"""Question loading and validation.

Questions are validated line by line so that a bad file fails with one error that names
file, line and field, before any API call is made. The official answer/judgment file
formats live in :mod:`alignbench_utils.data.official` (re-exported here for older imports).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alignbench_utils.data.jsonl import read_json_array, read_jsonl, require_fields, write_jsonl
from alignbench_utils.data.official import (
    read_official_answers,
    read_official_judgments,
    write_official_answers,
    write_official_judgments,
)
from alignbench_utils.errors import InputError
from alignbench_utils.paths import benchmark_dir
from alignbench_utils.taxonomy import CATEGORIES, subcategory_map

__all__ = [
    "MAX_QUESTION_CHARS",
    "QUESTION_FIELDS",
    "load_questions",
    "question_rows",
    "read_json_array",
    "read_jsonl",
    "read_official_answers",
    "read_official_judgments",
    "require_fields",
    "source_problem",
    "stratified_subset",
    "validate_question",
    "write_jsonl",
    "write_official_answers",
    "write_official_judgments",
]

QUESTION_FIELDS: dict[str, type] = {
    "question_id": int,
    "category": str,
    "subcategory": str,
    "question": str,
    "reference": str,
}
SHIPPED = {"v1.0": "data_v1.0_release.jsonl", "v1.1": "data_v1.1_release.jsonl"}
HUB_PREFIX = "hf:"  # a Hugging Face dataset is named explicitly: hf:ORG/NAME
# A question longer than this (characters) is most likely a broken file (a whole document in
# one field): it is loaded, with a warning, since every request would carry it.
MAX_QUESTION_CHARS = 100_000


def validate_question(obj: dict[str, Any], *, path: str | Path | None = None,
                      line: int | None = None) -> dict[str, Any]:
    """Check one question record and return its normalised form.

    >>> validate_question({"question_id": 1, "category": "数学计算", "subcategory": "初等数学",
    ...                    "question": "1+1=?", "reference": "2"})["question_id"]
    1
    >>> validate_question({"question_id": 1, "category": "数学", "subcategory": "初等数学",
    ...                    "question": "1+1=?", "reference": "2"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: field 'category': unknown category '数学'; allowed: ...
    """
    where = {"path": path, "line": line}
    require_fields(obj, QUESTION_FIELDS, **where)
    if obj["category"] not in CATEGORIES:
        raise InputError(f"unknown category {obj['category']!r}; allowed: {', '.join(CATEGORIES)}",
                         field="category", **where)
    allowed_sub = subcategory_map()
    if obj["subcategory"] not in allowed_sub:
        raise InputError(
            f"unknown subcategory {obj['subcategory']!r}; allowed: {', '.join(allowed_sub)}",
            field="subcategory", **where)
    if not obj["question"].strip():
        raise InputError("question is empty", field="question", **where)
    record = {name: obj[name] for name in QUESTION_FIELDS}
    if isinstance(obj.get("evidences"), list):
        record["evidences"] = json.dumps(obj["evidences"], ensure_ascii=False)
    return record


def _load_file(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    first_line: dict[int, int] = {}
    for number, obj in read_jsonl(path):
        rec = validate_question(obj, path=path, line=number)
        qid = rec["question_id"]
        if qid in first_line:
            raise InputError(f"duplicate question_id {qid} (first seen on line {first_line[qid]})",
                             path=path, line=number, field="question_id")
        first_line[qid] = number
        rows.append(rec)
    if not rows:
        raise InputError("file is empty: no questions", path=path)
    _warn_long_questions(rows, path, first_line)
    return rows


def _warn_long_questions(rows: Sequence[dict[str, Any]], source: str | Path,
                         lines: dict[int, int]) -> None:
    """One warning naming the questions above :data:`MAX_QUESTION_CHARS` (each is sent with
    every request about it, to every model and judge)."""
    long = [(lines[r["question_id"]], len(r["question"])) for r in rows
            if len(r["question"]) > MAX_QUESTION_CHARS]
    if long:
        shown = ", ".join(f"line {line}: {size:,} characters" for line, size in long[:5])
        warnings.warn(f"{source}: {len(long)} question(s) longer than {MAX_QUESTION_CHARS:,} "
                      f"characters ({shown}); each is sent whole with every request about it",
                      UserWarning, stacklevel=3)


def _load_hub(name: str) -> list[dict[str, Any]]:
    import datasets

    hub = datasets.load_dataset(name, split="train")
    rows, seen = [], {}
    for number, obj in enumerate(hub, start=1):
        rec = validate_question(dict(obj), path=name, line=number)
        if rec["question_id"] in seen:
            raise InputError(f"duplicate question_id {rec['question_id']}", path=name, line=number,
                             field="question_id")
        seen[rec["question_id"]] = number
        rows.append(rec)
    if not rows:
        raise InputError("dataset is empty: no questions", path=name)
    _warn_long_questions(rows, name, seen)
    return rows


def stratified_subset(rows: Sequence[dict[str, Any]], per_category: int,
                      seed: int = 0) -> list[dict[str, Any]]:
    """Seeded draw of up to ``per_category`` questions from each category, file order kept.

    >>> rows = [{"question_id": i, "category": c} for i, c in enumerate("aabbbc")]
    >>> [r["question_id"] for r in stratified_subset(rows, 2, seed=0)]
    [0, 1, 2, 3, 5]
    """
    if per_category < 1:
        raise ValueError(f"per_category must be >= 1, got {per_category}")
    rng = np.random.default_rng(seed)
    by_category: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_category.setdefault(row["category"], []).append(index)
    keep: set[int] = set()
    for category in sorted(by_category):
        indices = by_category[category]
        take = min(per_category, len(indices))
        keep.update(int(i) for i in rng.choice(indices, size=take, replace=False))
    return [row for index, row in enumerate(rows) if index in keep]


def source_problem(source: str) -> str | None:
    """Why ``source`` names no question set (None when it does), checked without loading it:
    a shipped release, an existing file or ``hf:ORG/NAME``.

    >>> source_problem("v1.1") is None, source_problem("v2.0")
    (True, "unknown question source 'v2.0'; expected one of 'v1.0', 'v1.1', a path to a JSONL file, or hf:ORG/NAME for a Hugging Face dataset")
    """
    if source in SHIPPED or (source.startswith(HUB_PREFIX) and len(source) > len(HUB_PREFIX)):
        return None
    if Path(source).is_file():
        return None
    if source.endswith((".jsonl", ".json")):
        return f"no such question file {source!r}"
    return (f"unknown question source {source!r}; expected one of "
            f"{', '.join(map(repr, SHIPPED))}, a path to a JSONL file, or "
            f"{HUB_PREFIX}ORG/NAME for a Hugging Face dataset")


def _load_rows(source: str) -> list[dict[str, Any]]:
    """Rows of a shipped release, a JSONL path or ``hf:ORG/NAME``; anything else fails at once
    (a typo must not turn into a slow hub lookup)."""
    if source in SHIPPED:
        return _load_file(benchmark_dir() / SHIPPED[source])
    if source.startswith(HUB_PREFIX) and len(source) > len(HUB_PREFIX):
        return _load_hub(source[len(HUB_PREFIX):])
    if Path(source).is_file() or source.endswith((".jsonl", ".json")):
        return _load_file(Path(source))
    raise InputError(str(source_problem(source)), field="questions")


def question_rows(source: str | os.PathLike = "v1.1", *,
                  categories: Iterable[str] | None = None, per_category: int | None = None,
                  seed: int = 0) -> list[dict[str, Any]]:
    """The questions :func:`load_questions` gives, as plain dicts: what the stages and the
    lean commands (``alignbench generate``, ``judge``, ``estimate``) take, without loading
    ``datasets`` (and with it pandas and pyarrow).

    >>> rows = question_rows("v1.1", categories=["数学计算"], per_category=3)
    >>> len(rows), rows[0]["category"]
    (3, '数学计算')
    """
    rows = _load_rows(os.fspath(source))
    if categories is not None:
        wanted = list(categories)
        unknown = [c for c in wanted if c not in CATEGORIES]
        if unknown:
            raise InputError(f"unknown categories {unknown}; allowed: {', '.join(CATEGORIES)}",
                             field="categories")
        rows = [r for r in rows if r["category"] in wanted]
    if per_category is not None:
        rows = stratified_subset(rows, per_category, seed=seed)
    return rows


def load_questions(source: str | os.PathLike = "v1.1", *, categories: Iterable[str] | None = None,
                   per_category: int | None = None, seed: int = 0):
    """Load and validate AlignBench questions as a ``datasets.Dataset``.

    ``source`` is ``"v1.0"``, ``"v1.1"`` (shipped, offline), a path to any AlignBench-format
    JSONL, or ``"hf:ORG/NAME"`` for a Hugging Face dataset. ``categories`` keeps only those categories;
    ``per_category`` draws a stratified subset seeded by ``seed``.

    >>> ds = load_questions("v1.1", per_category=2, seed=0)
    >>> len(ds), sorted(set(ds["category"])) == sorted(CATEGORIES)
    (16, True)
    """
    import datasets

    rows = question_rows(source, categories=categories, per_category=per_category, seed=seed)
    columns = list(QUESTION_FIELDS) + (["evidences"] if rows and all("evidences" in r for r in rows)
                                       else [])
    return datasets.Dataset.from_dict({c: [r.get(c) for r in rows] for c in columns})
