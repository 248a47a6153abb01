"""Pairwise judging protocols: one class, and one settings file per protocol.

A pairwise protocol is data. ``<name>.json`` beside this module says

- ``template``: where the prompt comes from: an official file in ``data/judgebench/``
  (``{"judgebench": path}``, read byte for byte), an entry of MT-Bench's
  ``judge_prompts.jsonl`` (``{"judgebench_prompts": path, "name": entry}``: its system prompt
  and prompt template), a file beside this module (``{"package": file}``), or the user's
  ``--template FILE`` (``{"user": true}``); ``template_without_input`` optionally names the
  template for items without an ``input`` (PandaLM has two);
- ``messages``: how the filled template is sent: ``chatml`` (ChatML text with a system turn,
  split into chat messages exactly as LLMBar's ``prompt_to_chatml``), ``system_user`` (the
  entry's system prompt, then the filled template) or ``user`` (one user message);
- ``placeholders``: which template field takes which part of the pair in the order shown
  (:data:`VIEW_FIELDS`); a user template may use only these, and must use the
  ``required_placeholders``;
- ``verdict_rule``: the benchmark's rule that reads the reply
  (:data:`~alignbench_utils.judgebench.VERDICT_RULES`); no verdict is ``parse_failed``;
- ``params``: the sampling parameters the source sends (temperature, max_tokens);
  ``logit_bias``: the source's token lists and biases, sent only when asked for a tokenizer
  (token ids are the tokenizer's: :func:`logit_bias_ids`);
- ``swap``: ``both`` orders (the default of every benchmark but PandaLM) or ``single``;
- ``output_cleanup``: a regex removed from both responses before filling (PandaLM's).

Every ``*.json`` here is registered under its ``name`` at import; adding a protocol is adding a
file (see docs/architecture.md).

The item of a pairwise protocol is a *pair* (a dict): ``pair_id``, ``instruction``, ``input``,
``reference`` (or None), ``output_1``, ``output_2`` and, for AlignBench answers, ``category``
and ``subcategory``; :meth:`PairwiseProtocol.request` takes it with ``order`` set: ``"ab"``
shows output_1 first, ``"ba"`` output_2 first. :meth:`PairwiseProtocol.read` returns the
verdict *in the order shown* (``verdict_shown``); the stage maps it back
(:func:`~alignbench_utils.judgebench.map_back`).
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from alignbench_utils.data.store import canonical_json
from alignbench_utils.errors import InputError
from alignbench_utils.judgebench.verdicts import VERDICT_RULES, read_verdict
from alignbench_utils.paths import judgebench_dir
from alignbench_utils.protocols.base import (
    JudgingProtocol,
    ProtocolRequest,
    ProtocolSettings,
    Reading,
    register_protocol,
)
from alignbench_utils.protocols.prompts import (
    format_dimensions,
    judge_prompts_entry,
    load_template,
    sha256_text,
)

__all__ = [
    "MESSAGE_STYLES",
    "PAIRWISE_PROTOCOLS",
    "SWAPS",
    "VIEW_FIELDS",
    "PairwiseOptions",
    "PairwiseProtocol",
    "PairwiseSettings",
    "chatml_messages",
    "logit_bias_ids",
    "pair_view",
]

SETTINGS_DIR = Path(__file__).parent
MESSAGE_STYLES = ("chatml", "system_user", "user")
SWAPS: dict[str, tuple[str, ...]] = {"both": ("ab", "ba"), "single": ("ab",)}
VIEW_FIELDS = ("first", "second", "instruction", "input", "task", "reference", "category",
               "dimensions")
_CHATML_START, _CHATML_END = "<|im_start|>", "<|im_end|>"


@dataclass(frozen=True)
class PairwiseSettings:
    """One protocol's settings file (see the module docstring for each key)."""

    name: str
    description: str
    source: str
    template: Mapping[str, Any]
    messages: str
    placeholders: Mapping[str, str]
    verdict_rule: str
    params: Mapping[str, Any]
    swap: str
    template_without_input: Mapping[str, Any] | None = None
    required_placeholders: tuple[str, ...] = ()
    output_cleanup: str | None = None
    logit_bias: Mapping[str, Any] | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> PairwiseSettings:
        """Read and check a settings file; errors name the file and the key."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown keys {unknown}; allowed: {sorted(known)}", path=path)
        checks = (("messages", data.get("messages") in MESSAGE_STYLES, MESSAGE_STYLES),
                  ("verdict_rule", data.get("verdict_rule") in VERDICT_RULES, list(VERDICT_RULES)),
                  ("swap", data.get("swap") in SWAPS, list(SWAPS)))
        for key, ok, allowed in checks:
            if not ok:
                raise InputError(f"expected one of {allowed}, got {data.get(key)!r}", path=path,
                                 field=key)
        bad = sorted(set(data.get("placeholders", {}).values()) - set(VIEW_FIELDS))
        if bad:
            raise InputError(f"unknown pair fields {bad}; allowed: {VIEW_FIELDS}", path=path,
                             field="placeholders")
        data["required_placeholders"] = tuple(data.get("required_placeholders", ()))
        try:
            return cls(**data)
        except TypeError as exc:
            raise InputError(str(exc), path=path) from None


@dataclass(frozen=True, kw_only=True)
class PairwiseOptions(ProtocolSettings):
    """The options of a pairwise run (see :class:`PairwiseProtocol`); ``max_tokens`` None
    keeps the source's."""

    max_tokens: int | None = None  # type: ignore[assignment]
    template: str | os.PathLike | None = None
    orders: str | None = None
    logit_bias_model: str | None = None


