"""The official AlignBench pointwise protocol: the multi-dimensional, rule-calibrated prompt,
byte for byte, read by the robust parser, re-asked with a format reminder.

Settings (judge temperature, re-ask temperature and reminder text) are data:
``pointwise_alignbench.json`` beside this module. The prompt template is the official file
(:mod:`alignbench_utils.protocols.prompts`), the parser :func:`~alignbench_utils.protocols.parsing.parse_judgment`,
structured output :mod:`alignbench_utils.protocols.structured`.

Re-ask strategy (recorded as ``reask_strategy``): the judge runs at temperature 0, where the
same prompt usually gives the same output again, so a re-ask appends the unparseable output
as an assistant turn and a user turn reminding the exact score-dict format (built from the
question's dimensions), sent at the re-ask temperature.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignbench_utils.errors import InputError
from alignbench_utils.protocols.base import (
    DEFAULT_PROTOCOL,
    PARSE_FAILED,
    JudgingProtocol,
    ProtocolRequest,
    ProtocolSettings,
    Reading,
    register_protocol,
)
from alignbench_utils.protocols.parsing import parse_judgment
from alignbench_utils.protocols.prompts import build_judge_prompt, sha256_text, template_sha256
from alignbench_utils.protocols.structured import MODES, request_params, score_keys

__all__ = [
    "REASK_STRATEGY",
    "REASK_TEMPERATURE",
    "SETTINGS",
    "AlignBenchSettings",
    "PointwiseAlignBench",
    "format_reminder",
]

SETTINGS: dict[str, Any] = json.loads(
    Path(__file__).with_name("pointwise_alignbench.json").read_text(encoding="utf-8"))
REASK_TEMPERATURE: float = SETTINGS["reask"]["temperature"]
REASK_STRATEGY = f"followup_format_reminder@temperature={REASK_TEMPERATURE}"


def format_reminder(subcategory: str) -> str:
    """The follow-up turn of a re-ask, naming this question's dimensions.

    >>> format_reminder("翻译").endswith("'丰富度': 打分, '综合得分': 打分}")
    True
    """
    keys = score_keys(subcategory)
    example = "{" + ", ".join(f"'{k}': 打分" for k in keys) + "}"
    return SETTINGS["reask"]["reminder"].format(example=example)


@dataclass(frozen=True, kw_only=True)
class AlignBenchSettings(ProtocolSettings):
    """The official protocol's own options: ``structured`` output (``none``: the official
    free text; ``json_schema``, ``grammar``: :mod:`alignbench_utils.protocols.structured`) and a prompt
    ``template`` file (None: the official one)."""

    structured: str = "none"
    template: str | os.PathLike | None = None


@register_protocol
class PointwiseAlignBench(JudgingProtocol):
    """Official pointwise judging of one answer (an answer record with its question)."""

    name = DEFAULT_PROTOCOL
    reask_strategy = REASK_STRATEGY
    settings_class = AlignBenchSettings

    def __init__(self, settings: ProtocolSettings | None = None, /, **options: Any) -> None:
        super().__init__(settings, **options)
        opts = self.options
        assert isinstance(opts, AlignBenchSettings)
        if opts.structured not in MODES:
            raise InputError(f"unknown structured mode {opts.structured!r}; allowed: "
                             f"{', '.join(MODES)}", field="structured")
        self.structured, self.template = opts.structured, opts.template
        self.max_tokens, self.seed = opts.max_tokens, opts.seed
        self.template_sha256 = template_sha256(self.template)

    def request(self, item: dict[str, Any]) -> ProtocolRequest:
        prompt = build_judge_prompt(item, item["answer"], template=self.template)
        params = {"temperature": SETTINGS["temperature"], "max_tokens": self.max_tokens,
                  **({"seed": self.seed} if self.seed is not None else {}),
                  **request_params(self.structured, item["subcategory"], self.max_tokens)}
        return ProtocolRequest(
            messages=[{"role": "user", "content": prompt}], params=params,
            hash_fields={"template_sha256": self.template_sha256},
            record_fields={
                "prompt_sha256": sha256_text(prompt), "template_sha256": self.template_sha256,
                "structured_output": self.structured,
                "request": {"temperature": params["temperature"], "max_tokens": self.max_tokens,
                            "seed": self.seed, "structured_output": self.structured}})

    def read(self, text: str) -> Reading:
        parsed = parse_judgment(text)
        return Reading("ok" if parsed.ok else PARSE_FAILED, score=parsed.score,
                       dimensions=parsed.dimensions, error=parsed.error,
                       fields={"parse_method": parsed.method})

    def reask(self, item: dict[str, Any], first: ProtocolRequest,
              raw: str) -> ProtocolRequest:
        messages = [*first.messages, {"role": "assistant", "content": raw},
                    {"role": "user", "content": format_reminder(item["subcategory"])}]
        return ProtocolRequest(messages=messages,
                               params={**first.params, "temperature": REASK_TEMPERATURE})
