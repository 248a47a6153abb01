"""Judging protocols, registered by name: the official ``alignbench-pointwise`` and
MT-Bench's ``mtbench-single`` (pointwise), then the pairwise family (:mod:`.pairwise`, one
settings file each). See :mod:`.base` for the interface."""

from alignbench_utils.protocols import mtbench_single, pairwise, pointwise_alignbench  # noqa: F401  (registers them)
from alignbench_utils.protocols.base import (
    ALIASES,
    DEFAULT_PROTOCOL,
    PARSE_FAILED,
    PROTOCOLS,
    JudgingProtocol,
    ProtocolRequest,
    ProtocolSettings,
    Reading,
    canonical_protocol,
    get_protocol,
    register_protocol,
)

__all__ = ["ALIASES", "DEFAULT_PROTOCOL", "PARSE_FAILED", "PROTOCOLS", "JudgingProtocol",
           "ProtocolRequest", "ProtocolSettings", "Reading", "canonical_protocol",
           "get_protocol", "register_protocol"]
