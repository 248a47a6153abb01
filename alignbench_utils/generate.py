"""Stage 1: ask a model every question, one record per question, resumable.

Every question ends with exactly one final record (``ok`` or ``error``), never lost: a failing
item is recorded and the run goes on. A rerun skips questions already answered (by request
hash) and retries only the errors. Temperatures follow the official per-category table
unless one is given.

The reference pseudo-model (an :class:`EndpointConfig` whose ``base_urls`` is
``["reference"]``, see ``EndpointConfig.reference()``) answers with the question's reference
answer without any HTTP call: a calibration control the rubric says deserves about 8.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ._version import __version__
from .client import CallError, CallResult, EndpointClient, EndpointConfig, run_sync
from .errors import InputError, RunError
from .store import RecordWriter, done_hashes, now_iso, read_records, request_hash
from .taxonomy import temperature_for

__all__ = [
    "RunSummary",
    "StageFailedError",
    "answer_request",
    "drive",
    "question_fields",
    "raise_if_nothing_succeeded",
    "reasoning_fields",
    "run_generation",
    "run_generation_async",
]

QUESTION_KEYS = ("question_id", "category", "subcategory", "question", "reference")


class StageFailedError(RunError):
    """Every request of a model or judge failed (the CLI exits 1 with this message)."""


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
    wall_s: float = 0.0
    out_paths: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # error text → count, this run

    def add_error(self, message: str) -> None:
        """Count a failed item by its error, without the attempt count, for the summary."""
        key = message.split(" (gave up")[0][:160]
        self.errors[key] = self.errors.get(key, 0) + 1

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

    def add_call(self, usage: dict[str, int], attempts: int, cost: float | None) -> None:
        self.requests += attempts
        self.prompt_tokens += usage.get("prompt_tokens", 0)
        self.completion_tokens += usage.get("completion_tokens", 0)
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost

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
        parts.append(f"wall {self.wall_s:.1f} s")
        if self.top_error:
            parts.append(f"most common error: {self.top_error}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def question_fields(question: dict[str, Any]) -> dict[str, Any]:
    """The question fields every record copies, checked so a bad item fails before any call."""
    missing = [k for k in QUESTION_KEYS if k not in question]
    if missing:
        raise InputError(f"question lacks fields {missing}", field=missing[0])
    return {k: question[k] for k in QUESTION_KEYS}


def answer_request(question: dict[str, Any], model_id: str, *, max_tokens: int = 2048,
                   temperature: float | None = None, system_prompt: str | None = None,
                   seed: int | None = None) -> dict[str, Any]:
    """The chat request for one question (official temperature for its category by default).

    ``seed`` is sent to the endpoint (OpenAI, vLLM, SGLang and llama.cpp honour it) so that
    sampled answers can be reproduced; ``None`` sends none.

    >>> r = answer_request({"category": "数学计算", "question": "1+1=?"}, "m", seed=0)
    >>> r["temperature"], r["seed"], r["messages"]
    (0.1, 0, [{'role': 'user', 'content': '1+1=?'}])
    """
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": question["question"]})
    request = {"model": model_id, "messages": messages,
               "temperature": temperature_for(question["category"]) if temperature is None
               else temperature, "max_tokens": max_tokens}
    return request | ({"seed": seed} if seed is not None else {})


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


def _sampling_params(request: dict[str, Any]) -> dict[str, Any]:
    """The request minus model and messages: what is sent beside them and recorded."""
    return {k: v for k, v in request.items() if k not in ("messages", "model")}


def _base_record(q: dict[str, Any], endpoint: EndpointConfig, request: dict[str, Any],
                 key: str, system_prompt: str | None) -> dict[str, Any]:
    params = _sampling_params(request)
    if system_prompt:
        params["system_prompt"] = system_prompt
    return {**question_fields(q), "model": endpoint.name, "model_id": endpoint.model_id,
            "request_hash": key, "request": params}


async def run_generation_async(questions: Iterable[dict[str, Any]], endpoint: EndpointConfig,
                               out_path: str | os.PathLike, *, max_tokens: int = 2048,
                               temperature: float | None = None,
                               system_prompt: str | None = None, seed: int | None = None,
                               max_empty_retries: int = 3, progress: bool = True) -> RunSummary:
    """Answer every question into ``out_path`` (append-only); see :func:`run_generation`."""
    started = time.monotonic()
    rows = [dict(q) for q in questions]
    for number, q in enumerate(rows, start=1):
        try:
            question_fields(q)
        except InputError as exc:
            raise InputError(exc.reason, path="questions", line=number, field=exc.field) from None
    summary = RunSummary("generate", endpoint.name, out_paths=[str(out_path)])
    done = done_hashes(out_path)
    todo = []
    for q in rows:
        request = answer_request(q, endpoint.model_id, max_tokens=max_tokens,
                                 temperature=temperature, system_prompt=system_prompt, seed=seed)
        key = request_hash({"stage": "answer", "question_id": q["question_id"], **request})
        if key in done:
            summary.skipped += 1
        else:
            todo.append((q, request, key))

    with RecordWriter(out_path) as writer:
        def finish(record: dict[str, Any]) -> None:
            record.update(package_version=__version__, created_at=now_iso())
            writer.append(record)
            if record["status"] == "ok":
                summary.done += 1
            else:
                summary.failed += 1

        if endpoint.is_reference:
            for q, request, key in todo:
                finish({**_base_record(q, endpoint, request, key, system_prompt),
                        "answer": q["reference"], "status": "ok", "error": None,
                        "usage": {"prompt_tokens": 0, "completion_tokens": 0,
                                  "total_tokens": 0}, "latency_s": 0.0, "attempts": 0})
        else:
            async with EndpointClient(endpoint) as client:
                async def answer_one(item: tuple[dict[str, Any], dict[str, Any], str]) -> None:
                    q, request, key = item
                    record = _base_record(q, endpoint, request, key, system_prompt)
                    attempts, result, error = 0, None, "empty answer"
                    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
                    for _ in range(max_empty_retries + 1):
                        try:
                            result = await client.chat(request["messages"],
                                                       **_sampling_params(request))
                        except CallError as exc:
                            attempts += exc.attempts
                            error, result = str(exc), None
                            break
                        attempts += result.attempts
                        usage = {k: usage[k] + result.usage[k] for k in usage}
                        summary.add_call(result.usage, 0, result.cost_usd)
                        if result.text.strip():
                            break
                    summary.requests += attempts
                    ok = isinstance(result, CallResult) and bool(result.text.strip())
                    if not ok:
                        summary.add_error(error)
                    finish({**record, "answer": result.text if ok else "",
                            "status": "ok" if ok else "error", "error": None if ok else error,
                            "usage": usage, "latency_s": result.latency_s if ok else None,
                            "attempts": attempts, "finish_reason": result.finish_reason if ok
                            else None,
                            "cost_usd": endpoint.cost(usage["prompt_tokens"],
                                                      usage["completion_tokens"]),
                            **reasoning_fields(result.reasoning if result else None)})

                await drive(todo, answer_one, workers=endpoint.concurrency,
                            desc=f"generate {endpoint.name}", progress=progress)
    summary.wall_s = time.monotonic() - started
    raise_if_nothing_succeeded(summary, endpoint, statuses=("ok",))
    return summary


def reasoning_fields(reasoning: str | None, prefix: str = "") -> dict[str, Any]:
    """Record fields keeping a reasoning model's thinking apart from its answer.

    >>> reasoning_fields("想一想"), reasoning_fields(None)
    ({'reasoning': '想一想', 'reasoning_chars': 3}, {})
    """
    if not reasoning:
        return {}
    return {f"{prefix}reasoning": reasoning, f"{prefix}reasoning_chars": len(reasoning)}


def raise_if_nothing_succeeded(summary: RunSummary, endpoint: EndpointConfig, *,
                               statuses: Sequence[str]) -> None:
    """A model or judge whose every request failed stops the run, naming it, its URL and the
    error: its rows would otherwise silently vanish from every table."""
    if not summary.failed or summary.done or summary.parse_failed:
        return
    kept = [r for path in summary.out_paths if Path(path).is_file()
            for r in read_records(path) if r.get("status") in statuses]
    if not kept:
        raise StageFailedError(
            f"{summary.stage} {endpoint.name!r} at {', '.join(endpoint.base_urls)}: all "
            f"{summary.failed} requests failed; most common error: {summary.top_error}")


def run_generation(questions: Iterable[dict[str, Any]], endpoint: EndpointConfig,
                   out_path: str | os.PathLike, *, max_tokens: int = 2048,
                   temperature: float | None = None, system_prompt: str | None = None,
                   seed: int | None = None, max_empty_retries: int = 3,
                   progress: bool = True) -> RunSummary:
    """Answer every question (a ``datasets.Dataset`` or list of dicts) into ``out_path``.

    ``temperature=None`` uses the official per-category temperature; ``seed`` is sent with
    every request when given (see :func:`answer_request`). An empty answer is
    re-asked up to ``max_empty_retries`` times, then recorded as error ``"empty answer"``.
    Works in scripts and inside Jupyter (see :func:`run_sync`).
    """
    return run_sync(run_generation_async(
        questions, endpoint, Path(out_path), max_tokens=max_tokens, temperature=temperature,
        system_prompt=system_prompt, seed=seed, max_empty_retries=max_empty_retries,
        progress=progress))
