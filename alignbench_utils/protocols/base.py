"""The judging-protocol interface and its registry: WHAT is asked and HOW the reply is read.

A protocol turns an item (an answer record, later a pair of answers) into a request, reads
the judge's reply into an outcome (``ok`` with its fields, or a failure with its reason),
and may re-ask when a reply cannot be read. Stages never know which protocol they run; it is
picked by name (``--protocol``, YAML ``protocol:``). Adding one is one module with one class
decorated ``@register_protocol`` plus its template files; see Inspect AI's scorers and
AlpacaEval's evaluator configs for the idea.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from alignbench_utils.errors import InputError

__all__ = [
    "PROTOCOLS",
    "JudgingProtocol",
    "ProtocolRequest",
    "Reading",
    "get_protocol",
    "register_protocol",
]

PROTOCOLS: dict[str, type[JudgingProtocol]] = {}


@dataclass
class ProtocolRequest:
    """What to send for one item, and what the record says about it.

    ``hash_fields`` join the request hash (the resume key) beside the messages and
    parameters; ``record_fields`` go into the judgment record (prompt hash, template hash,
    the request parameters as recorded, ...)."""

    messages: list[dict[str, str]]
    params: dict[str, Any]
    hash_fields: dict[str, Any] = field(default_factory=dict)
    record_fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reading:
    """A reply as the protocol reads it: ``status`` is ``ok`` or a failure status
    (``parse_failed``), ``fields`` what the record stores (score, dimensions, error, ...)."""

    status: str
    fields: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class JudgingProtocol(ABC):
    """One way of judging; instances carry the settings of one judging run."""

    name: ClassVar[str]
    kind: ClassVar[str] = "pointwise"  # what it judges: "pointwise" (one answer) or "pairwise"
    reask_strategy: ClassVar[str | None] = None  # recorded in every judgment

    @abstractmethod
    def request(self, item: dict[str, Any]) -> ProtocolRequest:
        """The request for ``item``."""

    @abstractmethod
    def read(self, text: str) -> Reading:
        """The judge's final reply text (thinking already removed) → an outcome."""

    def reask(self, item: dict[str, Any], first: ProtocolRequest,
              raw: str) -> ProtocolRequest | None:
        """A follow-up request after ``raw`` could not be read; None: do not re-ask."""
        return None

    def for_sample(self, sample: int) -> JudgingProtocol:
        """This protocol for repeated judgment ``sample`` (0, 1, ...): sent with the seed
        ``seed + sample``, so each sample is reproducible where the endpoint honours seeds.
        A protocol without a ``seed`` attribute (or with none set) takes only sample 0."""
        if sample == 0:
            return self
        if getattr(self, "seed", None) is None:
            raise InputError(f"repeated judgments (sample {sample}) need a seed: each sample "
                             "is sent with seed + sample", field="seed")
        other = copy.copy(self)
        other.seed = self.seed + sample  # type: ignore[attr-defined]
        return other


def register_protocol(cls: type[JudgingProtocol]) -> type[JudgingProtocol]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    PROTOCOLS[cls.name] = cls
    return cls


def get_protocol(name: str) -> type[JudgingProtocol]:
    """The protocol class registered as ``name``."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise InputError(f"unknown judging protocol {name!r}; allowed: "
                         f"{', '.join(sorted(PROTOCOLS))}", field="protocol") from None
