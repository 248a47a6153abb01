"""Async calls to any OpenAI-compatible chat endpoint that survive real-world faults.

The official scripts abort on the first item that fails three times and die within seconds
of a provider rate limit. Here every call goes through a retry loop of our own (the openai
client runs with ``max_retries=0`` so attempts are counted and bounded here): exponential
backoff with jitter that honours ``Retry-After`` for 429, 5xx, timeouts and connection
errors, bounded both in count and in total time. A 429 also lowers the endpoint's effective
concurrency (AIMD), so a rate-limited run slows down instead of failing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, Self, TypeVar

import openai

from alignbench_utils.backends.base import (
    RETRYABLE_STATUS,
    CallError,
    CallResult,
    EndpointDownError,
    backoff_s,
    parse_retry_after,
)
from alignbench_utils.backends.settings import BackendSettings
from alignbench_utils.config import DEFAULT_CONCURRENCY, LOCAL, REFERENCE, EndpointSettings, Price
from alignbench_utils.errors import InputError
from alignbench_utils.keys import key_env_problem

__all__ = [
    "REFERENCE_URL",
    "AdaptiveLimiter",
    "ApiFailure",
    "CallError",
    "CallResult",
    "EndpointClient",
    "EndpointConfig",
    "EndpointDownError",
    "api_failure",
    "backoff_s",
    "chat_body",
    "completion_result",
    "endpoint_from_spec",
    "parse_retry_after",
    "run_sync",
    "split_thinking",
    "truncated_body",
]

REFERENCE_URL = REFERENCE  # base URL of the reference pseudo-model (no HTTP)
T = TypeVar("T")


@dataclass
class EndpointConfig(EndpointSettings):
    """One model endpoint: where, which model, which backend, how hard to push it, what it
    costs (the retry/timeout/price settings and their defaults are :class:`EndpointSettings`).

    Several ``base_urls`` serve one model (a pool of vLLM replicas); calls go to the least
    busy one (round-robin among ties). ``concurrency`` bounds the whole pool. ``backend``
    names how requests reach the model (see :mod:`alignbench_utils.backends`). The API key
    is read from the environment variable named ``api_key_env`` at call time and never
    stored here.

    >>> EndpointConfig.from_dict({"name": "m", "base_url": "http://h/v1", "model_id": "x"}).base_urls
    ['http://h/v1']
    """

    name: str
    base_urls: list[str]
    model_id: str = ""
    api_key_env: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY

    def __post_init__(self) -> None:
        if isinstance(self.base_urls, str):
            self.base_urls = [self.base_urls]
        if isinstance(self.price, dict):
            self.price = Price(**self.price)
        for backend in fields(BackendSettings):  # a backend's settings given as a mapping
            value = getattr(self, backend.name)
            if isinstance(value, dict):
                setattr(self, backend.name, type(backend.default_factory())(**value))  # type: ignore[misc]
        if self.base_urls == [REFERENCE_URL]:
            self.backend = REFERENCE
        if not self.name:
            raise InputError("endpoint needs a name", field="name")
        if not self.base_urls:
            raise InputError(f"endpoint {self.name!r} needs at least one base URL",
                             field="base_urls")
        if self.backend != REFERENCE and not self.model_id:
            raise InputError(f"endpoint {self.name!r} needs a model_id", field="model_id")
        if self.concurrency < 1:
            raise InputError(f"concurrency must be >= 1, got {self.concurrency}",
                             field="concurrency")
        if self.budget_usd is not None and not self.price:
            raise InputError(f"budget_usd of {self.name!r} needs a price table to count what "
                             "is spent (YAML price: {prompt, completion}; CLI --price)",
                             field="budget_usd")
        problem = (key_env_problem(self.api_key_env, require_set=False)
                   if self.api_key_env else None)
        if problem:
            raise InputError(problem, field="api_key_env")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointConfig:
        """Build from a run-YAML mapping; ``base_url`` (one) or ``base_urls`` (a list)."""
        data = dict(data)
        if "base_url" in data:
            url = data.pop("base_url")
            data["base_urls"] = [url] if isinstance(url, str) else list(url)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown endpoint settings {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    @classmethod
    def reference(cls, name: str = REFERENCE) -> EndpointConfig:
        """The calibration control: answers with the question's reference answer, no HTTP."""
        return cls(name=name, base_urls=[REFERENCE_URL], model_id=REFERENCE_URL,
                   backend=REFERENCE)

    @property
    def is_reference(self) -> bool:
        return self.backend == REFERENCE

    def api_key(self) -> str:
        """The key from the environment; a dummy for keyless local endpoints."""
        if not self.api_key_env:
            return "EMPTY"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise InputError(f"environment variable {self.api_key_env} is not set",
                             field="api_key_env")
        return key

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Estimated US dollars, or None without a price table; the batch backend gets the
        price table's ``batch_discount``.

        >>> EndpointConfig("m", ["u"], "x", price={"prompt": 1.0, "completion": 2.0}).cost(
        ...     1_000_000, 500_000)
        2.0
        >>> EndpointConfig("m", ["u"], "x", backend="batch", price={"prompt": 1.0,
        ...                "completion": 2.0, "batch_discount": 0.5}).cost(1_000_000, 500_000)
        1.0
        """
        if not self.price:
            return None
        full = (prompt_tokens * self.price.prompt + completion_tokens * self.price.completion) / 1e6
        return full * (1.0 - self.price.batch_discount) if self.backend == "batch" else full


# What a models/judges entry carries besides endpoint settings: left to the stages.
_STAGE_KEYS = frozenset({"sampling", "structured", "max_reasks", "template", "protocol", "samples",
                         "family"})


def endpoint_from_spec(spec: dict[str, Any], concurrency: int = DEFAULT_CONCURRENCY
                       ) -> EndpointConfig:
    """An :class:`EndpointConfig` from one ``models``/``judges`` entry of a run YAML (as a
    dict, e.g. a notebook parameter); sampling and judge settings are left to the stage.

    >>> endpoint_from_spec({"name": "reference", "base_url": "reference"}).is_reference
    True
    >>> e = endpoint_from_spec({"name": "m", "base_url": "http://h/v1", "model_id": "x",
    ...                         "timeout_s": 600.0, "max_retries": 1,
    ...                         "price": {"prompt": 2.5, "completion": 10.0},
    ...                         "sampling": {"max_tokens": 8}})
    >>> e.timeout_s, e.max_retries, e.cost(1_000_000, 0)
    (600.0, 1, 2.5)
    """
    if spec.get("base_url") == LOCAL:
        raise InputError("base_url 'local' is resolved by `alignbench run`; when running a "
                         "notebook alone, start `alignbench serve-local` and pass its URL",
                         field=f"{spec.get('name')}.base_url")
    settings = {k: v for k, v in spec.items() if k not in _STAGE_KEYS and v is not None}
    return EndpointConfig.from_dict({"concurrency": concurrency} | settings)


class AdaptiveLimiter:
    """Concurrency limit that adapts to 429s (AIMD).

    On a 429 the limit halves (once per congestion epoch: 429s of requests sent before the
    last cut do not cut again) and the level that overflowed is remembered. Successes grow it
    back: +1 per success up to just below that level, then +1 per ``limit x patience``
    successes while probing above it; each failed probe doubles the patience, so a hard
    server cap costs ever fewer dips. It never exceeds the configured maximum.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self.epoch = 0
        self._ceiling = maximum
        self._patience = 1
        self._streak = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch the request is sent in."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            return self.epoch

    async def release(self, epoch: int, *, throttled: bool) -> None:
        async with self._cond:
            self.in_flight -= 1
            if throttled:
                if epoch == self.epoch:
                    probing = self.limit > self._ceiling
                    self._ceiling = max(1, self.limit - 1)
                    self.limit = max(1, self.limit // 2)
                    self._patience = min(64, self._patience * 2) if probing else self._patience
                    self._streak = 0
                    self.epoch += 1
            elif self.limit < self.maximum:
                if self.limit < self._ceiling:
                    self.limit += 1
                else:
                    self._streak += 1
                    if self._streak >= self.limit * self._patience:
                        self.limit += 1
                        self._streak = 0
            self._cond.notify_all()


def chat_body(model_id: str, messages: list[dict[str, str]],
              params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of one chat completion: ``params`` as the API takes them, ``extra_body``
    merged in as the openai SDK does.

    The client posts this body itself rather than through ``chat.completions.create``, whose
    validation of every parameter against the SDK's types cost about half of the engine's CPU
    time per call (``benchmarks/engine_overhead.py``); the request sent is the same.

    >>> chat_body("m", [{"role": "user", "content": "hi"}],
    ...           {"temperature": 0.0, "extra_body": {"grammar": "root ::= x"}})
    {'model': 'm', 'messages': [{'role': 'user', 'content': 'hi'}], 'temperature': 0.0, 'grammar': 'root ::= x'}
    """
    extra = params.get("extra_body") or {}
    return {"model": model_id, "messages": messages,
            **{k: v for k, v in params.items() if k != "extra_body"}, **extra}


class EndpointClient:
    """Async chat calls to one endpoint (a pool of base URLs), with limits and retries.

    Use as ``async with EndpointClient(cfg) as client: await client.chat(messages)``; the
    openai clients are bound to the running event loop, so create one per run.
    """

    def __init__(self, config: EndpointConfig, *, seed: int | None = None) -> None:
        self.config = config
        self._key = config.api_key()
        self._clients = [openai.AsyncOpenAI(base_url=url, api_key=self._key, max_retries=0,
                                            timeout=config.timeout_s,
                                            http_client=openai.DefaultAioHttpClient())
                         for url in config.base_urls]
        self._busy = [0] * len(self._clients)
        self._turn = itertools.count()
        self.limiter = AdaptiveLimiter(config.concurrency)
        self.calls_per_url = [0] * len(self._clients)
        self.successes = 0
        self.failures_without_success = 0
        self._rng = random.Random(seed)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    def _pick(self) -> int:
        """Least busy base URL; round-robin among equally busy ones."""
        start = next(self._turn) % len(self._clients)
        order = [(start + i) % len(self._clients) for i in range(len(self._clients))]
        return min(order, key=lambda i: self._busy[i])

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key and self._key != "EMPTY" else text

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return backoff_s(self.config, attempt, retry_after, self._rng)

    async def chat(self, messages: list[dict[str, str]], **params: Any) -> CallResult:
        """One chat completion; ``params`` go to the API (temperature, max_tokens,
        response_format, extra_body, ...). Raises :class:`CallError` when it gives up."""
        cfg = self.config
        deadline = time.monotonic() + cfg.max_retry_time_s
        attempt = 0
        while True:
            attempt += 1
            epoch = await self.limiter.acquire()
            index = self._pick()
            self._busy[index] += 1
            self.calls_per_url[index] += 1
            throttled, retry_after, status = False, None, None
            started = time.monotonic()
            try:
                response = await self._clients[index].post(
                    "/chat/completions", body=chat_body(cfg.model_id, messages, params),
                    cast_to=bytes)
                completion = json.loads(response)
            except openai.APIError as exc:
                message, retryable, status, retry_after = api_failure(
                    exc, timeout_s=cfg.timeout_s, scrub=self._scrub)
                throttled = status == 429
            except json.JSONDecodeError as exc:  # a 200 whose body was cut off on the way
                message, retryable = truncated_body(exc, scrub=self._scrub), True
            else:
                if is_chat_completion(completion):
                    self.successes += 1
                    return self._result(completion, time.monotonic() - started, attempt)
                message, retryable = f"bad response: {self._scrub(str(completion))[:300]}", True
            finally:
                self._busy[index] -= 1
                await self.limiter.release(epoch, throttled=throttled)
            if not throttled:
                self._count_failure(index, message)
            if not retryable or attempt > cfg.max_retries:
                raise CallError(message if not retryable else
                                f"{message} (gave up after {attempt} attempts)",
                                attempts=attempt, status=status)
            delay = self._backoff(attempt - 1, retry_after)
            if time.monotonic() + delay > deadline:
                raise CallError(f"{message} (gave up: retry time {cfg.max_retry_time_s:g} s "
                                f"spent after {attempt} attempts)", attempts=attempt,
                                status=status)
            await asyncio.sleep(delay)

    def _count_failure(self, index: int, message: str) -> None:
        """Stop the whole stage once the endpoint has failed this often without ever
        answering (a rate limit is not a failure: it slows the run down instead)."""
        if self.successes:
            return
        self.failures_without_success += 1
        limit = self.config.max_failures_without_success
        if limit and self.failures_without_success >= limit:
            raise EndpointDownError(
                f"{self.config.name!r} at {self.config.base_urls[index]}: {limit} requests "
                f"failed and none succeeded, so the stage stops; last error: {message}")

    def _result(self, response: Any, latency: float, attempts: int) -> CallResult:
        return completion_result(response, self.config, latency=latency, attempts=attempts)


class ApiFailure(NamedTuple):
    """What a failed API call says: its message (key scrubbed), whether a retry may help,
    the HTTP status and the server's ``Retry-After`` in seconds."""

    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None


def api_failure(exc: openai.APIError, *, timeout_s: float,
                scrub: Callable[[str], str]) -> ApiFailure:
    """Read a failed call of the openai client (chat, files, batches alike): 429, 5xx,
    timeouts and connection errors are worth a retry; other 4xx are final."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return ApiFailure(f"HTTP {status}: {scrub(str(exc.message))[:300]}",
                          status in RETRYABLE_STATUS or status >= 500, status,
                          parse_retry_after(exc.response.headers.get("retry-after")))
    if isinstance(exc, openai.APITimeoutError):
        if (failure := connection_failure(exc)) is None:
            return ApiFailure(f"timeout after {timeout_s:g} s", True)
        return ApiFailure(f"connection error: {scrub(str(failure))[:300]}", True)
    if isinstance(exc, openai.APIConnectionError):
        return ApiFailure(f"connection error: {scrub(str(exc))[:300]}", True)
    # e.g. a 200 whose body is not a chat completion
    return ApiFailure(f"bad response: {scrub(str(exc))[:300]}", True)


def connection_failure(exc: BaseException) -> OSError | None:
    """The OS-level connection failure (not a timeout) among a failed call's causes: the
    aiohttp transport reports a refused connection as a connect *timeout*, which would send a
    user looking at ``timeout_s`` instead of at the server.

    >>> try:
    ...     try:
    ...         raise ConnectionRefusedError(111, "Connect call failed")
    ...     except OSError as cause:
    ...         raise TimeoutError("Request timed out.") from cause
    ... except TimeoutError as exc:
    ...     connection_failure(exc), connection_failure(TimeoutError())
    (ConnectionRefusedError(111, 'Connect call failed'), None)
    """
    cause = exc.__cause__ or exc.__context__
    for _ in range(10):
        if cause is None:
            return None
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def truncated_body(exc: json.JSONDecodeError, *, scrub: Callable[[str], str]) -> str:
    """The error of a response body that is not whole JSON (a proxy or a dropped connection
    cut it off), with the head of the raw text so the record shows what came.

    >>> import json
    >>> try:
    ...     json.loads('{"choices": [{"mess')
    ... except json.JSONDecodeError as exc:
    ...     print(truncated_body(exc, scrub=str))
    bad response: body is not complete JSON (Unterminated string starting at, char 14); it began: {"choices": [{"mess
    """
    return (f"bad response: body is not complete JSON ({exc.msg}, char {exc.pos}); it began: "
            f"{scrub(exc.doc[:300])}")



def is_chat_completion(body: Any) -> bool:
    """Whether a 200's JSON body has the shape of a chat completion (a list of choices).

    >>> is_chat_completion({"choices": []}), is_chat_completion({"error": "busy"})
    (True, False)
    """
    return isinstance(body, dict) and isinstance(body.get("choices"), list)


def completion_result(body: dict[str, Any], config: EndpointConfig, *, latency: float,
                      attempts: int) -> CallResult:
    """A chat completion's JSON body (however it arrived: over HTTP or as a line of a batch
    output file) as a :class:`CallResult`: thinking split off, usage, cost.

    The body is read as plain JSON, not built into the SDK's typed objects: that construction
    was the largest part of the engine's CPU time per call (``benchmarks/engine_overhead.py``).

    >>> r = completion_result({"choices": [{"message": {"content": "<think>嗯</think>好",
    ...     "role": "assistant"}, "finish_reason": "stop"}],
    ...     "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
    ...     EndpointConfig("m", ["http://h/v1"], "x"), latency=0.5, attempts=1)
    >>> r.text, r.reasoning, r.usage["total_tokens"], r.finish_reason
    ('好', '嗯', 5, 'stop')
    """
    choices = body.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    text, thinking = split_thinking(message.get("content") or "")
    reasoning = "\n".join(part for part in (message.get("reasoning_content")
                                             or message.get("reasoning"), thinking)
                           if isinstance(part, str) and part) or None
    usage_obj = body.get("usage") or {}
    usage = {
        "prompt_tokens": int(usage_obj.get("prompt_tokens") or 0),
        "completion_tokens": int(usage_obj.get("completion_tokens") or 0),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return CallResult(text=text, usage=usage, latency_s=round(latency, 4), attempts=attempts,
                      finish_reason=choice.get("finish_reason"),
                      cost_usd=config.cost(usage["prompt_tokens"], usage["completion_tokens"]),
                      reasoning=reasoning)


_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def split_thinking(content: str) -> tuple[str, str | None]:
    """``(final answer, thinking)`` from a reasoning model's content: the judge must see only
    the final answer, and a judge's parser only its final verdict.

    >>> split_thinking("<think>先算一下</think>\\n答案是2")
    ('答案是2', '先算一下')
    >>> split_thinking("先算一下</think>答案是2")  # the chat template opened the block
    ('答案是2', '先算一下')
    >>> split_thinking("<think>还没想完")  # cut off while thinking: no answer
    ('', '还没想完')
    >>> split_thinking("答案是2")
    ('答案是2', None)
    """
    head, close, tail = content.partition(_THINK_CLOSE)
    if close:
        return tail.strip(), head.replace(_THINK_OPEN, "", 1).strip()
    if content.lstrip().startswith(_THINK_OPEN):
        return "", content.lstrip()[len(_THINK_OPEN):].strip()
    return content, None


def run_sync(coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
    """Run a coroutine to completion from sync code, inside Jupyter too.

    ipykernel already runs an event loop in the main thread, where ``asyncio.run`` fails;
    then the coroutine runs in a worker thread with its own loop.

    >>> async def two(): return 2
    >>> run_sync(two())
    2
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="alignbench-sync") as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]

