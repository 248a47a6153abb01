"""Question loading and validation, plus answer/judgment files in the official formats.

Questions are validated line by line so that a bad file fails with one error that names
file, line and field, before any API call is made.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .paths import benchmark_dir
from .taxonomy import CATEGORIES, subcategory_map

__all__ = [
    "QUESTION_FIELDS",
    "load_questions",
    "read_json_array",
    "read_jsonl",
    "read_official_answers",
    "read_official_judgments",
    "require_fields",
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


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for every non-blank line, failing with a located error.

    Blank lines are skipped; a non-UTF-8 byte, malformed JSON or a non-object line raises
    :class:`InputError`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    with open(path, "rb") as fh:
        raw_lines = fh.read().split(b"\n")
    for number, raw in enumerate(raw_lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8", path=path, line=number
            ) from None
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=path,
                             line=number) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path,
                             line=number)
        yield number, obj


def read_json_array(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(index, object)`` for every record of a file holding one JSON array of objects
    (the format of LLMBar and PandaLM), failing with an error located by line or item index.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "a.json")
    ...     _ = open(p, "w").write('[{"x": 1}, {"x": 2}]')
    ...     [i for i, _ in read_json_array(p)]
    [0, 1]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8",
                         path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=path,
                         line=exc.lineno) from None
    if not isinstance(data, list):
        raise InputError(f"expected a JSON array of objects, got {type(data).__name__}", path=path)
    for index, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path,
                             item=index)
        yield index, obj


def require_fields(obj: dict[str, Any], fields: dict[str, type | tuple[type, ...]], *,
                   path: str | Path | None = None, line: int | None = None,
                   item: int | None = None) -> None:
    """Fail with a located :class:`InputError` unless every named field is present with one of
    its allowed types (a bool never passes for an int).

    >>> require_fields({"a": 1}, {"a": (int, float)})
    >>> require_fields({"a": True}, {"a": int}, line=2)
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: line 2, field 'a': expected int, got bool True
    """
    where = {"path": path, "line": line, "item": item}
    for name, kinds in fields.items():
        if name not in obj:
            raise InputError("missing required field", field=name, **where)
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        value = obj[name]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            allowed = " or ".join(k.__name__ for k in kinds)
            raise InputError(f"expected {allowed}, got {type(value).__name__} {value!r:.40}",
                             field=name, **where)


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write records atomically (temp file + rename): a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


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
    return rows


def _load_hub(name: str) -> list[dict[str, Any]]:
    import datasets

    hub = datasets.load_dataset(name, split="train")
    rows, seen = [], set()
    for number, obj in enumerate(hub, start=1):
        rec = validate_question(dict(obj), path=name, line=number)
        if rec["question_id"] in seen:
            raise InputError(f"duplicate question_id {rec['question_id']}", path=name, line=number,
                             field="question_id")
        seen.add(rec["question_id"])
        rows.append(rec)
    if not rows:
        raise InputError("dataset is empty: no questions", path=name)
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


def load_questions(source: str | os.PathLike = "v1.1", *, categories: Iterable[str] | None = None,
                   per_category: int | None = None, seed: int = 0):
    """Load and validate AlignBench questions as a ``datasets.Dataset``.

    ``source`` is ``"v1.0"``, ``"v1.1"`` (shipped, offline), a path to any AlignBench-format
    JSONL, or a Hugging Face dataset name. ``categories`` keeps only those categories;
    ``per_category`` draws a stratified subset seeded by ``seed``.

    >>> ds = load_questions("v1.1", per_category=2, seed=0)
    >>> len(ds), sorted(set(ds["category"])) == sorted(CATEGORIES)
    (16, True)
    """
    import datasets

    source = os.fspath(source)
    if source in SHIPPED:
        rows = _load_file(benchmark_dir() / SHIPPED[source])
    elif Path(source).exists() or source.endswith((".jsonl", ".json")):
        rows = _load_file(Path(source))
    else:
        rows = _load_hub(source)
    if categories is not None:
        wanted = list(categories)
        unknown = [c for c in wanted if c not in CATEGORIES]
        if unknown:
            raise InputError(f"unknown categories {unknown}; allowed: {', '.join(CATEGORIES)}",
                             field="categories")
        rows = [r for r in rows if r["category"] in wanted]
    if per_category is not None:
        rows = stratified_subset(rows, per_category, seed=seed)
    columns = list(QUESTION_FIELDS) + (["evidences"] if rows and all("evidences" in r for r in rows)
                                       else [])
    return datasets.Dataset.from_dict({c: [r.get(c) for r in rows] for c in columns})


OFFICIAL_ANSWER_FIELDS = ("question_id", "category", "subcategory", "model_id", "question",
                          "answer")


def read_official_answers(path: str | Path) -> list[dict[str, Any]]:
    """Read an answer file written by the official ``get_answers.py`` (or compatible tools).

    Returns records in this package's answer schema (``model`` = the file's ``model_id``,
    ``status`` = ``"ok"``, ``imported_from`` = the path).
    """
    out = []
    for number, obj in read_jsonl(path):
        for name in OFFICIAL_ANSWER_FIELDS:
            if name not in obj:
                raise InputError("missing required field", path=path, line=number, field=name)
        if not isinstance(obj["answer"], str):
            raise InputError(f"expected str, got {type(obj['answer']).__name__}", path=path,
                             line=number, field="answer")
        out.append({
            "question_id": obj["question_id"], "category": obj["category"],
            "subcategory": obj["subcategory"], "model": str(obj["model_id"]),
            "question": obj["question"], "answer": obj["answer"],
            "answer_id": obj.get("answer_id"), "status": "ok", "imported_from": str(path),
        })
    return out


def write_official_answers(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write answers in the official format so the official judge.py can read them."""
    rows = [{
        "question_id": r["question_id"], "category": r["category"],
        "subcategory": r["subcategory"], "model_id": r["model"], "question": r["question"],
        "answer": r["answer"], "answer_id": r.get("answer_id") or r.get("request_hash"),
    } for r in records if r.get("status", "ok") == "ok"]
    return write_jsonl(rows, path)


