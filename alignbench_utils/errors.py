"""Errors a user can act on: each names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

__all__ = ["InputError", "RunError"]


class InputError(ValueError):
    """Bad input, located as precisely as possible.

    ``item`` locates a record in a JSON array file (its 0-based index), where lines mean little.

    >>> str(InputError("is empty", path="q.jsonl", line=3, field="question"))
    "q.jsonl, line 3, field 'question': is empty"
    >>> str(InputError("expected 1 or 2, got 3", path="Natural.json", item=7, field="label"))
    "Natural.json, item 7, field 'label': expected 1 or 2, got 3"
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        item: int | str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.item = item
        self.field = field
        self.reason = message
        where = [p for p in (
            self.path,
            f"line {line}" if line is not None else None,
            f"item {item}" if item is not None else None,
            f"field {field!r}" if field is not None else None,
        ) if p]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class RunError(RuntimeError):
    """A run that could not be done although its input was fine (the CLI exits 1): a local
    model that fails its checks, a server that dies, an API key found in an output."""
