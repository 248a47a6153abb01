"""MT-Bench single-answer grading (FastChat's ``llm_judge``) as a pointwise protocol,
``mtbench-single``: the protocol most papers reporting "MT-Bench-style" AlignBench scores use.

The prompts are FastChat's ``single-v1`` (every category) and ``single-math-v1`` (with the
question's reference answer, for the categories FastChat's ``NEED_REF_CATS`` stand for here:
数学计算 and 逻辑推理), read byte for byte from ``data/judgebench/mtbench/judge_prompts.jsonl``
and sent as FastChat sends them: the entry's system prompt, then the filled template, at
temperature 0. The reply is read as FastChat's ``run_judge_single`` reads it
(:func:`read_rating`). Settings are data: ``mtbench_single.json`` beside this module.

Differences from FastChat, on purpose: a rating outside 1-10 or no rating is
``parse_failed`` (FastChat stores -1), and such a reply is re-asked with a format reminder in
FastChat's own wording (``max_reasks: 0`` reproduces FastChat's single call).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from alignbench_utils.data.store import canonical_json
from alignbench_utils.paths import judgebench_dir
from alignbench_utils.protocols.base import (
    PARSE_FAILED,
    JudgingProtocol,
    ProtocolRequest,
    Reading,
    register_protocol,
)
from alignbench_utils.protocols.prompts import judge_prompts_entry, sha256_text

__all__ = ["REASK_STRATEGY", "SETTINGS", "MTBenchSingle", "read_rating"]

SETTINGS: dict[str, Any] = json.loads(
    Path(__file__).with_name("mtbench_single.json").read_text(encoding="utf-8"))
REASK_STRATEGY = f"followup_format_reminder@temperature={SETTINGS['reask']['temperature']}"
# FastChat's one_score_pattern and its backup.
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


def read_rating(text: str) -> Reading:
    """The rating of a reply as FastChat reads it: the first ``[[N]]``, else the first
    ``[N]``; a rating outside 1-10, or none, is ``parse_failed``.

    >>> read_rating("The answer is right. Rating: [[8]]").score
    8.0
    >>> r = read_rating("Rating: [7.5]")
    >>> r.score, r.fields["parse_method"]
    (7.5, 'backup')
    >>> read_rating("[[3]] first, then [[9]]").score
    3.0
    >>> r = read_rating("A fine answer.")
    >>> r.status, r.score, r.error
    ('parse_failed', None, 'no rating [[N]] or [N] in the reply')
    >>> read_rating("Rating: [[11]]").error
    'rating 11.0 is outside 1-10'
    """
    method = "rating"
    match = _RATING.search(text)
    if match is None:
        method, match = "backup", _RATING_BACKUP.search(text)
    if match is None:
        return Reading(PARSE_FAILED, error="no rating [[N]] or [N] in the reply",
                       fields={"parse_method": None})
    score = float(match.group(1))
    if not 1 <= score <= 10:
        return Reading(PARSE_FAILED, error=f"rating {score} is outside 1-10",
                       fields={"parse_method": method})
    return Reading("ok", score=score, fields={"parse_method": method})


@register_protocol
class MTBenchSingle(JudgingProtocol):
    """FastChat's single-answer grading of one answer (an answer record with its question)."""

    name = "mtbench-single"
    reask_strategy = REASK_STRATEGY

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        path = judgebench_dir() / SETTINGS["prompts"]
        self.entries = {key: judge_prompts_entry(path, SETTINGS[key])
                        for key in ("prompt", "reference_prompt")}
        self.template_sha256 = sha256_text(canonical_json(
            [[e["system_prompt"], e["prompt_template"]] for e in self.entries.values()]))

    def prompt_entry(self, item: dict[str, Any]) -> dict[str, Any]:
        """The judge_prompts.jsonl entry for ``item``'s category."""
        needs_reference = item["category"] in SETTINGS["reference_categories"]
        return self.entries["reference_prompt" if needs_reference else "prompt"]

    def request(self, item: dict[str, Any]) -> ProtocolRequest:
        entry = self.prompt_entry(item)
        fill = {"question": item["question"], "answer": item["answer"]}
        if "{ref_answer_1}" in entry["prompt_template"]:
            fill["ref_answer_1"] = item["reference"]
        messages = [{"role": "system", "content": entry["system_prompt"]},
                    {"role": "user", "content": entry["prompt_template"].format(**fill)}]
        opts = self.options
        params = {"temperature": SETTINGS["temperature"], "max_tokens": opts.max_tokens,
                  **({"seed": opts.seed} if opts.seed is not None else {})}
        return ProtocolRequest(
            messages=messages, params=params,
            hash_fields={"protocol": self.name, "template_sha256": self.template_sha256},
            record_fields={
                "prompt_sha256": sha256_text(canonical_json(messages)),
                "template_sha256": self.template_sha256, "structured_output": "none",
                "judge_prompt": entry["name"],
                "request": {"temperature": params["temperature"],
                            "max_tokens": opts.max_tokens, "seed": opts.seed}})

    def read(self, text: str) -> Reading:
        return read_rating(text)

    def reask(self, item: dict[str, Any], first: ProtocolRequest,
              raw: str) -> ProtocolRequest:
        messages = [*first.messages, {"role": "assistant", "content": raw},
                    {"role": "user", "content": SETTINGS["reask"]["reminder"]}]
        return ProtocolRequest(messages=messages, params={
            **first.params, "temperature": SETTINGS["reask"]["temperature"]})