def read_official_judgments(path: str | Path, judge: str | None = None) -> list[dict[str, Any]]:
    """Read a judgment file written by the official ``judge.py``.

    The official script stores ``score = -1`` when it could not parse; such records come back
    with ``status = "parse_failed"`` and ``score = None`` so they are never averaged in.
    """
    out = []
    for number, obj in read_jsonl(path):
        for name in ("question_id", "category", "model_id", "judgment", "score"):
            if name not in obj:
                raise InputError("missing required field", path=path, line=number, field=name)
        try:
            score = float(obj["score"])
        except (TypeError, ValueError):
            raise InputError(f"score is not a number: {obj['score']!r:.40}", path=path,
                             line=number, field="score") from None
        ok = 1 <= score <= 10
        rating = obj.get("rating") if isinstance(obj.get("rating"), dict) else {}
        out.append({
            "question_id": obj["question_id"], "category": obj["category"],
            "subcategory": obj.get("subcategory"), "model": str(obj["model_id"]),
            "judge": judge or Path(path).parent.name, "question": obj.get("question"),
            "answer": obj.get("answer"), "reference": obj.get("reference"),
            "judgment": obj["judgment"], "status": "ok" if ok else "parse_failed",
            "score": score if ok else None, "legacy_score": score,
            "dimensions": {k: float(v) for k, v in rating.items()
                           if isinstance(v, (int, float)) and k not in ("综合得分", "平均得分")},
            "error": None if ok else f"official script recorded score {score:g}",
            "imported_from": str(path),
        })
    return out


def write_official_judgments(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write judgments in the official format; failures get the official ``score = -1``."""
    rows = []
    for r in records:
        rating = dict(r.get("dimensions") or {})
        if r.get("score") is not None:
            rating["综合得分"] = r["score"]
        rows.append({
            "question_id": r["question_id"], "category": r["category"],
            "subcategory": r.get("subcategory"), "model_id": r["model"],
            "question": r.get("question"), "answer": r.get("answer"),
            "reference": r.get("reference"), "judgment": r.get("judgment") or "",
            "rating": rating, "score": r["score"] if r.get("status") == "ok" else -1,
        })
    return write_jsonl(rows, path)
