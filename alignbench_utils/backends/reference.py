"""The reference control: "answers" with each question's reference answer, no HTTP call.

Judged like any model, it calibrates a judge: the rubric says a reference answer deserves
about 8. It cannot judge."""

from __future__ import annotations

from typing import Any

from alignbench_utils.backends.base import Backend, CallResult, register_backend
from alignbench_utils.data.records import ZERO_USAGE

__all__ = ["ReferenceBackend"]


@register_backend
class ReferenceBackend(Backend):
    """Returns ``item["reference"]`` for every request."""

    name = "reference"
    can_judge = False

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any], *,
                       item: dict[str, Any]) -> CallResult:
        return CallResult(text=item["reference"], usage=dict(ZERO_USAGE), latency_s=0.0,
                          attempts=0)