def chatml_messages(prompt: str) -> list[dict[str, str]]:
    """ChatML text as chat messages, exactly as LLMBar's ``prompt_to_chatml``: strip the text,
    split at ``<|im_start|>``, the first line of each turn is its role, its content runs to
    ``<|im_end|>`` and is stripped; ``system name=...`` turns keep their ``name``.

    >>> chatml_messages("<|im_start|>system\\nBe fair.\\n<|im_end|>\\n<|im_start|>user\\n"
    ...                 "Which one?\\n<|im_end|>")
    [{'role': 'system', 'content': 'Be fair.'}, {'role': 'user', 'content': 'Which one?'}]
    >>> chatml_messages("Which one?")
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: field 'template': not ChatML text (must start with <|im_start|> and end with <|im_end|>)
    """
    prompt = prompt.strip()
    if not (prompt.startswith(_CHATML_START) and prompt.endswith(_CHATML_END)):
        raise InputError(f"not ChatML text (must start with {_CHATML_START} and end with "
                         f"{_CHATML_END})", field="template")
    messages = []
    for turn in prompt.split(_CHATML_START)[1:]:
        head, _, body = turn.partition("\n")
        role = head.strip()
        extra: dict[str, str] = {}
        if role.startswith("system") and role != "system":
            extra = dict(s.split("=", 1) for s in role.split("system", 1)[-1].split(" ") if s)
            role = "system"
        messages.append({"role": role, "content": body.split(_CHATML_END, 1)[0].strip(),
                         **extra})
    return messages


def logit_bias_ids(spec: Mapping[str, Any], encode: Callable[[str], list[int]]) -> dict[str, int]:
    """The logit bias of LLMBar's ``process_openai_kwargs`` for one tokenizer: every
    ``avoid`` string that is a *single* token gets ``avoid_bias``, every token of every
    ``favor`` string gets ``favor_bias`` (later wins). Keys are token ids as strings (JSON).

    >>> per_char = lambda text: [ord(c) for c in text]  # a tokenizer with one token per char
    >>> logit_bias_ids({"avoid": ["A", "It"], "avoid_bias": -100, "favor": ["(a"],
    ...                 "favor_bias": 7}, per_char)
    {'65': -100, '40': 7, '97': 7}
    """
    bias: dict[str, int] = {}
    for text in spec["avoid"]:
        ids = encode(text)
        if len(ids) == 1:
            bias[str(ids[0])] = spec["avoid_bias"]
    for text in spec["favor"]:
        for token in encode(text):
            bias[str(token)] = spec["favor_bias"]
    return bias


def _tiktoken_encoder(model: str) -> Callable[[str], list[int]]:
    """The tokenizer LLMBar uses for an OpenAI model (``tiktoken.encoding_for_model``)."""
    try:
        import tiktoken
    except ImportError:
        raise InputError("a logit bias for an OpenAI model needs tiktoken (pip install tiktoken)",
                         field="logit_bias_model") from None
    try:
        return tiktoken.encoding_for_model(model).encode
    except KeyError:
        raise InputError(f"tiktoken has no tokenizer for {model!r}",
                         field="logit_bias_model") from None


