"""The judging-protocol interface and its registry: WHAT is asked and HOW the reply is read.

A protocol turns an item (an answer record, or a pair of answers) into a request, reads the
judge's reply into a typed :class:`Reading` (``ok`` with its score or verdict, or
``parse_failed`` with its reason), and may re-ask when a reply cannot be read. Stages never
know which protocol they run; it is picked by name (``--protocol``, YAML ``protocol:``), with
its options as a typed settings object (:class:`ProtocolSettings`, one subclass per protocol
with options of its own). Adding one is one module with one class decorated
``@register_protocol`` plus its data files; see Inspect AI's scorers and AlpacaEval's
evaluator configs for the idea.

Names are kebab-case (``alignbench-pointwise``, ``mtbench-single``, ``llmbar-vanilla``);
:data:`ALIASES` maps names of older records and YAML files to them.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from alignbench_utils.errors import InputError

__all__ = [
    "ALIASES",
    "DEFAULT_PROTOCOL",
    "PARSE_FAILED",
    "PROTOCOLS",
    "JudgingProtocol",
    "ProtocolRequest",
    "ProtocolSettings",
    "Reading",
    "canonical_protocol",
    "get_protocol",
    "register_protocol",
]

DEFAULT_PROTOCOL = "alignbench-pointwise"  # the official AlignBench judging: the one home
ALIASES: dict[str, str] = {"pointwise_alignbench": DEFAULT_PROTOCOL}  # older names
PARSE_FAILED = "parse_failed"  # the status of a reply the protocol cannot read
PROTOCOLS: dict[str, type[JudgingProtocol]] = {}


def canonical_protocol(name: str) -> str:
    """The registered spelling of a protocol name (older names are aliases).

    >>> canonical_protocol("pointwise_alignbench"), canonical_protocol("mtbench-single")
    ('alignbench-pointwise', 'mtbench-single')
    """
    return ALIASES.get(name, name)


@dataclass(frozen=True, kw_only=True)
class ProtocolSettings:
    """Options every protocol takes: the judge's ``max_tokens`` (its default lives with the
    judge's sampling settings) and the ``seed`` sent with each request (None: not sent). A
    protocol with options of its own subclasses this and names the subclass as its
    ``settings_class``; the YAML judge entry and the CLI fill it."""

    max_tokens: int
    seed: int | None = None


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


@dataclass(frozen=True)
class Reading:
    """A reply as the protocol reads it. ``status`` is ``ok`` or ``parse_failed``
    (:data:`PARSE_FAILED`, with the reason in ``error``); a pointwise protocol fills
    ``score`` (and ``dimensions`` when it has them), a pairwise one ``verdict`` (in the order
    shown: 1 first, 2 second, 0 tie); ``fields`` are the protocol's own record fields
    (``parse_method``, ``fallback``, ...).

    >>> Reading("ok", score=7.0).record_fields()
    {'score': 7.0, 'dimensions': {}, 'error': None}
    """

    status: str
    score: float | None = None
    dimensions: Mapping[str, float] = field(default_factory=dict)
    verdict: int | None = None
    error: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def record_fields(self) -> dict[str, Any]:
        """What a pointwise judgment record stores of this reading."""
        return {"score": self.score, "dimensions": dict(self.dimensions), "error": self.error,
                **self.fields}


class JudgingProtocol(ABC):
    """One way of judging; instances carry the settings of one judging run."""

    name: ClassVar[str]
    kind: ClassVar[str] = "pointwise"  # what it judges: "pointwise" (one answer) or "pairwise"
    reask_strategy: ClassVar[str | None] = None  # recorded in every judgment
    settings_class: ClassVar[type[ProtocolSettings]] = ProtocolSettings
    template_sha256: str = ""  # hash of the prompt template(s) in use, printed and recorded

    def __init__(self, settings: ProtocolSettings | None = None, /, **options: Any) -> None:
        self.options = settings if settings is not None else self.make_settings(**options)

    @classmethod
    def make_settings(cls, **options: Any) -> ProtocolSettings:
        """This protocol's settings from keyword options; an option it does not take is an
        error naming the protocol and the options it takes."""
        known = [f.name for f in dataclasses.fields(cls.settings_class)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise InputError(f"protocol {cls.name} takes no option {unknown[0]!r} (its options: "
                             f"{', '.join(known)})", field=unknown[0])
        return cls.settings_class(**options)

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
        Without a seed only sample 0 can be taken."""
        if sample == 0:
            return self
        seed = getattr(self.options, "seed", None)
        if seed is None:
            raise InputError(f"repeated judgments (sample {sample}) need a seed: each sample "
                             "is sent with seed + sample", field="seed")
        return type(self)(dataclasses.replace(self.options, seed=seed + sample))


def register_protocol(cls: type[JudgingProtocol]) -> type[JudgingProtocol]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    PROTOCOLS[cls.name] = cls
    return cls


def get_protocol(name: str) -> type[JudgingProtocol]:
    """The protocol class registered as ``name`` (or an older alias of it)."""
    try:
        return PROTOCOLS[canonical_protocol(name)]
    except KeyError:
        raise InputError(f"unknown judging protocol {name!r}; allowed: "
                         f"{', '.join(sorted(PROTOCOLS))}", field="protocol") from None
