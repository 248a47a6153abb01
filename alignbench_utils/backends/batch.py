"""The batch backend: requests go through a provider's Batch API, at its batch price.

OpenAI (and the providers that copy its endpoints) answer a file of requests within a
completion window for about half the price. Here every ``complete()`` call of a stage waits
on a future while one background loop

1. **collects** the waiting requests until none came for ``batch.collect_s``, and splits them
   at ``batch.max_requests`` and ``batch.max_bytes``;
2. **records** each batch in the store file's state (:meth:`RunLayout.batch_state_file`:
   ``custom_id`` → request hash and body hash) *before* anything is uploaded, then the
   uploaded file id, then the batch id;
3. **submits**: writes the input JSONL (``custom_id``, ``POST``, ``batch.endpoint``, the
   chat body), uploads it (``files.create``), creates the batch (``batches.create``, with
   the state's local id in its metadata);
4. **polls** every ``batch.poll_s`` (``batches.retrieve``); a finished batch's output and
   error files (``files.content``) are read into ordinary :class:`CallResult` objects, or
   :class:`CallError` for an item that failed for good.

Resumable and lossless: a ``custom_id`` is the task's request hash (shortened; ``-1``,
``-2`` … for the task's later requests: re-asks, empty-answer retries), so a rerun or a
restart after ``kill -9`` finds each request in the state and waits on the batch it is
already in instead of submitting it again; a batch created just before the kill, whose id
was not yet recorded, is found by its metadata. Only requests with no record and no batch
are submitted. An item that failed inside a batch (a 5xx, a 429) or was left unfinished by
an expired or cancelled batch goes into a later batch, at most ``batch.max_attempts``
submissions per run of the stage; then it is recorded as an error (and retried by the next
rerun, as every error is). A request waits at most ``batch.max_wait_s``; its batch stays in
the state and a rerun collects it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import openai
from openai.types.chat import ChatCompletion
from tqdm.auto import tqdm

from alignbench_utils.backends.base import (
    RETRYABLE_STATUS,
    Backend,
    CallError,
    CallResult,
    backoff_s,
    register_backend,
)
from alignbench_utils.backends.batch_state import BatchState
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import request_hash
from alignbench_utils.errors import InputError
from alignbench_utils.running.client import api_failure, completion_result
from alignbench_utils.running.engine import CURRENT_TASK

__all__ = ["BatchBackend", "batch_lines", "split_batches"]

T = TypeVar("T")
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
METADATA_KEY = "alignbench_local_id"  # in each batch's metadata: finds it after a crash
CUSTOM_ID_HEX = 32  # 128 bits of the request hash name a request inside a batch
MAX_PENDING = 1 << 20  # requests that may wait at once: every request of a stage
LIST_MARGIN_S = 600  # a batch is looked for among those created since its record, minus this


@dataclass(eq=False)
class _Request:
    """One request waiting for its answer."""

    custom_id: str
    key: str
    body: dict[str, Any]
    state: BatchState
    future: asyncio.Future[CallResult]
    body_sha: str = field(init=False)
    failures: int = 0
    since: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.body_sha = request_hash(self.body)


@dataclass(eq=False)
class _Batch:
    """A batch this run waits on, with the requests waiting on it."""

    batch_id: str
    waiters: dict[str, _Request] = field(default_factory=dict)
    states: set[Path] = field(default_factory=set)
    status: str = "unknown"
    progress: str = ""
    next_poll: float = 0.0
    results: dict[str, dict[str, Any]] | None = None  # custom_id → output or error line
    latency_s: float | None = None


def batch_lines(requests: list[tuple[str, dict[str, Any]]], url: str) -> list[bytes]:
    """One Batch-API input line per ``(custom_id, body)``.

    >>> batch_lines([("a1", {"model": "m", "messages": []})], "/v1/chat/completions")
    [b'{"custom_id": "a1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": []}}\\n']
    """
    return [(json.dumps({"custom_id": cid, "method": "POST", "url": url, "body": body},
                        ensure_ascii=False) + "\n").encode("utf-8") for cid, body in requests]


def split_batches(sizes: list[int], *, max_requests: int, max_bytes: int) -> list[range]:
    """Consecutive index ranges of lines (``sizes`` in bytes) that fit one batch each.

    >>> split_batches([4, 4, 4, 4, 4], max_requests=2, max_bytes=100)
    [range(0, 2), range(2, 4), range(4, 5)]
    >>> split_batches([40, 40, 40], max_requests=10, max_bytes=100)
    [range(0, 2), range(2, 3)]
    """
    chunks, start, used = [], 0, 0
    for index, size in enumerate(sizes):
        if index > start and (index - start >= max_requests or used + size > max_bytes):
            chunks.append(range(start, index))
            start, used = index, 0
        used += size
    if start < len(sizes):
        chunks.append(range(start, len(sizes)))
    return chunks


def _line_outcome(line: dict[str, Any] | None, batch: _Batch
                  ) -> tuple[dict[str, Any] | None, str, int | None]:
    """``(completion body, error, status)`` of one output or error-file line (None: the
    batch ended without answering it)."""
    if line is None:
        return None, f"batch {batch.batch_id} {batch.status} before answering it", None
    response = line.get("response") or {}
    status, body = response.get("status_code"), response.get("body")
    if status == 200 and isinstance(body, dict) and body.get("choices") is not None:
        return body, "", status
    error = line.get("error") or (body.get("error") if isinstance(body, dict) else None) or {}
    message = error.get("message") if isinstance(error, dict) else str(error)
    return None, f"HTTP {status}: {str(message or body)[:300]}" if status else \
        f"batch item failed: {str(message)[:300]}", status


@register_backend
class BatchBackend(Backend):
    """Requests through the Batch API of the endpoint's one base URL."""

    name = "batch"

    @property
    def workers(self) -> int:
        """Every request of a stage may wait at once; the batches bound what is sent."""
        return MAX_PENDING

    async def __aenter__(self) -> Self:
        endpoint = self.endpoint
        if len(endpoint.base_urls) != 1:
            raise InputError("a batch endpoint is one base_url", field="base_url")
        self._key = endpoint.api_key()
        self.client = openai.AsyncOpenAI(base_url=endpoint.base_urls[0], api_key=self._key,
                                         max_retries=0, timeout=endpoint.timeout_s)
        self._rng = random.Random()
        self._states: dict[Path, BatchState] = {}
        self._arrived: list[_Request] = []
        self._pending: list[_Request] = []
        self._batches: dict[str, _Batch] = {}
        self._calls: Counter[str] = Counter()
        self._last_arrival = 0.0
        self._wake = asyncio.Event()
        self.counts: Counter[str] = Counter()  # submitted, adopted, completed, failed, retried
        self.bar = tqdm(total=0, desc=f"batch {endpoint.name}", unit="req", mininterval=0.5,
                        disable=not self.progress, dynamic_ncols=True)
        self._loop = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._loop.cancel()
        await asyncio.gather(self._loop, return_exceptions=True)
        for request in self._waiting():
            request.future.cancel()
        self.bar.close()
        await self.client.close()

    # ------------------------------------------------------------------ the stage's side

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any], *,
                       item: dict[str, Any]) -> CallResult:
        task = CURRENT_TASK.get()
        if task is None:
            raise InputError("the batch backend answers the requests of a stage "
                             "(engine.run_tasks), which names each request by its task")
        if self._loop.done():  # the loop stopped on an error: say so instead of waiting
            self._loop.result()
        nth = self._calls[task.key]
        self._calls[task.key] += 1
        custom_id = task.key[:CUSTOM_ID_HEX] + (f"-{nth}" if nth else "")
        request = _Request(custom_id, task.key,
                           {"model": self.endpoint.model_id, "messages": messages, **params},
                           self._state(task.target), asyncio.get_running_loop().create_future())
        self._arrived.append(request)
        self.counts["requests"] += 1
        self._wake.set()
        return await request.future

    def _state(self, store_file: Path) -> BatchState:
        path = RunLayout.batch_state_file(store_file)
        if path not in self._states:
            self._states[path] = BatchState(path)
        return self._states[path]

    def _waiting(self) -> list[_Request]:
        return [*self._arrived, *self._pending,
                *(r for b in self._batches.values() for r in b.waiters.values())]

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        try:
            while True:
                self._wake.clear()
                await self._sort_arrivals()
                await self._submit_due()
                await self._poll_due()
                self._show()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._sleep_s())
                except TimeoutError:
                    pass
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # never leave a stage waiting on a dead loop
            for request in self._waiting():
                if not request.future.done():
                    request.future.set_exception(exc)
            raise

    def _sleep_s(self) -> float | None:
        now, waits = time.monotonic(), []
        if self._pending:
            waits.append(self._last_arrival + self.endpoint.batch.collect_s - now)
        waits += [b.next_poll - now for b in self._batches.values()
                  if b.results is None and b.waiters]
        return max(0.0, min(waits)) if waits else None

    async def _sort_arrivals(self) -> None:
        """Each new request waits on the batch it is already in (from the state), or for
        the next batch."""
        arrived, self._arrived = self._arrived, []
        unresolved: dict[str, list[tuple[_Request, dict[str, Any]]]] = {}
        for request in arrived:
            known = request.state.submission(request.custom_id)
            if known is None or known["body_sha256"] != request.body_sha:
                self._queue(request)
            elif known["batch_id"]:
                self._attach(known["batch_id"], request)
                self.counts["adopted"] += 1
            else:
                unresolved.setdefault(known["local_id"], []).append((request, known))
        for local_id, requests in unresolved.items():
            try:
                batch_id = await self._find_created(local_id, requests[0][1]["prepared_at"])
            except CallError as exc:  # unknown whether it exists: never submit it twice
                for request, _ in requests:
                    self._give_up_request(request, f"batch of local id {local_id} may exist "
                                                   f"but could not be looked up ({exc}); "
                                                   "a rerun looks again")
                continue
            for request, _ in requests:
                if batch_id is None:
                    self._queue(request)
                else:
                    if request.state.submission(request.custom_id)["batch_id"] is None:
                        request.state.append({"event": "submitted", "local_id": local_id,
                                              "batch_id": batch_id})
                    self._attach(batch_id, request)
                    self.counts["adopted"] += 1

    async def _find_created(self, local_id: str, prepared_at: str | None) -> str | None:
        """The batch created for ``local_id`` before a crash kept its id from the state
        (found by its metadata among the batches created since), or None."""
        since = (datetime.fromisoformat(prepared_at).timestamp() - LIST_MARGIN_S
                 if prepared_at else 0.0)

        async def look() -> str | None:
            async for batch in self.client.batches.list(limit=100):
                if (batch.metadata or {}).get(METADATA_KEY) == local_id:
                    return batch.id
                if batch.created_at < since:
                    return None
            return None

        return await self._api(look, "list batches")

    def _queue(self, request: _Request) -> None:
        self._pending.append(request)
        self._last_arrival = time.monotonic()

    def _attach(self, batch_id: str, request: _Request) -> None:
        batch = self._batches.setdefault(batch_id, _Batch(batch_id))
        batch.states.add(request.state.path)
        if batch.results is not None:  # finished earlier in this run
            self._settle(batch, request)
        else:
            batch.waiters[request.custom_id] = request

    async def _submit_due(self) -> None:
        cfg = self.endpoint
        if not self._pending or (len(self._pending) < cfg.batch.max_requests and
                                 time.monotonic() - self._last_arrival < cfg.batch.collect_s):
            return
        pending, self._pending = self._pending, []
        lines = batch_lines([(r.custom_id, r.body) for r in pending], cfg.batch.endpoint)
        fits = [(r, line) for r, line in zip(pending, lines, strict=True)
                if len(line) <= cfg.batch.max_bytes]
        for request, line in zip(pending, lines, strict=True):
            if len(line) > cfg.batch.max_bytes:  # 413: no later batch takes it either
                self._fail(request, f"request of {len(line)} bytes is larger than "
                                    f"batch.max_bytes {cfg.batch.max_bytes}", 413)
        chunks = split_batches([len(line) for _, line in fits],
                               max_requests=cfg.batch.max_requests,
                               max_bytes=cfg.batch.max_bytes)
        for chunk in chunks:
            await self._submit([fits[i][0] for i in chunk], b"".join(fits[i][1] for i in chunk))

    async def _submit(self, requests: list[_Request], data: bytes) -> None:
        """Record, upload and create one batch; a failure counts as a failed try of each
        of its requests."""
        cfg = self.endpoint
        local_id = uuid.uuid4().hex
        states: dict[Path, tuple[BatchState, dict[str, Any]]] = {}
        for r in requests:
            states.setdefault(r.state.path, (r.state, {}))[1][r.custom_id] = {
                "request_hash": r.key, "body_sha256": r.body_sha}
        for state, entries in states.values():
            state.append({"event": "prepared", "local_id": local_id, "requests": entries})
        try:
            upload = await self._api(lambda: self.client.files.create(
                file=(f"alignbench-{local_id}.jsonl", data, "application/jsonl"),
                purpose="batch"), "upload the batch input file")
            for state, _ in states.values():
                state.append({"event": "uploaded", "local_id": local_id,
                              "input_file_id": upload.id})
            created = await self._api(lambda: self.client.batches.create(
                input_file_id=upload.id, endpoint=cfg.batch.endpoint,  # type: ignore[arg-type]
                completion_window=cfg.batch.completion_window,  # type: ignore[arg-type]
                metadata={METADATA_KEY: local_id}), "create the batch")
        except CallError as exc:
            for request in requests:
                self._fail(request, str(exc), exc.status)
            return
        for state, _ in states.values():
            state.append({"event": "submitted", "local_id": local_id, "batch_id": created.id})
        self.counts["submitted"] += len(requests)
        for request in requests:
            self._attach(created.id, request)

    async def _poll_due(self) -> None:
        now = time.monotonic()
        for batch in list(self._batches.values()):
            if batch.results is not None or not batch.waiters or batch.next_poll > now:
                continue
            batch.next_poll = now + self.endpoint.batch.poll_s
            try:
                await self._poll(batch)
            except CallError as exc:
                self._give_up(batch, f"batch {batch.batch_id}: {exc}; a rerun collects it")
                continue
            if batch.results is None:
                self._expire_waiters(batch, now)

    async def _poll(self, batch: _Batch) -> None:
        info = await self._api(lambda: self.client.batches.retrieve(batch.batch_id),
                               "check the batch")
        batch.status = info.status
        counts = info.request_counts
        batch.progress = f"{counts.completed}/{counts.total}" if counts else ""
        if info.status not in TERMINAL:
            return
        results: dict[str, dict[str, Any]] = {}
        for file_id in (info.error_file_id, info.output_file_id):  # answers win over errors
            if file_id:
                content = await self._api(lambda fid=file_id: self.client.files.content(fid),
                                          "download batch results")
                for line in content.text.splitlines():
                    try:
                        row = json.loads(line)
                    except ValueError:  # its request counts as unanswered: resubmitted
                        continue
                    if isinstance(row, dict):
                        results[row.get("custom_id")] = row
        if info.status == "failed" and info.errors and info.errors.data:
            batch.status = "failed: " + "; ".join(
                str(e.message) for e in info.errors.data[:3])[:300]
        if info.completed_at and info.created_at:
            batch.latency_s = float(info.completed_at - info.created_at)
        batch.results = results
        for path in batch.states:
            self._states[path].append({
                "event": "ended", "local_id": (info.metadata or {}).get(METADATA_KEY, ""),
                "batch_id": batch.batch_id, "status": info.status,
                "request_counts": counts.model_dump() if counts else None})
        waiters, batch.waiters = batch.waiters, {}
        for request in waiters.values():
            self._settle(batch, request)

    def _settle(self, batch: _Batch, request: _Request) -> None:
        """Answer a request from its finished batch, or send it to the next one."""
        assert batch.results is not None
        body, error, status = _line_outcome(batch.results.get(request.custom_id), batch)
        if body is not None:
            try:
                ChatCompletion.model_validate(body)
            except ValueError as exc:  # pydantic's ValidationError: not a chat completion
                error, status = f"bad response in batch output: {str(exc)[:300]}", None
            else:
                latency = batch.latency_s if batch.latency_s is not None else \
                    time.monotonic() - request.since
                request.future.set_result(completion_result(
                    body, self.endpoint, latency=latency, attempts=request.failures + 1))
                self.counts["completed"] += 1
                self.bar.update(1)
                return
        self._fail(request, error, status)

    def _fail(self, request: _Request, error: str, status: int | None) -> None:
        """A failed try: into the next batch while tries are left and it may pass, else the
        request's error."""
        request.failures += 1
        retryable = status is None or status in RETRYABLE_STATUS or status >= 500
        if retryable and request.failures < self.endpoint.batch.max_attempts:
            self.counts["retried"] += 1
            self._queue(request)
            return
        suffix = f" (gave up after {request.failures} batch submissions)" if retryable else ""
        request.future.set_exception(CallError(error + suffix, attempts=request.failures,
                                               status=status))
        self.counts["failed"] += 1
        self.bar.update(1)

    def _expire_waiters(self, batch: _Batch, now: float) -> None:
        """Requests that waited ``batch.max_wait_s`` fail; their batch stays in the state."""
        limit = self.endpoint.batch.max_wait_s
        late = [r for r in batch.waiters.values() if now - r.since > limit]
        for request in late:
            del batch.waiters[request.custom_id]
            self._give_up_request(request, f"batch {batch.batch_id} still {batch.status} "
                                           f"after {limit:g} s; a rerun collects it")

    def _give_up(self, batch: _Batch, message: str) -> None:
        waiters, batch.waiters = batch.waiters, {}
        for request in waiters.values():
            self._give_up_request(request, message)

    def _give_up_request(self, request: _Request, message: str) -> None:
        request.future.set_exception(CallError(message, attempts=request.failures + 1))
        self.counts["failed"] += 1
        self.bar.update(1)

    def _show(self) -> None:
        open_batches = [b for b in self._batches.values() if b.results is None and b.waiters]
        shown = ", ".join(f"{b.batch_id[-8:]} {b.status} {b.progress}".rstrip()
                          for b in itertools.islice(open_batches, 2))
        more = f" +{len(open_batches) - 2}" if len(open_batches) > 2 else ""
        c = self.counts
        self.bar.total = c["requests"]
        self.bar.set_postfix_str(
            f"submitted {c['submitted']} (earlier {c['adopted']}), done {c['completed']}, "
            f"failed {c['failed']}, retried {c['retried']}, waiting {len(self._pending)}"
            + (f" | {shown}{more}" if shown else ""), refresh=False)

    # ------------------------------------------------------------------ API calls

    async def _api(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """One files/batches call with bounded retries (429, 5xx, timeouts, connection
        errors), backoff honouring ``Retry-After``; raises :class:`CallError`."""
        cfg = self.endpoint
        deadline = time.monotonic() + cfg.max_retry_time_s
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except openai.APIError as exc:
                failure = api_failure(exc, timeout_s=cfg.timeout_s, scrub=self._scrub)
            delay = backoff_s(cfg, attempt - 1, failure.retry_after, self._rng)
            if not failure.retryable or attempt > cfg.max_retries or \
                    time.monotonic() + delay > deadline:
                raise CallError(f"{what}: {failure.message} (after {attempt} attempts)",
                                attempts=attempt, status=failure.status)
            await asyncio.sleep(delay)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key != "EMPTY" else text