def pair_view(pair: Mapping[str, Any], order: str, wanted: set[str],
              cleanup: re.Pattern[str] | None = None) -> dict[str, str]:
    """The parts of ``pair`` a template asks for (``wanted`` ⊆ :data:`VIEW_FIELDS`) in the
    order shown; ``task`` is the instruction followed by the input, when there is one.

    >>> p = {"pair_id": "x", "instruction": "Add.", "input": "1+1", "output_1": "2",
    ...      "output_2": "3", "reference": None}
    >>> pair_view(p, "ba", {"first", "second", "task"})
    {'first': '3', 'second': '2', 'task': 'Add.\\n\\n1+1'}
    >>> pair_view(p, "ab", {"reference"})
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: item x, field 'reference': this protocol needs a reference answer; the pair has none
    """
    if order not in ("ab", "ba"):
        raise ValueError(f"order must be 'ab' or 'ba', got {order!r}")
    shown = (pair["output_1"], pair["output_2"])[::1 if order == "ab" else -1]
    if cleanup is not None:
        shown = tuple(cleanup.sub("", text.strip()).strip() for text in shown)
    view: dict[str, str] = {}
    for name in sorted(wanted, key=VIEW_FIELDS.index):
        if name in ("first", "second"):
            view[name] = shown[name == "second"]
        elif name == "task":
            extra = pair.get("input") or ""
            view[name] = pair["instruction"] + (f"\n\n{extra}" if extra else "")
        elif name == "dimensions":
            view[name] = format_dimensions(_needed(pair, "subcategory"))
        else:
            view[name] = _needed(pair, name) if name in ("reference", "category") else \
                pair.get(name) or ""
    return view


def _needed(pair: Mapping[str, Any], name: str) -> str:
    value = pair.get(name)
    if not isinstance(value, str) or not value:
        raise InputError(f"this protocol needs a {name}{' answer' if name == 'reference' else ''}"
                         f"; the pair has none", item=pair.get("pair_id"), field=name)
    return value


def _template_fields(text: str, where: str | Path) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise InputError(f"not a str.format template ({exc}); double literal braces: {{{{ }}}}",
                         path=where, field="template") from None


