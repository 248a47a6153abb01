"""Structured judge output for small local judges: a JSON schema or a GBNF grammar.

Small models often forget the official score dict at the end; constraining the output to a
JSON object with the question's dimensions (integers 1-10) and 综合得分, preceded by a short
评价 so the model still explains before it scores, makes every judgment parseable.
``parse_judgment`` reads that object. The schema goes to ``response_format`` (OpenAI, vLLM,
llama.cpp server); the grammar to ``extra_body={"grammar": ...}`` (llama.cpp).
"""

from __future__ import annotations

import json
from typing import Any

from .parsing import COMMENT_KEYS, OVERALL_KEYS
from .taxonomy import dimensions_for

__all__ = [
    "COMMENT_KEY",
    "MODES",
    "OVERALL_KEY",
    "judge_grammar",
    "judge_json_schema",
    "request_params",
    "score_keys",
]

MODES = ("none", "json_schema", "grammar")
OVERALL_KEY = OVERALL_KEYS[0]
COMMENT_KEY = COMMENT_KEYS[0]


def score_keys(subcategory: str) -> list[str]:
    """The keys a judge scores for ``subcategory``: its dimensions, then 综合得分."""
    return [*dimensions_for(subcategory), OVERALL_KEY]


def judge_json_schema(subcategory: str, *, comment: bool = True) -> dict[str, Any]:
    """``response_format`` asking for the dimensions of ``subcategory`` and 综合得分 (1-10).

    >>> fmt = judge_json_schema("翻译")
    >>> fmt["type"], list(fmt["json_schema"]["schema"]["properties"])[:2]
    ('json_schema', ['评价', '事实正确性'])
    >>> fmt["json_schema"]["schema"]["properties"]["综合得分"]
    {'type': 'integer', 'minimum': 1, 'maximum': 10}
    """
    score = {"type": "integer", "minimum": 1, "maximum": 10}
    properties: dict[str, Any] = {COMMENT_KEY: {"type": "string", "maxLength": 400}} \
        if comment else {}
    properties.update({key: dict(score) for key in score_keys(subcategory)})
    return {"type": "json_schema", "json_schema": {
        "name": "alignbench_judgment", "strict": True,
        "schema": {"type": "object", "properties": properties, "required": list(properties),
                   "additionalProperties": False}}}


# Shared GBNF rules: an integer score 1-10, a short comment string, a little whitespace.
_GRAMMAR_RULES = (
    'score ::= "10" | [1-9]',
    'str ::= "\\"" [^"\\\\\\n]{0,400} "\\""',
    "ws ::= [ \\t\\n]{0,2}",
)


def judge_grammar(subcategory: str, *, comment: bool = True) -> str:
    r"""GBNF grammar for the same JSON object, keys in order, integer scores 1-10.

    >>> g = judge_grammar("翻译").splitlines()
    >>> g[0].startswith('root ::= "{" ws "\\"评价\\"" ws ":" ws str'), g[1]
    (True, 'score ::= "10" | [1-9]')
    """
    def member(key: str, value: str) -> str:
        quoted = json.dumps(json.dumps(key, ensure_ascii=False), ensure_ascii=False)
        return f'{quoted} ws ":" ws {value}'

    members = ([member(COMMENT_KEY, "str")] if comment else []) + [
        member(key, "score") for key in score_keys(subcategory)]
    root = 'root ::= "{" ws ' + ' "," ws '.join(members) + ' ws "}"'
    return "\n".join((root, *_GRAMMAR_RULES)) + "\n"


def request_params(mode: str, subcategory: str) -> dict[str, Any]:
    """Extra chat-completion parameters for a structured-output mode.

    >>> request_params("none", "翻译")
    {}
    >>> list(request_params("grammar", "翻译"))
    ['extra_body']
    """
    if mode == "none":
        return {}
    if mode == "json_schema":
        return {"response_format": judge_json_schema(subcategory)}
    if mode == "grammar":
        return {"extra_body": {"grammar": judge_grammar(subcategory)}}
    raise ValueError(f"unknown structured mode {mode!r}; allowed: {', '.join(MODES)}")
