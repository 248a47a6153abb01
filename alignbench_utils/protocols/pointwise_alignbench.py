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
from pathlib import Path
from typing import Any

from alignbench_utils.errors import InputError
from alignbench_utils.protocols.base import (
    JudgingProtocol,
    ProtocolRequest,
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


@register_protocol
class PointwiseAlignBench(JudgingProtocol):
    """Official pointwise judging of one answer (an answer record with its question)."""

    name = "pointwise_alignbench"
    reask_strategy = REASK_STRATEGY

    def __init__(self, *, structured: str = "none", template: str | os.PathLike | None = None,
                 max_tokens: int, seed: int | None = None) -> None:
        if structured not in MODES:
            raise InputError(f"unknown structured mode {structured!r}; allowed: "
                             f"{', '.join(MODES)}", field="structured")
        self.structured, self.template = structured, template
        self.max_tokens, self.seed = max_tokens, seed
        self.template_sha256 = template_sha256(template)

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
        fields = parse_judgment(text).to_dict()
        return Reading(status=fields.pop("status"), fields=fields)

    def reask(self, item: dict[str, Any], first: ProtocolRequest,
              raw: str) -> ProtocolRequest:
        messages = [*first.messages, {"role": "assistant", "content": raw},
                    {"role": "user", "content": format_reminder(item["subcategory"])}]
        return ProtocolRequest(messages=messages,
                               params={**first.params, "temperature": REASK_TEMPERATURE})
