"""JSONL files in and out: located errors on read, atomic writes.

Users hand us files from many tools; the common mistakes (a UTF-8 BOM from Windows editors,
a JSON array instead of one object per line, a stray GBK byte) get an error that says what
to do, with the file and line, instead of a decoder message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from alignbench_utils.errors import InputError

__all__ = ["read_json_array", "read_jsonl", "require_fields", "write_jsonl"]

_BOM = b"\xef\xbb\xbf"


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for every non-blank line, failing with a located error.

    A leading UTF-8 BOM is accepted; blank lines are skipped; a JSON array file, a non-UTF-8
    byte, malformed JSON or a non-object line raises :class:`InputError`.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = p.write_bytes(b'\\xef\\xbb\\xbf{"a": 1}\\n\\n{"a": 2}\\n')
    >>> list(read_jsonl(p))
    [(1, {'a': 1}), (3, {'a': 2})]
    >>> _ = p.write_text('[{"a": 1},\\n {"a": 2}]')
    >>> list(read_jsonl(p))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: ..., line 1: this is a JSON array; JSONL (one JSON object per line) is expected...
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    data = path.read_bytes()
    data = data.removeprefix(_BOM)
    if data.lstrip()[:1] == b"[":
        raise InputError("this is a JSON array; JSONL (one JSON object per line) is expected. "
                         "Convert it, e.g. jq -c '.[]' FILE > FILE.jsonl", path=path, line=1)
    for number, raw in enumerate(data.split(b"\n"), start=1):
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
            raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno} (JSONL: one JSON "
                             "object per line)", path=path, line=number) from None
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
