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

from .errors import InputError

__all__ = ["read_jsonl", "write_jsonl"]

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
