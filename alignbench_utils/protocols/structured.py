"""Structured judge output for small local judges: a JSON schema or a GBNF grammar.

Small models often forget the official score dict at the end. Constraining the output makes
every judgment parseable, but it must keep the protocol's chain of thought: the official
judge writes a per-dimension critique first and the score dict last.

- ``grammar`` (llama.cpp): free critique text (no braces, ``CRITIQUE_CHARS`` long), a
  newline, then the score dict in the official form ``{'维度': 7, ..., '综合得分': 7}``, so
  the output reads like an official judgment and even the official parser reads it.
  The critique is bounded by the request's ``max_tokens`` so the dict always fits.
- ``json_schema`` (OpenAI, vLLM, llama.cpp): an object whose first field 评价 holds the
  critique (up to ``CRITIQUE_CHARS[1]`` characters, room for the per-dimension critique), then
  the dimensions and 综合得分 as integers 1-10.

``parse_judgment`` reads both. The schema goes to ``response_format``; the grammar to
``extra_body={"grammar": ...}``.
"""

from __future__ import annotations

from typing import Any

from alignbench_utils.protocols.parsing import COMMENT_KEYS, OVERALL_KEYS
from alignbench_utils.taxonomy import dimensions_for

__all__ = [
    "COMMENT_KEY",
    "CRITIQUE_CHARS",
    "MODES",
    "OVERALL_KEY",
    "SCORES_RESERVE",
    "critique_limit",
    "judge_grammar",
    "judge_json_schema",
    "request_params",
    "score_keys",
]

MODES = ("none", "json_schema", "grammar")
CRITIQUE_CHARS = (20, 3000)  # bounds of the critique written before the scores
SCORES_RESERVE = 160  # tokens kept for the score dict after the critique
OVERALL_KEY = OVERALL_KEYS[0]
COMMENT_KEY = COMMENT_KEYS[0]


def score_keys(subcategory: str) -> list[str]:
    """The keys a judge scores for ``subcategory``: its dimensions, then 综合得分."""
    return [*dimensions_for(subcategory), OVERALL_KEY]


def critique_limit(max_tokens: int | None) -> int:
    """Most characters of critique that still leave room for the score dict within
    ``max_tokens``: a critique cut off by the token limit loses the scores (a character is at
    most about one token, for CJK and ASCII alike).

    >>> critique_limit(1024), critique_limit(None), critique_limit(100)
    (864, 3000, 20)
    """
    low, high = CRITIQUE_CHARS
    if max_tokens is None:
        return high
    return max(low, min(high, max_tokens - SCORES_RESERVE))


def judge_json_schema(subcategory: str, *, comment: bool = True,
                      max_tokens: int | None = None) -> dict[str, Any]:
    """``response_format`` asking for the dimensions of ``subcategory`` and 综合得分 (1-10).

    >>> fmt = judge_json_schema("翻译")
    >>> fmt["type"], list(fmt["json_schema"]["schema"]["properties"])[:2]
    ('json_schema', ['评价', '事实正确性'])
    >>> fmt["json_schema"]["schema"]["properties"]["综合得分"]
    {'type': 'integer', 'minimum': 1, 'maximum': 10}
    """
    score = {"type": "integer", "minimum": 1, "maximum": 10}
    critique = {"type": "string", "minLength": CRITIQUE_CHARS[0],
                "maxLength": critique_limit(max_tokens)}
    properties: dict[str, Any] = {COMMENT_KEY: critique} if comment else {}
    properties.update({key: dict(score) for key in score_keys(subcategory)})
    return {"type": "json_schema", "json_schema": {
        "name": "alignbench_judgment", "strict": True,
        "schema": {"type": "object", "properties": properties, "required": list(properties),
                   "additionalProperties": False}}}


def judge_grammar(subcategory: str, *, comment: bool = True,
                  max_tokens: int | None = None) -> str:
    r"""GBNF grammar: a free critique, a newline, then the official score dict with this
    question's dimensions in order and integer scores 1-10.

    >>> g = judge_grammar("翻译").splitlines()
    >>> g[0], g[1]
    ('root ::= critique "\\n" scores', 'critique ::= [^{}]{20,3000}')
    >>> g[2].startswith('scores ::= "{" "\'事实正确性\': " score ", " "\'满足用户需求\': "')
    True
    >>> g[2][-20:]
    '"\'综合得分\': " score "}"'
    """
    low, high = CRITIQUE_CHARS[0], critique_limit(max_tokens)
    items = [f'"\'{key}\': " score' for key in score_keys(subcategory)]
    scores = 'scores ::= "{" ' + ' ", " '.join(items) + ' "}"'
    rules = [f'critique ::= [^{{}}]{{{low},{high}}}' if comment else 'critique ::= ""', scores,
             'score ::= "10" | [1-9]']
    return "\n".join(('root ::= critique "\\n" scores', *rules)) + "\n"


def request_params(mode: str, subcategory: str, max_tokens: int | None = None
                   ) -> dict[str, Any]:
    """Extra chat-completion parameters for a structured-output mode; ``max_tokens`` bounds
    the critique so the score dict always fits (:func:`critique_limit`).

    >>> request_params("none", "翻译")
    {}
    >>> list(request_params("grammar", "翻译"))
    ['extra_body']
    """
    if mode == "none":
        return {}
    if mode == "json_schema":
        return {"response_format": judge_json_schema(subcategory, max_tokens=max_tokens)}
    if mode == "grammar":
        return {"extra_body": {"grammar": judge_grammar(subcategory, max_tokens=max_tokens)}}
    raise ValueError(f"unknown structured mode {mode!r}; allowed: {', '.join(MODES)}")
