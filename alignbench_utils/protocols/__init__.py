"""Judging protocols, registered by name; ``pointwise_alignbench`` (official) is the first,
the pairwise family (:mod:`.pairwise`, one settings file each) follows. See :mod:`.base` for
the interface."""

from alignbench_utils.protocols import pairwise, pointwise_alignbench  # noqa: F401  (registers the built-in protocols)
from alignbench_utils.protocols.base import (
    PROTOCOLS,
    JudgingProtocol,
    ProtocolRequest,
    Reading,
    get_protocol,
    register_protocol,
)

__all__ = ["PROTOCOLS", "JudgingProtocol", "ProtocolRequest", "Reading", "get_protocol",
           "register_protocol"]
