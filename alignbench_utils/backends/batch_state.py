"""The batch backend's state of one store file: what was submitted, before it is submitted.

An append-only JSON-lines log beside the store (:meth:`RunLayout.batch_state_file`), each
line written and fsynced before the step it announces, so that a run killed at any point
can tell, on its rerun, which requests are already in which batch.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from alignbench_utils.data.store import now_iso
from alignbench_utils.errors import InputError

__all__ = ["BatchState"]


class BatchState:
    """The batch log of one store file: JSON lines, appended (and fsynced) before each step.

    Events: ``prepared`` (a local id and its requests: ``custom_id`` → ``request_hash``,
    ``body_sha256``), ``uploaded`` (its input file id), ``submitted`` (its batch id),
    ``ended`` (final status and counts, for people reading the log).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: dict[str, dict[str, Any]] = {}  # local id → what is known of it
        self.latest: dict[str, str] = {}  # custom_id → local id of its latest submission
        if path.is_file():
            self._replay(path.read_text(encoding="utf-8").splitlines())

    def _replay(self, lines: list[str]) -> None:
        for number, line in enumerate(lines, start=1):
            try:
                event = json.loads(line)
            except ValueError:
                if number < len(lines):  # only the last line may be torn by a crash
                    raise InputError("malformed batch state line", path=self.path,
                                     line=number) from None
                warnings.warn(f"{self.path}: ignoring a torn last line", RuntimeWarning,
                              stacklevel=3)
                continue
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        if event["event"] == "ended":
            return
        entry = self.batches.setdefault(event["local_id"], {"requests": {}})
        if event["event"] == "prepared":
            entry["requests"].update(event["requests"])
            entry["prepared_at"] = event.get("at")
            for custom_id in event["requests"]:
                self.latest[custom_id] = event["local_id"]
        elif event["event"] == "uploaded":
            entry["input_file_id"] = event["input_file_id"]
        elif event["event"] == "submitted":
            entry["batch_id"] = event["batch_id"]

    def append(self, event: dict[str, Any]) -> None:
        """Write one event as one line and make it durable before the step it announces."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        event = {**event, "at": now_iso()}
        with open(self.path, "ab") as fh:
            if fh.tell() and self._ends_without_newline():
                fh.write(b"\n")  # after a torn line
            fh.write((json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        self._apply(event)

    def _ends_without_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, 2)
            return fh.read(1) != b"\n"

    def submission(self, custom_id: str) -> dict[str, Any] | None:
        """The latest submission of ``custom_id``: its local id, batch id (None while not
        known), body hash and request hash."""
        local_id = self.latest.get(custom_id)
        if local_id is None:
            return None
        entry = self.batches[local_id]
        return {"local_id": local_id, "batch_id": entry.get("batch_id"),
                "prepared_at": entry.get("prepared_at"), **entry["requests"][custom_id]}
