"""The backend interface and its registry: HOW a request reaches a model.

A backend takes chat messages and request parameters and returns a
:class:`~alignbench_utils.running.client.CallResult` or raises
:class:`~alignbench_utils.running.client.CallError`. Stages never know which backend they talk to;
an endpoint names its backend (``EndpointConfig.backend``) and :func:`open_backend` builds it.
Adding one is one module with one class decorated ``@register_backend``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from alignbench_utils.errors import InputError
from alignbench_utils.running.client import CallResult, EndpointConfig

__all__ = ["BACKENDS", "Backend", "open_backend", "register_backend"]

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


def open_backend(endpoint: EndpointConfig) -> Backend:
    """The backend ``endpoint`` names, ready to enter."""
    try:
        cls = BACKENDS[endpoint.backend]
    except KeyError:
        raise InputError(f"unknown backend {endpoint.backend!r}; allowed: "
                         f"{', '.join(sorted(BACKENDS))}", field="backend") from None
    return cls(endpoint)
