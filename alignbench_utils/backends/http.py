"""The HTTP backend: any OpenAI-compatible chat endpoint (a pool of base URLs), through the
resilient client (limits, retries, adaptive concurrency, early stop)."""

from __future__ import annotations

from typing import Any, Self

from alignbench_utils.backends.base import Backend, CallResult, register_backend
from alignbench_utils.running.client import EndpointClient

__all__ = ["HttpBackend"]


@register_backend
class HttpBackend(Backend):
    """Chat completions over HTTP, one :class:`EndpointClient` per stage run."""

    name = "http"

    async def __aenter__(self) -> Self:
        self.client = EndpointClient(self.endpoint)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any], *,
                       item: dict[str, Any]) -> CallResult:
        return await self.client.chat(messages, **params)
