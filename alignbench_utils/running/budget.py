"""``budget_usd``: stop a stage before an endpoint's spend in the run would exceed it.

Before each request the guard adds what the endpoint has spent in the run so far (its
records' ``cost_usd`` in every stage of the run folder: generation, pointwise judging, judge
meta-evaluation and pairwise comparisons, this stage's included), what its requests in flight may still cost,
and what this request may cost at most (its prompt, estimated by :mod:`tokens`, plus
``max_tokens`` of output at the endpoint's price). When that sum would pass the budget, no
further request is sent: those in flight finish and are recorded, then the stage stops with
:class:`BudgetExceededError` naming the budget. Nothing is half-written, and a rerun with a
higher budget continues from the records.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Self

from alignbench_utils.config import Sampling
from alignbench_utils.errors import RunError
from alignbench_utils.running.accounting import folder_cost, spend_folders
from alignbench_utils.running.tokens import message_tokens

if TYPE_CHECKING:
    from alignbench_utils.backends.base import Backend
    from alignbench_utils.running.client import CallResult
    from alignbench_utils.running.engine import RunSummary

__all__ = ["BudgetExceededError", "BudgetGuard", "guard_budget", "request_cost_bound"]


class BudgetExceededError(RunError):
    """The next request could take an endpoint past its ``budget_usd``."""


def request_cost_bound(endpoint: Any, messages: list[dict[str, str]],
                       params: dict[str, Any]) -> float:
    """The most one request may cost: estimated prompt tokens plus ``max_tokens`` of output.

    >>> from alignbench_utils.running.client import EndpointConfig
    >>> e = EndpointConfig("m", ["u"], "x", price={"prompt": 1.0, "completion": 2.0})
    >>> request_cost_bound(e, [{"role": "user", "content": "hi"}], {"max_tokens": 1_000_000})
    2.000005
    """
    tokens = message_tokens(messages)
    return endpoint.cost(tokens, int(params.get("max_tokens") or Sampling.max_tokens)) or 0.0


class BudgetGuard:
    """A backend wrapper that counts spend and refuses a request that could exceed the
    budget (``budget=None``: it only counts). It is used wherever the backend is."""

    def __init__(self, inner: Backend, summary: RunSummary, *, spent_before: float,
                 budget: float | None) -> None:
        self.inner = inner
        self.endpoint = inner.endpoint
        self.summary = summary
        self.spent = spent_before
        self.budget = budget
        self.reserved = 0.0
        self.in_flight = 0
        self.refused: str | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        summary.spent_usd, summary.budget_usd = spent_before, budget

    @property
    def workers(self) -> int:
        return self.inner.workers

    @property
    def where(self) -> str:
        return self.inner.where

    @property
    def can_judge(self) -> bool:
        return self.inner.can_judge

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)

    def _admit(self, bound: float) -> None:
        if self.refused is None and self.budget is not None and (
                self.spent + self.reserved + bound > self.budget):
            self.refused = (
                f"budget_usd {self.budget:g} of {self.endpoint.name!r} reached: "
                f"${self.spent + self.reserved:.4f} spent or in flight in this run, and the "
                f"next request may cost up to ${bound:.4f}; the stage stopped before sending "
                f"it (records written so far are kept; rerun with a higher budget_usd to go on)")
        if self.refused is not None:
            raise BudgetExceededError(self.refused)

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any], *,
                       item: dict[str, Any]) -> CallResult:
        """The inner backend's answer, if the budget allows the request; else wait until the
        requests in flight are done (so they are recorded), then raise."""
        bound = request_cost_bound(self.endpoint, messages, params)
        try:
            self._admit(bound)
        except BudgetExceededError:
            await self._drained.wait()
            raise
        self.reserved += bound
        self.in_flight += 1
        self._drained.clear()
        cost = 0.0
        try:
            result = await self.inner.complete(messages, params, item=item)
            cost = result.cost_usd or 0.0
            return result
        finally:
            self.reserved -= bound
            self.spent += cost
            self.summary.spent_usd = self.spent
            self.in_flight -= 1
            if not self.in_flight:
                self._drained.set()


def guard_budget(backend: Backend, summary: RunSummary) -> Backend | BudgetGuard:
    """``backend`` wrapped in a :class:`BudgetGuard` when its endpoint has a price table
    (spend so far read from the records of every stage of the run the stage writes into:
    answers, judgments, judge meta-evaluation and comparisons), else as it is."""
    endpoint = backend.endpoint
    if endpoint.price is None:
        return backend
    spent = folder_cost(spend_folders(summary.out_paths), endpoint.name) or 0.0
    return BudgetGuard(backend, summary, spent_before=spent, budget=endpoint.budget_usd)
