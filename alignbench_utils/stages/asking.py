"""One item's exchange with a judge under a protocol: ask, read the reply, re-ask while the
protocol cannot read it and allows a follow-up. Both judging stages (pointwise
:mod:`~alignbench_utils.stages.judge`, pairwise :mod:`~alignbench_utils.stages.compare`) run this one loop,
so a protocol's re-ask works the same on every path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alignbench_utils.backends import Backend
from alignbench_utils.data.records import ZERO_USAGE
from alignbench_utils.protocols import JudgingProtocol, ProtocolRequest, Reading
from alignbench_utils.running.client import CallError

__all__ = ["Exchange", "ask"]


@dataclass
class Exchange:
    """What came of asking: the last ``reading`` (None when the endpoint failed, with the
    reason in ``error``), the last raw reply, the earlier ones (``history``), the re-asks made
    and what the calls cost (usage summed over them; latency, finish reason and thinking of the
    last)."""

    reading: Reading | None = None
    raw: str = ""
    history: list[str] = field(default_factory=list)
    reasks: int = 0
    usage: dict[str, int] = field(default_factory=lambda: dict(ZERO_USAGE))
    attempts: int = 0
    latency_s: float | None = None
    finish_reason: str | None = None
    reasoning: str | None = None
    error: str | None = None


async def ask(protocol: JudgingProtocol, backend: Backend, item: dict[str, Any],
              first: ProtocolRequest, *, max_reasks: int) -> Exchange:
    """Send ``first`` for ``item`` and read the reply; while it cannot be read, send the
    protocol's follow-up (:meth:`~JudgingProtocol.reask`), at most ``max_reasks`` times."""
    out, request = Exchange(), first
    for attempt in range(max_reasks + 1):
        if attempt:
            follow = protocol.reask(item, first, out.raw)
            if follow is None:
                break
            request, out.reasks = follow, out.reasks + 1
            out.history.append(out.raw)
        try:
            result = await backend.complete(request.messages, request.params, item=item)
        except CallError as exc:
            out.attempts += exc.attempts
            out.error, out.reading = str(exc), None
            break
        out.attempts += result.attempts
        out.usage = {k: out.usage[k] + result.usage[k] for k in out.usage}
        out.latency_s, out.raw, out.reasoning = result.latency_s, result.text, result.reasoning
        out.finish_reason = result.finish_reason
        out.reading = protocol.read(out.raw)
        if out.reading.ok:
            break
    return out
