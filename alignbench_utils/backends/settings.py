"""Each backend's own settings, as typed data: one dataclass per backend that has options,
one field of :class:`BackendSettings` per such backend, named after it.

:class:`~alignbench_utils.config.EndpointSettings` inherits :class:`BackendSettings`, so a
backend's options are one mapping on an endpoint in the run YAML (``batch: {poll_s: 10}``),
CLI flags ``--<backend>-<option>`` (``--batch-poll-s 10``) and one attribute of
``EndpointConfig`` (``endpoint.batch.poll_s``), validated the same way everywhere. This module
imports nothing of the package, so the config reads it without loading any backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BackendSettings", "BatchSettings"]


@dataclass(kw_only=True)
class BatchSettings:
    """The batch backend (:mod:`alignbench_utils.backends.batch`); defaults are OpenAI's
    limits."""

    endpoint: str = "/v1/chat/completions"  # the url of every batch line
    completion_window: str = "24h"
    poll_s: float = 30.0  # between status checks of open batches
    max_wait_s: float = 90000.0  # a request waits this long, then fails (rerun collects it)
    collect_s: float = 2.0  # submit once no new request came for this long
    max_requests: int = 50000  # requests per batch (split above)
    max_bytes: int = 200_000_000  # input file size per batch (split above)
    max_attempts: int = 3  # submissions of one request (failed items, expired batches)

    def problems(self) -> list[tuple[str, str]]:
        """``(option, what is wrong)`` for each option out of range.

        >>> BatchSettings(poll_s=0, max_attempts=0).problems()
        [('poll_s', 'must be > 0 seconds'), ('max_attempts', 'must be >= 1')]
        """
        out = [(name, "must be > 0 seconds") for name in ("poll_s", "max_wait_s", "collect_s")
               if getattr(self, name) <= 0]
        return out + [(name, "must be >= 1") for name in ("max_requests", "max_bytes",
                                                          "max_attempts")
                      if getattr(self, name) < 1]


@dataclass(kw_only=True)
class BackendSettings:
    """The settings of every backend that has some, one field each, named as the backend."""

    batch: BatchSettings = field(default_factory=BatchSettings)
