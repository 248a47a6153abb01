"""The official multi-dimensional, rule-calibrated judge prompt, byte for byte.

The template is a file (``data/alignbench/judge_prompt_multi_dimension.txt``), rendered
from the official judge.py; judge scores are comparable with published ones only when
the prompt is identical, which a test checks for all 683 questions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from alignbench_utils.errors import InputError
from alignbench_utils.paths import benchmark_dir
from alignbench_utils.taxonomy import dimension_definitions, dimensions_for

__all__ = [
    "OFFICIAL_TEMPLATE",
    "build_judge_prompt",
    "format_dimensions",
    "judge_prompts_entry",
    "load_template",
    "sha256_text",
    "template_sha256",
]

OFFICIAL_TEMPLATE = "judge_prompt_multi_dimension.txt"


@cache
def load_template(path: str | Path | None = None) -> str:
    """Read a judge prompt template (``str.format`` syntax); default: the official one."""
    path = Path(path) if path else benchmark_dir() / OFFICIAL_TEMPLATE
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def judge_prompts_entry(path: str | Path, name: str) -> dict[str, Any]:
    """The entry ``name`` of an MT-Bench ``judge_prompts.jsonl`` (its ``system_prompt``,
    ``prompt_template``, ...), read byte for byte; an unknown name is an error naming the
    file."""
    for line in load_template(path).splitlines():
        entry = json.loads(line)
        if entry["name"] == name:
            return entry
    raise InputError(f"no prompt named {name!r}", path=path)


def sha256_text(text: str) -> str:
    """SHA-256 of the UTF-8 bytes of ``text``.

    >>> sha256_text("")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template_sha256(path: str | Path | None = None) -> str:
    """Hash of the template in use; recorded in every judgment and report."""
    return sha256_text(load_template(path))


def format_dimensions(subcategory: str) -> str:
    """The ``{dimensions}`` block: ``"1. name: definition\\n"`` per dimension.

    >>> format_dimensions("推理").splitlines()[2]
    '3. 逻辑连贯性: 回答是否在整体上保持一致，是否在不同部分之间保持逻辑连贯性，避免了自相矛盾。'
    """
    definitions = dimension_definitions()
    return "".join(f"{i + 1}. {name}: {definitions[name]}\n"
                   for i, name in enumerate(dimensions_for(subcategory)))


def build_judge_prompt(question: Mapping[str, Any], answer: str, *,
                       template: str | Path | None = None) -> str:
    """Fill the judge prompt for one question (a mapping with category, subcategory,
    question and reference) and one answer.

    >>> q = {"category": "数学计算", "subcategory": "初等数学", "question": "1+1=?",
    ...      "reference": "2"}
    >>> p = build_judge_prompt(q, "2")
    >>> "由于您评估的回答类型是数学计算" in p, p.endswith("[助手的答案开始]\\n2\\n[助手的答案结束]\\n")
    (True, True)
    """
    return load_template(template).format(
        category=question["category"],
        dimensions=format_dimensions(question["subcategory"]),
        question=question["question"],
        reference=question["reference"],
        answer=answer,
    )
