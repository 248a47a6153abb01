"""The official AlignBench file formats (``get_answers.py`` / ``judge.py``), both ways, and
the normalisers every reader of answers and judgments goes through.

Official records name the model ``model_id`` and store a failed parse as ``score = -1``.
Read as they are, every model collapses into one and ``-1`` is averaged in as a score, so
every entry point that takes answers or judgments recognises the official shape and converts
it here, the one place that knows it: ``model_id`` becomes ``model``, ``-1`` becomes
``parse_failed``, an empty answer becomes a failed answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from alignbench_utils.data.jsonl import read_jsonl, write_jsonl
from alignbench_utils.data.records import (
    QUESTION_KEYS,
    answer_record,
    judgment_record,
    upgrade_record,
)
from alignbench_utils.errors import InputError

__all__ = [
    "ANSWER_FIELDS",
    "JUDGMENT_FIELDS",
    "OFFICIAL_ANSWER_FIELDS",
    "OFFICIAL_JUDGMENT_FIELDS",
    "as_answer_record",
    "as_judgment_record",
    "fill_question_fields",
    "from_official_answer",
    "from_official_judgment",
    "is_official",
    "judge_from_path",
    "read_official_answers",
    "read_official_judgments",
    "write_official_answers",
    "write_official_judgments",
]

OFFICIAL_ANSWER_FIELDS = ("question_id", "category", "subcategory", "model_id", "question",
                          "answer")
OFFICIAL_JUDGMENT_FIELDS = ("question_id", "category", "model_id", "judgment", "score")
# The least this package's own records carry.
ANSWER_FIELDS = ("question_id", "category", "model", "answer")
JUDGMENT_FIELDS = ("question_id", "category", "model")
_OVERALL = ("综合得分", "平均得分")


def is_official(record: Mapping[str, Any]) -> bool:
    """An official record names its model ``model_id`` and has no ``model``.

    >>> is_official({"model_id": "gpt", "score": 7}), is_official({"model": "m", "model_id": "x"})
    (True, False)
    """
    return "model_id" in record and "model" not in record


def _require(obj: Mapping[str, Any], names: Iterable[str], *, what: str,
             path: str | Path | None, line: int | None) -> None:
    missing = [n for n in names if n not in obj]
    if missing:
        raise InputError(f"{what} lacks {missing}", path=path, line=line, field=missing[0])


def judge_from_path(path: str | Path, judge: str | None = None) -> str:
    """The judge's name: ``judge`` when given, else the name of the file's folder
    (official layout ``judgment/<judge>/<model>.jsonl``).

    >>> judge_from_path("data/judgment/gpt-4/m.jsonl"), judge_from_path("m.jsonl", "gpt-4")
    ('gpt-4', 'gpt-4')
    >>> judge_from_path("m.jsonl")
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: m.jsonl, field 'judge': cannot tell the judge's name from the path (no folder); name it with --judge / judge=
    """
    name = judge or Path(path).parent.name
    if not name:
        raise InputError("cannot tell the judge's name from the path (no folder); name it with "
                         "--judge / judge=", path=path, field="judge")
    return name


def from_official_answer(obj: Mapping[str, Any], *, path: str | Path | None = None,
                         line: int | None = None) -> dict[str, Any]:
    """One official answer → this package's answer record (``model`` = ``model_id``).

    An answer that is empty or only whitespace is a failed answer, never judged.

    >>> r = from_official_answer({"question_id": 1, "category": "数学计算", "subcategory": "初等数学",
    ...                           "model_id": "m", "question": "1+1?", "answer": "  "})
    >>> r["model"], r["status"], r["error"]
    ('m', 'error', 'empty answer (only whitespace)')
    """
    _require(obj, OFFICIAL_ANSWER_FIELDS, what="official answer record", path=path, line=line)
    if not isinstance(obj["answer"], str):
        raise InputError(f"expected str, got {type(obj['answer']).__name__}", path=path,
                         line=line, field="answer")
    empty = not obj["answer"].strip()
    question = {k: obj.get(k) for k in QUESTION_KEYS}
    return answer_record(question, model=str(obj["model_id"]), answer=obj["answer"],
                         status="error" if empty else "ok",
                         error="empty answer (only whitespace)" if empty else None,
                         answer_id=obj.get("answer_id"),
                         imported_from=str(path) if path is not None else None)


def from_official_judgment(obj: Mapping[str, Any], *, judge: str,
                           path: str | Path | None = None,
                           line: int | None = None) -> dict[str, Any]:
    """One official judgment → this package's judgment record; ``score = -1`` (or any score
    outside 1-10) is a ``parse_failed`` record that keeps the number as ``legacy_score``.

    >>> r = from_official_judgment({"question_id": 1, "category": "数学计算", "model_id": "m",
    ...                             "judgment": "乱码", "score": -1}, judge="gpt-4")
    >>> r["model"], r["judge"], r["status"], r["score"], r["legacy_score"]
    ('m', 'gpt-4', 'parse_failed', None, -1.0)
    """
    _require(obj, OFFICIAL_JUDGMENT_FIELDS, what="official judgment record", path=path,
             line=line)
    try:
        score = float(obj["score"])
    except (TypeError, ValueError):
        raise InputError(f"score is not a number: {obj['score']!r:.40}", path=path, line=line,
                         field="score") from None
    ok = 1 <= score <= 10
    rating = obj.get("rating") if isinstance(obj.get("rating"), dict) else {}
    answer = {k: obj.get(k) for k in (*QUESTION_KEYS, "answer")} | {"model": str(obj["model_id"])}
    return judgment_record(
        answer, judge=judge, judgment=obj["judgment"], status="ok" if ok else "parse_failed",
        score=score if ok else None, legacy_score=score,
        dimensions={k: float(v) for k, v in rating.items()
                    if isinstance(v, (int, float)) and k not in _OVERALL},
        error=None if ok else f"official script recorded score {score:g}",
        imported_from=str(path) if path is not None else None)


def _upgrade(obj: Mapping[str, Any], *, path: str | Path | None,
             line: int | None) -> dict[str, Any]:
    try:
        return upgrade_record(obj)
    except InputError as exc:
        raise InputError(exc.reason, path=path, line=line, field=exc.field) from None


def as_answer_record(obj: Mapping[str, Any], *, path: str | Path | None = None,
                     line: int | None = None) -> dict[str, Any]:
    """An answer record in this package's format, converting an official one; a record in
    neither format is an error naming what it lacks."""
    if is_official(obj):
        return from_official_answer(obj, path=path, line=line)
    obj = _upgrade(obj, path=path, line=line)
    _require(obj, ANSWER_FIELDS, what=f"answer record (neither this package's format nor the "
             f"official one, which needs {list(OFFICIAL_ANSWER_FIELDS)})", path=path, line=line)
    record = dict(obj)
    if record.get("status", "ok") == "ok" and not str(record["answer"] or "").strip():
        record.update(status="error", error="empty answer (only whitespace)")
    return record


def as_judgment_record(obj: Mapping[str, Any], *, judge: str = "",
                       path: str | Path | None = None,
                       line: int | None = None) -> dict[str, Any]:
    """A judgment record in this package's format, converting an official one (judged by
    ``judge``); a record in neither format is an error naming what it lacks.

    >>> as_judgment_record({"question_id": 1, "score": 7})
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: field 'category': judgment record (neither this package's format nor the official one, which needs ['question_id', 'category', 'model_id', 'judgment', 'score']) lacks ['category', 'model']
    """
    if is_official(obj):
        return from_official_judgment(obj, judge=judge, path=path, line=line)
    obj = _upgrade(obj, path=path, line=line)
    _require(obj, JUDGMENT_FIELDS, what=f"judgment record (neither this package's format nor "
             f"the official one, which needs {list(OFFICIAL_JUDGMENT_FIELDS)})", path=path,
             line=line)
    return dict(obj)


def fill_question_fields(record: dict[str, Any], questions: Mapping[int, Mapping[str, Any]], *,
                         source: str, path: str | Path | None = None,
                         line: int | None = None) -> dict[str, Any]:
    """Fill fields an imported record lacks (reference, subcategory, ...) from its question."""
    question = questions.get(record["question_id"])
    if question is None:
        raise InputError(f"question_id {record['question_id']} is not in {source}", path=path,
                         line=line, field="question_id")
    for name, value in question.items():
        if record.get(name) is None:
            record[name] = value
    return record


def read_official_answers(path: str | Path) -> list[dict[str, Any]]:
    """Read an answer file written by the official ``get_answers.py`` (or compatible tools)."""
    return [from_official_answer(obj, path=path, line=number)
            for number, obj in read_jsonl(path)]


def write_official_answers(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write answers in the official format so the official judge.py can read them."""
    rows = [{
        "question_id": r["question_id"], "category": r["category"],
        "subcategory": r["subcategory"], "model_id": r["model"], "question": r["question"],
        "answer": r["answer"], "answer_id": r.get("answer_id") or r.get("request_hash"),
    } for r in records if r.get("status", "ok") == "ok"]
    return write_jsonl(rows, path)


def read_official_judgments(path: str | Path, judge: str | None = None) -> list[dict[str, Any]]:
    """Read a judgment file written by the official ``judge.py`` (judge: ``judge``, else the
    file's folder name)."""
    name = judge_from_path(path, judge)
    return [from_official_judgment(obj, judge=name, path=path, line=number)
            for number, obj in read_jsonl(path)]


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
