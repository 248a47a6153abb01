"""One engine for every stage: plan by request hash, drive requests concurrently, account.

A stage (generate, judge, ...) turns its inputs into :class:`Task` objects, each with the
hash of its request and the store file its record goes to, and a coroutine that turns one
task into one record. The engine does the rest, the same way for every stage:

- **plan**: a task whose hash already has a done record (``ok``/``parse_failed``) in its
  store file is skipped, so a rerun or a restart after ``kill -9`` repeats no call;
- **drive**: a fixed pool of workers, as many as the backend allows in flight, one bar;
- **write**: each record (built by :mod:`records`) is appended by the file's single writer;
- **account**: counts, requests, tokens and cost are read off the records themselves (one
  way of counting), into a :class:`RunSummary`;
- **stop**: a model or judge whose every request failed raises :class:`StageFailedError`
  naming it, its URL and the most common error; one whose next request could exceed its
  ``budget_usd`` stops before sending it (:mod:`budget`).

While a task's ``work`` runs, :data:`CURRENT_TASK` holds it, so a backend can name its
requests by the task's hash (the batch backend's ``custom_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from alignbench_utils.data.store import RecordWriter, done_hashes, read_records
from alignbench_utils.errors import RunError
from alignbench_utils.running.budget import guard_budget

__all__ = [
    "CURRENT_TASK",
    "RunSummary",
    "StageFailedError",
    "Task",
    "drive",
    "plan",
    "raise_if_nothing_succeeded",
    "run_tasks",
    "store_writers",
    "summary_lines",
]


class StageFailedError(RunError):
    """Every request of a model or judge failed (the CLI exits 1 with this message)."""


@dataclass
class Task:
    """One request to make: its hash (the resume key), the store file of its record, the
    item it is about, and whatever the stage needs to send it."""

    key: str
    target: Path
    item: dict[str, Any]
    request: Any = None


CURRENT_TASK: contextvars.ContextVar[Task | None] = contextvars.ContextVar(
    "alignbench_current_task", default=None)


@dataclass
class RunSummary:
    """What one stage run did; ``one_line()`` is what the CLI prints."""

    stage: str
    name: str
    done: int = 0
    skipped: int = 0
    failed: int = 0
    parse_failed: int = 0
    not_answered: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    spent_usd: float | None = None  # the endpoint's cost in its store folder, this run included
    budget_usd: float | None = None
    wall_s: float = 0.0
    out_paths: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # error text → count, this run

    def add_error(self, message: str) -> None:
        """Count a failed item by its error, without the attempt count, for the summary."""
        key = message.split(" (gave up")[0][:160]
        self.errors[key] = self.errors.get(key, 0) + 1

    def count(self, record: dict[str, Any]) -> None:
        """Account for one written record: its outcome, requests, tokens and cost."""
        status = record.get("status")
        if status == "ok":
            self.done += 1
        elif status in ("parse_failed", "format_error"):
            self.parse_failed += 1
        else:
            self.failed += 1
            self.add_error(str(record.get("error") or "unknown error"))
        usage = record.get("usage") or {}
        self.requests += int(record.get("attempts") or 0)
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))
        if record.get("cost_usd") is not None:
            self.cost_usd = (self.cost_usd or 0.0) + record["cost_usd"]

    @property
    def top_error(self) -> str | None:
        """The most common error of this run, with its count.

        >>> s = RunSummary("judge", "j"); s.add_error("HTTP 404: nope (gave up after 1 attempts)")
        >>> s.top_error
        'HTTP 404: nope (1×)'
        """
        if not self.errors:
            return None
        message, count = max(self.errors.items(), key=lambda kv: kv[1])
        return f"{message} ({count}×)"

    @property
    def nothing_done(self) -> bool:
        """Every item tried this run failed (the CLI then exits 1)."""
        return self.failed > 0 and self.done == 0 and self.parse_failed == 0

    def one_line(self) -> str:
        """One-line summary.

        >>> RunSummary("generate", "m", done=3, skipped=1, wall_s=2.04).one_line()
        'generate m: done 3, skipped (already done) 1, failed 0, parse_failed 0, requests 0, tokens 0+0, wall 2.0 s'
        """
        parts = [f"{self.stage} {self.name}: done {self.done}",
                 f"skipped (already done) {self.skipped}", f"failed {self.failed}",
                 f"parse_failed {self.parse_failed}"]
        if self.not_answered:
            parts.append(f"answers not ok (not judged) {self.not_answered}")
        parts += [f"requests {self.requests}",
                  f"tokens {self.prompt_tokens}+{self.completion_tokens}"]
        if self.cost_usd is not None:
            parts.append(f"cost ${self.cost_usd:.4f}")
        if self.spent_usd is not None:
            parts.append(f"spent so far ${self.spent_usd:.4f}" + (
                f" of budget ${self.budget_usd:.2f}" if self.budget_usd is not None else ""))
        parts.append(f"wall {self.wall_s:.1f} s")
        if self.top_error:
            parts.append(f"most common error: {self.top_error}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SUMMARY_LINE = re.compile(r"^\S+ .+: done \d+, skipped \(already done\) \d+, .*$", re.MULTILINE)


def summary_lines(text: str) -> list[str]:
    """The :meth:`RunSummary.one_line` lines in ``text`` (what a stage notebook printed), for
    ``alignbench run`` to show on the terminal.

    >>> text = "judge j: template sha256 ab\\n" + RunSummary("judge", "j on m", done=2).one_line()
    >>> summary_lines(text)
    ['judge j on m: done 2, skipped (already done) 0, failed 0, parse_failed 0, requests 0, tokens 0+0, wall 0.0 s']
    """
    return _SUMMARY_LINE.findall(text)


def plan(tasks: Iterable[Task], summary: RunSummary) -> list[Task]:
    """The tasks still to do: those whose hash has no done record in their store file."""
    done: dict[Path, set[str]] = {}
    todo = []
    for task in tasks:
        if task.target not in done:
            done[task.target] = done_hashes(task.target)
            summary.out_paths.append(str(task.target))
        if task.key in done[task.target]:
            summary.skipped += 1
        else:
            todo.append(task)
    return todo


async def drive(items: Sequence[Any], worker: Callable[[Any], Awaitable[None]], *,
                workers: int, desc: str, progress: bool) -> None:
    """Run ``worker`` over items with at most ``workers`` in progress, one progress bar.

    A fixed pool of worker tasks (not one task per item) keeps the limiter's wait queue
    short, so scheduling cost stays flat at any n.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    bar = tqdm(total=len(items), desc=desc, disable=not progress, mininterval=0.5,
               dynamic_ncols=True)

    async def loop() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await worker(item)
            bar.update(1)

    tasks = [asyncio.create_task(loop()) for _ in range(max(1, min(workers, len(items))))]
    try:
        await asyncio.gather(*tasks)
    finally:  # on an error or an interrupt, stop the other workers before the client closes
        for task in tasks:
            task.cancel()
        bar.close()


