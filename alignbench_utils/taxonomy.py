"""AlignBench's categories, groups, answer types, dimensions and temperatures.

Everything is read from the official config JSONs shipped in ``data/alignbench/config``,
so the package never disagrees with the protocol files it ships.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np

from alignbench_utils.paths import config_dir

__all__ = [
    "CATEGORIES",
    "CATEGORY_EN",
    "DEFAULT_TEMPERATURE",
    "LANGUAGE",
    "LANGUAGE_COL",
    "OVERALL_COL",
    "REASONING",
    "REASONING_COL",
    "answer_type",
    "combine_categories",
    "dimension_definitions",
    "dimensions_for",
    "subcategory_map",
    "temperature_for",
]

# Order of the official show_result.py columns.
REASONING: tuple[str, ...] = ("数学计算", "逻辑推理")
LANGUAGE: tuple[str, ...] = ("基本任务", "中文理解", "综合问答", "文本写作", "角色扮演", "专业能力")
CATEGORIES: tuple[str, ...] = REASONING + LANGUAGE
REASONING_COL, LANGUAGE_COL, OVERALL_COL = "中文推理", "中文语言", "总分"
CATEGORY_EN: dict[str, str] = {
    "数学计算": "math",
    "逻辑推理": "logic",
    "基本任务": "fundamental",
    "中文理解": "chinese",
    "综合问答": "open",
    "文本写作": "writing",
    "角色扮演": "roleplay",
    "专业能力": "professional",
    REASONING_COL: "reasoning",
    LANGUAGE_COL: "language",
    OVERALL_COL: "overall",
}
DEFAULT_TEMPERATURE = 0.7


@cache
def _config(name: str) -> Any:
    path = config_dir() / name
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def subcategory_map() -> dict[str, str]:
    """Subcategory → answer type (official ``subcategory_question_mapping.json``)."""
    return dict(_config("subcategory_question_mapping.json"))


def dimension_definitions() -> dict[str, str]:
    """Dimension name → definition sentence (official ``dimension_definition.json``)."""
    return dict(_config("dimension_definition.json"))


def answer_type(subcategory: str) -> str:
    """Answer type of a subcategory, e.g. ``'初等数学'`` → ``'逻辑推理型回答'``.

    >>> answer_type("初等数学")
    '逻辑推理型回答'
    """
    mapping = _config("subcategory_question_mapping.json")
    if subcategory not in mapping:
        raise KeyError(f"unknown subcategory {subcategory!r}; allowed: {', '.join(mapping)}")
    return mapping[subcategory]


def dimensions_for(subcategory: str) -> list[str]:
    """Ordered judge dimensions for a subcategory (via its answer type).

    >>> dimensions_for("翻译")
    ['事实正确性', '满足用户需求', '逻辑连贯性', '创造性', '丰富度']
    """
    return list(_config("dimension_set.json")[answer_type(subcategory)])


def temperature_for(category: str) -> float:
    """Official answering temperature of a category; 0.7 for anything unlisted.

    >>> temperature_for("数学计算"), temperature_for("未知")
    (0.1, 0.7)
    """
    return float(_config("temperature.json").get(category, DEFAULT_TEMPERATURE))


def combine_categories(means: np.ndarray) -> np.ndarray:
    """Append 中文推理, 中文语言, 总分 to category means (ordered as ``CATEGORIES``) on the
    last axis (8 → 11): the official formula, vectorised for the bootstrap too.

    Mean of means: a NaN category makes its group NaN.

    >>> combine_categories(np.array([4.0, 5.0, 6, 6, 6, 6, 6, 6]))[-3:].tolist()
    [4.5, 6.0, 5.25]
    """
    reasoning = means[..., [CATEGORIES.index(c) for c in REASONING]].mean(axis=-1)
    language = means[..., [CATEGORIES.index(c) for c in LANGUAGE]].mean(axis=-1)
    overall = (reasoning + language) / 2
    return np.concatenate([means, np.stack([reasoning, language, overall], axis=-1)], axis=-1)
