"""The backend interface and its registry: HOW a request reaches a model.

A backend takes chat messages and request parameters and returns a :class:`CallResult` or
raises :class:`CallError`; both, and the retry policy every backend shares
(:data:`RETRYABLE_STATUS`, :func:`backoff_s`, :func:`parse_retry_after`), live here with the
interface. Stages never know which backend they talk to; an endpoint names its backend
(``EndpointConfig.backend``) and :func:`open_backend` builds it. Adding one is one module in
this folder with one class decorated ``@register_backend`` and its name in
:data:`BUILTIN_BACKENDS` (the module is imported when the backend is first opened, so the
config validates names without loading any backend); options of its own go into
:mod:`.settings`.
"""

from __future__ import annotations

import email.utils
import importlib
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any, ClassVar, Self

from alignbench_utils.errors import InputError, RunError

if TYPE_CHECKING:
    from alignbench_utils.config import EndpointSettings
    from alignbench_utils.running.client import EndpointConfig

__all__ = [
    "BACKENDS",
    "BUILTIN_BACKENDS",
    "RETRYABLE_STATUS",
    "Backend",
    "CallError",
    "CallResult",
    "EndpointDownError",
    "backend_names",
    "backoff_s",
    "open_backend",
    "parse_retry_after",
    "register_backend",
]

BUILTIN_BACKENDS = ("batch", "http", "reference")  # modules of this folder, one backend each
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass
class CallResult:
    """One successful chat call."""

    text: str
    usage: dict[str, int]
    latency_s: float
    attempts: int
    finish_reason: str | None = None
    cost_usd: float | None = None
    reasoning: str | None = None  # a reasoning model's thinking, kept apart from ``text``


class CallError(Exception):
    """A call that failed for good (non-retryable, or retries/time exhausted)."""

    def __init__(self, message: str, *, attempts: int, status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


class EndpointDownError(RunError):
    """The endpoint failed ``max_failures_without_success`` requests and never answered one:
    a wrong URL, a dead server or a bad key. Stopping beats retrying every item for minutes."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date).

    >>> parse_retry_after("2.5"), parse_retry_after(None), parse_retry_after("soon")
    (2.5, None, None)
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=1445412480.0)
    5.0
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_s(config: EndpointSettings, attempt: int, retry_after: float | None,
              rng: random.Random) -> float:
    """Seconds to wait before retry ``attempt + 1``: the server's ``Retry-After`` (plus up to
    10% jitter) or exponential backoff from ``backoff_base_s`` capped at ``backoff_max_s``,
    with jitter.

    >>> from alignbench_utils.config import EndpointSettings
    >>> backoff_s(EndpointSettings(), 3, None, random.Random(0)) <= 4.0
    True
    """
    if retry_after is not None:
        return retry_after * (1.0 + 0.1 * rng.random())
    return min(config.backoff_max_s, config.backoff_base_s * 2**attempt) * (
        0.5 + 0.5 * rng.random())


BACKENDS: dict[str, type[Backend]] = {}


class Backend(ABC):
    """One endpoint's way of answering requests; an async context manager for its lifetime."""

    name: ClassVar[str]
    can_judge: ClassVar[bool] = True  # False for a control that only copies reference answers
    progress: bool = False  # set by the engine: a backend that waits long shows its own bar

    def __init__(self, endpoint: EndpointConfig) -> None:
        self.endpoint = endpoint

    @property
    def workers(self) -> int:
        """How many requests the engine keeps in flight."""
        return self.endpoint.concurrency

    @property
    def where(self) -> str:
        """Where requests go, for messages (never holds a key)."""
        return ", ".join(self.endpoint.base_urls)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @abstractmethod
    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any], *,
                       item: dict[str, Any]) -> CallResult:
        """One chat completion for ``item`` (the question or answer record it is about)."""


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    BACKENDS[cls.name] = cls
    return cls


def backend_names() -> list[str]:
    """Every backend an endpoint may name: the built-in ones and those registered since.

    >>> backend_names()[:3]
    ['batch', 'http', 'reference']
    """
    return sorted(set(BUILTIN_BACKENDS) | set(BACKENDS))


def open_backend(endpoint: EndpointConfig) -> Backend:
    """The backend ``endpoint`` names, ready to enter (a built-in one is imported now)."""
    name = endpoint.backend
    if name not in BACKENDS and name in BUILTIN_BACKENDS:
        importlib.import_module(f"{__package__}.{name}")
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise InputError(f"unknown backend {name!r}; allowed: "
                         f"{', '.join(backend_names())}", field="backend") from None
    return cls(endpoint)