@contextlib.contextmanager
def store_writers(summary: RunSummary) -> Iterator[dict[Path, RecordWriter]]:
    """The single writer of each store file :func:`plan` found (``summary.out_paths``),
    closed (and fsynced) however the stage ends."""
    writers = {Path(path): RecordWriter(path) for path in summary.out_paths}
    try:
        yield writers
    finally:
        for writer in writers.values():
            writer.close()


async def run_tasks(tasks: Iterable[Task], backend: Any,
                    work: Callable[[Task, Any], Awaitable[dict[str, Any]]], *,
                    summary: RunSummary, progress: bool,
                    done_statuses: Sequence[str] = ("ok",)) -> RunSummary:
    """Plan ``tasks``, run ``work(task, backend)`` for each one still to do inside the
    backend's lifetime, append each record to its task's store file, and account.

    ``done_statuses`` are the statuses that show the endpoint worked at all (for the
    every-request-failed check)."""
    started = time.monotonic()
    todo = plan(tasks, summary)
    backend.progress = progress
    backend = guard_budget(backend, summary)
    with store_writers(summary) as writers:
        async with backend:
            async def one(task: Task) -> None:
                CURRENT_TASK.set(task)
                record = await work(task, backend)
                writers[task.target].append(record)
                summary.count(record)

            await drive(todo, one, workers=backend.workers,
                        desc=f"{summary.stage} {summary.name}", progress=progress)
    summary.wall_s = time.monotonic() - started
    raise_if_nothing_succeeded(summary, backend.where, statuses=done_statuses)
    return summary


def raise_if_nothing_succeeded(summary: RunSummary, where: str, *,
                               statuses: Sequence[str]) -> None:
    """A model or judge whose every request failed stops the run, naming it, where it was
    reached and the error: its rows would otherwise silently vanish from every table."""
    if not summary.failed or summary.done or summary.parse_failed:
        return
    kept = [r for path in summary.out_paths if Path(path).is_file()
            for r in read_records(path) if r.get("status") in statuses]
    if not kept:
        raise StageFailedError(
            f"{summary.stage} {summary.name!r} at {where}: all {summary.failed} requests "
            f"failed; most common error: {summary.top_error}")
