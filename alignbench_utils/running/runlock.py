"""One run folder, one writer: an exclusive lock on the folder a command writes into.

Two ``alignbench run`` of the same YAML started together would both send every request (double
spend) and both append every record. ``alignbench run`` therefore takes an exclusive
``fcntl.flock`` on ``<run folder>/.alignbench.lock`` (``generate``/``judge``/``judge-eval`` on
the run folder their output lies in, else on their output folder); a second command fails at
once naming the holder's PID, host, start time and command, read from the lock file's JSON
body.

The kernel releases a ``flock`` when its holder dies, however it dies (``kill -9`` included),
so a lock left by a dead process is simply taken over by the next command: its body is
rewritten, and nothing is ever deleted. Works on local file systems (not every network one
honours ``flock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from alignbench_utils.data.store import now_iso
from alignbench_utils.errors import RunError

__all__ = ["LOCK_NAME", "RunLockedError", "lock_holder", "run_lock"]

LOCK_NAME = ".alignbench.lock"


class RunLockedError(RunError):
    """Another live process writes into the same run folder."""


def lock_holder(folder: str | os.PathLike) -> dict[str, object]:
    """The JSON body of a folder's lock file: who took the lock last (``{}`` when none)."""
    try:
        return json.loads((Path(folder) / LOCK_NAME).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, *, command: str | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) while the block runs; raise
    :class:`RunLockedError` at once when a live process holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(folder)
            raise RunLockedError(
                f"{folder} is in use by another alignbench process (PID {holder.get('pid', '?')}"
                f" on {holder.get('host', '?')}, started {holder.get('started', '?')}: "
                f"{holder.get('command', '?')}); wait for it to finish or stop it, then rerun "
                "(one writer per run folder)") from None
        body = {"pid": os.getpid(), "host": socket.gethostname(), "started": now_iso(),
                "command": command or " ".join(["alignbench", *sys.argv[1:]])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(body) + "\n").encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (deleting it would race a newcomer)