class PairwiseProtocol(JudgingProtocol):
    """A pairwise protocol; each registered subclass carries one :class:`PairwiseSettings`.

    ``template`` is the user's template file (protocols whose settings say ``"user": true``);
    ``orders`` overrides the swap policy (``"both"`` / ``"single"``); ``max_tokens`` the
    source's; ``seed`` is sent when given; ``logit_bias_model`` sends the source's logit bias
    computed with that OpenAI model's tokenizer (tiktoken), as LLMBar does for GPT-4.
    """

    kind = "pairwise"
    settings: ClassVar[PairwiseSettings]
    settings_class = PairwiseOptions

    def __init__(self, settings: ProtocolSettings | None = None, /, **options: Any) -> None:
        super().__init__(settings, **options)
        opts = self.options
        assert isinstance(opts, PairwiseOptions)
        template, orders, max_tokens = opts.template, opts.orders, opts.max_tokens
        seed, logit_bias_model = opts.seed, opts.logit_bias_model
        s = self.settings
        if template is not None and not s.template.get("user"):
            raise InputError(f"protocol {s.name} sends its official prompt; a template file is "
                             "for the protocols that read one (autoj, critiquellm)",
                             field="template")
        self.system, self.template, self.template_path = self._load(s.template, template)
        self.template_without_input = (self._load(s.template_without_input, None)[1]
                                       if s.template_without_input else None)
        for text in filter(None, (self.template, self.template_without_input)):
            self._check_fields(text)
        if orders is not None and orders not in SWAPS:
            raise InputError(f"orders must be one of {list(SWAPS)}, got {orders!r}",
                             field="orders")
        self.orders = SWAPS[orders or s.swap]
        self.cleanup = re.compile(s.output_cleanup) if s.output_cleanup else None
        self.params: dict[str, Any] = {**s.params}
        if max_tokens is not None:
            self.params["max_tokens"] = max_tokens
        if seed is not None:
            self.params["seed"] = seed
        if logit_bias_model is not None:
            if not s.logit_bias:
                raise InputError(f"protocol {s.name} has no official logit bias",
                                 field="logit_bias_model")
            self.params["logit_bias"] = logit_bias_ids(s.logit_bias,
                                                       _tiktoken_encoder(logit_bias_model))
        self.logit_bias_model = logit_bias_model
        self.template_sha256 = sha256_text(canonical_json(
            [self.system, self.template, self.template_without_input]))

    @staticmethod
    def _load(source: Mapping[str, Any], user: str | os.PathLike | None
              ) -> tuple[str | None, str, str]:
        """``(system prompt or None, template text, where it came from)``."""
        if source.get("user"):
            if user is None:
                raise InputError("this protocol reads the user's template: pass --template FILE "
                                 "(YAML judge_eval.template) with {output_1} and {output_2}",
                                 field="template")
            if not Path(user).is_file():
                raise InputError("no such template file", path=user, field="template")
            return None, load_template(str(user)), str(user)
        if "judgebench_prompts" in source:
            path = judgebench_dir() / source["judgebench_prompts"]
            entry = judge_prompts_entry(path, source["name"])
            return entry["system_prompt"], entry["prompt_template"], str(path)
        path = (judgebench_dir() / source["judgebench"] if "judgebench" in source
                else SETTINGS_DIR / source["package"])
        return None, load_template(str(path)), str(path)

    def _check_fields(self, text: str) -> None:
        s = self.settings
        used = _template_fields(text, self.template_path)
        unknown = sorted(used - set(s.placeholders))
        if unknown:
            raise InputError(f"unknown placeholders {unknown}; {s.name} fills "
                             f"{sorted(s.placeholders)}", path=self.template_path,
                             field="template")
        missing = [p for p in s.required_placeholders if p not in used]
        if missing:
            raise InputError(f"the template lacks {', '.join('{' + p + '}' for p in missing)}",
                             path=self.template_path, field="template")

    def prompt(self, item: Mapping[str, Any]) -> str:
        """The filled template for ``item`` (a pair with ``order``)."""
        s = self.settings
        text = (self.template_without_input
                if self.template_without_input is not None and not item.get("input")
                else self.template)
        used = _template_fields(text, self.template_path)
        view = pair_view(item, item["order"], {s.placeholders[p] for p in used}, self.cleanup)
        return text.format(**{p: view[s.placeholders[p]] for p in used})

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages that carry ``prompt`` (the settings' ``messages`` style)."""
        style = self.settings.messages
        if style == "chatml":
            return chatml_messages(prompt)
        system = [{"role": "system", "content": self.system}] if style == "system_user" else []
        return [*system, {"role": "user", "content": prompt}]

    def request(self, item: dict[str, Any]) -> ProtocolRequest:
        prompt = self.prompt(item)
        messages = self.messages(prompt)
        return ProtocolRequest(
            messages=messages, params=dict(self.params),
            hash_fields={"protocol": self.name, "template_sha256": self.template_sha256,
                         "pair_id": item["pair_id"], "order": item["order"]},
            record_fields={"prompt_sha256": sha256_text(canonical_json(messages)),
                           "template_sha256": self.template_sha256,
                           "request": {**self.params, "roles": [m["role"] for m in messages],
                                       "logit_bias_model": self.logit_bias_model}})

    def read(self, text: str) -> Reading:
        """The verdict in the order shown (1, 2, 0 = tie) under the settings' rule; a reply
        without one is ``parse_failed``. ``fallback``: an official default verdict."""
        found = read_verdict(self.settings.verdict_rule, text, "ab")
        if found["status"] != "ok":
            return Reading(str(found["status"]), error=f"no verdict under the "
                           f"{self.settings.verdict_rule} rule", fields={"fallback": False})
        return Reading("ok", verdict=found["verdict"],
                       fields={"fallback": bool(found["fallback"])})


def _register(path: Path) -> type[PairwiseProtocol]:
    settings = PairwiseSettings.load(path)
    cls = type(f"Pairwise_{settings.name.replace('-', '_')}", (PairwiseProtocol,),
               {"name": settings.name, "settings": settings, "__doc__": settings.description})
    return register_protocol(cls)


PAIRWISE_PROTOCOLS: tuple[str, ...] = tuple(
    _register(path).name for path in sorted(SETTINGS_DIR.glob("*.json")))
