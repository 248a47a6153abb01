"""Append-only JSONL record store keyed by a hash of the request: resume without repeats.

The official scripts append from many threads and can glue two records on one line; a rerun
repeats every call. Here each record is one ``os.write`` of a full line to an ``O_APPEND``
file under a lock, so lines never interleave; every record carries ``request_hash`` (SHA-256
of the canonical request), and a rerun skips each key already *done*.

Done means status ``ok``, ``parse_failed`` or ``format_error`` (the judge did answer;
asking again at temperature 0 would not help). Records with status ``error`` are retried on rerun: the
fault was the endpoint's, not the item's. After a crash the last line may be torn; it is
ignored with a warning and the writer terminates it before appending.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from alignbench_utils.errors import InputError

__all__ = [
    "DONE_STATUSES",
    "RecordWriter",
    "canonical_json",
    "done_hashes",
    "now_iso",
    "read_numbered_records",
    "read_records",
    "read_records_in",
    "read_records_under",
    "request_hash",
]

DONE_STATUSES = frozenset({"ok", "parse_failed", "format_error"})  # format_error: older pairwise


def canonical_json(obj: Any) -> str:
    """Stable JSON text: sorted keys, no spaces, UTF-8 kept.

    >>> canonical_json({"b": 1, "a": "中"})
    '{"a":"中","b":1}'
    """
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_hash(request: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the full request (never include an API key).

    >>> request_hash({"model": "m", "temperature": 0}) == request_hash({"temperature": 0,
    ...                                                                 "model": "m"})
    True
    """
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


def now_iso() -> str:
    """Current UTC time, ISO-8601, for ``created_at``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _split(data: bytes, path: Path) -> tuple[list[bytes], bool]:
    """Complete lines and whether a torn tail (no final newline, not valid JSON) was dropped."""
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if not tail.strip():
        return lines, False
    try:
        json.loads(tail)
    except ValueError:
        warnings.warn(f"{path}: ignoring a torn last line ({len(tail)} bytes, no newline); "
                      "it was being written when the run stopped", RuntimeWarning, stacklevel=3)
        return lines, True
    return lines + [tail], False


def read_records_in(folders: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Records of every ``*.jsonl`` below each of ``folders`` that exists (a run's answers
    and judgments: ``RunLayout.record_dirs``)."""
    return [rec for folder in folders if Path(folder).is_dir()
            for rec in read_records_under(folder)]


def read_records_under(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Records of a store file, or of every ``*.jsonl`` below a folder (sorted by path)."""
    path = Path(path)
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    return [rec for file in files for rec in read_records(file)]


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a store file, the last one per ``request_hash`` winning.

    A torn last line is skipped with a warning; a malformed line elsewhere raises
    :class:`InputError` naming file and line. Records without a hash are all kept.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = p.write_text('{"request_hash": "h", "status": "error"}\\n'
    ...                  '{"request_hash": "h", "status": "ok"}\\n', encoding="utf-8")
    >>> [r["status"] for r in read_records(p)]
    ['ok']
    """
    return [record for _, record in read_numbered_records(path)]


def read_numbered_records(path: str | os.PathLike) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` pairs as :func:`read_records` keeps them, so a later check
    can name the line a record came from."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    lines, _ = _split(path.read_bytes().removeprefix(b"\xef\xbb\xbf"), path)
    by_key: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            raise InputError(f"malformed record: {exc}", path=path, line=number) from None
        if not isinstance(record, dict):
            raise InputError("expected a JSON object", path=path, line=number)
        key = record.get("request_hash") or f"line:{number}"
        by_key.pop(key, None)  # the last one wins, in the position it was written
        by_key[key] = (number, record)
    return list(by_key.values())


def done_hashes(path: str | os.PathLike) -> set[str]:
    """Keys whose last record is done (:data:`DONE_STATUSES`); empty when no file."""
    path = Path(path)
    if not path.is_file():
        return set()
    return {r["request_hash"] for r in read_records(path)
            if r.get("request_hash") and r.get("status") in DONE_STATUSES}


class RecordWriter:
    """The single writer of one store file: one ``os.write`` of a full line per record.

    Thread-safe (a lock) and safe between coroutines (no await inside ``append``). A torn tail
    left by a crash is cut off on open, so the next line starts on a line of its own. Data is
    fsynced every ``fsync_every_s`` seconds and on close, not per line (that would cap the
    rate at the disk's sync latency).
    """

    def __init__(self, path: str | os.PathLike, *, fsync_every_s: float = 1.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self._fsync_every_s = fsync_every_s
        self._last_sync = time.monotonic()
        self.written = 0

    def _repair_tail(self) -> None:
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":  # the usual case: no need to read the whole file
                return
        data = self.path.read_bytes()
        _, torn = _split(data, self.path)
        with open(self.path, "r+b") as fh:
            if torn:
                fh.truncate(data.rfind(b"\n") + 1)
            else:  # a complete record that only lacks its newline: keep it
                fh.seek(0, os.SEEK_END)
                fh.write(b"\n")

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock, self._named():
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            self.written += 1
            if time.monotonic() - self._last_sync >= self._fsync_every_s:
                os.fsync(self._fd)
                self._last_sync = time.monotonic()

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        """An ``OSError`` of a write (a full disk, a file size limit) names the store file:
        a bare file descriptor's error would not say which."""
        try:
            yield
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                fd, self._fd = self._fd, -1
                try:
                    with self._named():
                        os.fsync(fd)
                finally:
                    os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
