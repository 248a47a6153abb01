"""Judge output → scores, robust to how real judges deviate from the official format.

Why: the official AlignBench post-processing (``judge.py``) only reads a one-line Python
dict with ASCII quotes, ``': '`` separators and integer values; anything else becomes -1,
which ``show_result.py`` then averages into the leaderboard. Here a failure is a value
(``ok=False`` with a reason and the raw text), never a number.

Rules, in order; the first that finds something decides (``Judgment.method``):

1. ``json``: the whole text (optionally in a code fence) is a JSON object, as structured
   output gives; nested objects such as ``{"scores": {...}}`` are flattened.
2. ``dict``: the last brace-balanced ``{...}`` holding an overall key (``OVERALL_KEYS``),
   read with ``ast.literal_eval`` / ``json`` (raw, then with full-width punctuation
   normalised), else, for a brace-free body, with a tolerant ``key: value`` reader.
3. ``line``: the last ``综合得分：7`` / ``综合得分: 7/10`` / ``综合得分为7分``.
4. ``rating_brackets``: the last MT-Bench style ``[[7]]`` (overall only).

Validation: the overall score must be a number in 1-10 (``SCORE_RANGE``). A dict still
holding the prompt's placeholders (``打分``, a bare ``...``) is a copied rubric, so a
failure even when it carries numbers. Dimension values outside 1-10 (or not numbers) are
dropped from ``dimensions``; they do not invalidate a valid overall score. The line and
bracket rules give the overall score only (``dimensions == {}``): numbers in the critique
are never read as scores.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMMENT_KEYS",
    "LINE_PREFIXES",
    "OVERALL_KEYS",
    "PLACEHOLDERS",
    "SCORE_RANGE",
    "Judgment",
    "brace_spans",
    "normalise",
    "official_parse",
    "parse_judgment",
]

# Overall-score keys, in order of preference; '平均得分' is the older prompt's wording.
OVERALL_KEYS: tuple[str, ...] = ("综合得分", "平均得分", "总分", "综合评分", "overall_score")
SCORE_RANGE: tuple[float, float] = (1.0, 10.0)
# Free-text fields a judge (or a structured-output schema) puts beside the scores: never scores,
# even when a small judge writes a number into them.
COMMENT_KEYS: tuple[str, ...] = ("评价", "解释", "理由", "explanation", "comment", "critique",
                                 "reason", "reasoning")
# Values or bare items that mean the judge copied the prompt's format example.
PLACEHOLDERS: tuple[str, ...] = ("打分", "分数", "...", "…", "……")

_FULLWIDTH = str.maketrans(
    {"‘": "'", "’": "'", "＇": "'", "“": '"', "”": '"', "＂": '"', "：": ":", "，": ",",
     "｛": "{", "｝": "}", "［": "[", "］": "]", "．": ".", "－": "-", "\u3000": " "}
    | {chr(0xFF10 + i): str(i) for i in range(10)}
)
_FENCE_RE = re.compile(r"^```[\w-]*[ \t]*\n(?P<body>.*?)\n?```$", re.DOTALL)
_ITEM_SPLIT_RE = re.compile(r"[,;\n]")
_ITEM_RE = re.compile(r"""^["']?\s*(?P<key>[^"':]+?)\s*["']?\s*:\s*(?P<value>.+?)$""")
_NUMBER_RE = re.compile(
    r"""^["']?\s*(?P<num>[-+]?\d+(?:\.\d+)?)\s*(?:/\s*(?P<den>\d+))?\s*分?\s*["']?$"""
)
# Words that may run into a score line's key ('因此综合得分为7分'); any other word before
# the key makes it a different key ('参考答案综合得分', '非综合得分').
LINE_PREFIXES: tuple[str, ...] = ("最终", "最后", "因此", "所以", "故", "则", "总体")
_KEYS_ALT = "|".join(map(re.escape, OVERALL_KEYS))
# Key at a word boundary, maybe quoted (a dict cut off before its closing brace), then ':',
# '=', '为' or '是', then a number not followed by '分制'/'中' ('总分是10分制' is no score).
_LINE_RE = re.compile(
    rf"(?<!\w)(?:{'|'.join(LINE_PREFIXES)})?(?:{_KEYS_ALT})"
    r"""["']?\**\s*(?:(?::|=|为|是)\s*)+\**\s*"""
    r"(?P<num>[-+]?\d+(?:\.\d+)?)(?!\.?\d)(?:\s*/\s*(?P<den>\d+))?(?!\s*分?\s*(?:制|中))",
    re.IGNORECASE,
)
_BRACKETS_RE = re.compile(r"\[\[\s*(?P<num>[-+]?\d+(?:\.\d+)?)\s*\]\]")
# One bracket pair only right after "Rating:"/"评分：" (a real judge's "Rating: [7]"); a bare
# "[7]" elsewhere is a citation or a list index, not a score.
_RATING_BRACKET_RE = re.compile(
    r"(?<!\w)(?:rating|评分)\s*[:：]?\s*\[\s*(?P<num>[-+]?\d+(?:\.\d+)?)\s*\](?!\])",
    re.IGNORECASE)

# Official AlignBench judge.py post_process (THUDM/AlignBench @ e505054, judge.py).
_OFFICIAL_LAST_BRACES_RE = re.compile(r"{(.*?)}(?![^{]*{)")
_OFFICIAL_PAIR_RE = re.compile(r"'(.*?)': (\d+)")
_OFFICIAL_SCORE_RE = re.compile(r"\'综合得分\': (\d+(\.\d{1,2})?)")

_Rating = tuple[dict[str, Any], bool]  # (key → raw value, holds a placeholder)


@dataclass(frozen=True)
class Judgment:
    """A parsed judge output; ``ok=False`` carries the reason in ``error``, never a score."""

    ok: bool
    score: float | None
    dimensions: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    raw: str = ""
    method: str = "none"

    def to_dict(self) -> dict[str, Any]:
        """The fields a judgment record stores (the raw text lives in ``judgment``).

        >>> d = parse_judgment("{'清晰度': 8, '综合得分': 7}").to_dict()
        >>> d["status"], d["score"], d["dimensions"], d["error"], d["parse_method"]
        ('ok', 7.0, {'清晰度': 8.0}, None, 'dict')
        """
        return {
            "status": "ok" if self.ok else "parse_failed",
            "score": self.score,
            "dimensions": dict(self.dimensions),
            "error": self.error,
            "parse_method": self.method,
        }


def normalise(text: str) -> str:
    """Map full-width punctuation and digits to ASCII, one character for one.

    Positions are kept, so spans found here index the raw text too.

    >>> normalise("｛‘综合得分’：７，“清晰度”：8｝")
    '{\\'综合得分\\':7,"清晰度":8}'
    """
    return text.translate(_FULLWIDTH)


def brace_spans(text: str) -> list[tuple[int, int]]:
    """Balanced ``{...}`` spans as ``(start, end)``, the last-closing first, outer before inner.

    >>> s = "a {x} b {{'k': 1}}"
    >>> [s[i:j] for i, j in brace_spans(s)]
    ["{{'k': 1}}", "{'k': 1}", '{x}']
    """
    stack: list[int] = []
    spans: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            spans.append((stack.pop(), i + 1))
    return sorted(spans, key=lambda s: (-s[1], s[0]))


def _literal(src: str) -> Any:
    """A Python or JSON literal, or None when ``src`` is neither."""
    try:
        return ast.literal_eval(src)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(src)
    except (ValueError, RecursionError):
        return None


def _is_placeholder(value: Any) -> bool:
    return value is Ellipsis or (isinstance(value, str) and value.strip() in PLACEHOLDERS)


def _flatten(obj: dict[Any, Any]) -> _Rating:
    """Nested objects (``{"scores": {...}}``) merged into one level; keys stripped; comment
    fields (``COMMENT_KEYS``) dropped.

    >>> _flatten({"评价": "10", "scores": {" 综合得分 ": 7}})
    ({'综合得分': 7}, False)
    """
    pairs: dict[str, Any] = {}
    for key, value in obj.items():
        name = str(key).strip()
        if isinstance(value, dict):
            pairs.update(_flatten(value)[0])
        elif name.lower() not in COMMENT_KEYS:
            pairs[name] = value
    return pairs, any(_is_placeholder(v) for v in pairs.values())


def _tolerant(body: str) -> _Rating:
    """``key: value`` items of a brace-free dict body that no literal parser accepts.

    >>> _tolerant("'维度一': 打分, ..., 综合得分: 7分")
    ({'维度一': '打分', '综合得分': '7分'}, True)
    """
    pairs: dict[str, Any] = {}
    placeholder = False
    for item in (part.strip() for part in _ITEM_SPLIT_RE.split(body)):
        if item in PLACEHOLDERS:
            placeholder = True
        elif match := _ITEM_RE.match(item):
            value = match["value"].strip().strip("'\"").strip()
            pairs[match["key"]] = value
            placeholder |= _is_placeholder(value)
    return pairs, placeholder


def _read_candidate(raw: str, norm: str) -> _Rating | None:
    """Read one ``{...}`` span: literally (raw, then normalised), else tolerantly."""
    for src in (raw, norm):
        obj = _literal(src)
        if isinstance(obj, dict):
            return _flatten(obj)
    body = norm[1:-1]
    if "{" in body or "}" in body:
        return None
    return _tolerant(body)


def _to_score(value: Any) -> float | None:
    """A number, or a string like '7', '7.5', '7/10', '7分'; None otherwise.

    >>> [_to_score(v) for v in (7, 7.5, "8/10", "6分", "7/100", True, "好")]
    [7.0, 7.5, 8.0, 6.0, None, None, None]
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if abs(value) < 1e300 else float("inf")  # huge ints overflow
    match = _NUMBER_RE.match(value.strip()) if isinstance(value, str) else None
    return float(match["num"]) if match and match["den"] in (None, "10") else None


def _in_range(score: float) -> bool:
    return SCORE_RANGE[0] <= score <= SCORE_RANGE[1]


def _overall_key(pairs: dict[str, Any]) -> str | None:
    lookup = {key.lower(): key for key in pairs}
    return next((lookup[k] for k in OVERALL_KEYS if k in lookup), None)


def _is_rating(rating: _Rating) -> bool:
    pairs, placeholder = rating
    return (placeholder or _overall_key(pairs) is not None
            or any(_to_score(v) is not None for v in pairs.values()))


def _fail(raw: str, reason: str, method: str = "none") -> Judgment:
    return Judgment(ok=False, score=None, dimensions={}, error=reason, raw=raw, method=method)


def _from_rating(rating: _Rating, raw: str, method: str) -> Judgment:
    """Validate a rating dict: placeholders, overall key, overall range; keep good dims."""
    pairs, placeholder = rating
    if placeholder:
        return _fail(raw, "rating dict holds the prompt's placeholders (打分 / ...): "
                          "a copied rubric, not a rating", method)
    key = _overall_key(pairs)
    if key is None:
        return _fail(raw, f"rating dict has no overall key ({' / '.join(OVERALL_KEYS)})", method)
    score = _to_score(pairs[key])
    if score is None:
        return _fail(raw, f"overall score {pairs[key]!r} is not a number", method)
    if not _in_range(score):
        return _fail(raw, f"overall score {score:g} is outside 1-10", method)
    overall = {k.lower() for k in OVERALL_KEYS}
    dims = {
        k: s for k, v in pairs.items()
        if k.lower() not in overall and (s := _to_score(v)) is not None and _in_range(s)
    }
    return Judgment(ok=True, score=score, dimensions=dims, error=None, raw=raw, method=method)


def _from_match(match: re.Match[str], raw: str, method: str) -> Judgment:
    """Validate a number found by the line or bracket rule (overall only)."""
    score, den = float(match["num"]), match.groupdict().get("den")
    if den not in (None, "10"):
        return _fail(raw, f"score {match[0].strip()!r} is not on a 10-point scale", method)
    if not _in_range(score):
        return _fail(raw, f"overall score {score:g} is outside 1-10", method)
    return Judgment(ok=True, score=score, dimensions={}, error=None, raw=raw, method=method)


def _json_document(raw: str, norm: str) -> _Rating | None:
    """The whole text as one JSON object (structured output), code fence allowed."""
    for src in (raw, norm):
        body = src.strip()
        if fence := _FENCE_RE.match(body):
            body = fence["body"].strip()
        if not body.startswith("{"):
            continue
        try:
            obj = json.loads(body)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            return _flatten(obj)
    return None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    match = None
    for match in pattern.finditer(text):
        pass
    return match


def parse_judgment(text: str | None) -> Judgment:
    """Parse a judge's output into the overall 1-10 score and dimension scores.

    >>> j = parse_judgment("评价……\\n{'事实正确性': 9, '满足用户需求': 6, '综合得分': 7}")
    >>> j.ok, j.score, j.dimensions, j.method
    (True, 7.0, {'事实正确性': 9.0, '满足用户需求': 6.0}, 'dict')
    >>> parse_judgment("｛‘事实正确性’：8，‘综合得分’：7.5｝").score
    7.5
    >>> parse_judgment('{"评价": "较好", "scores": {"清晰度": 8, "综合得分": 6}}').dimensions
    {'清晰度': 8.0}
    >>> parse_judgment("分析如上。综合得分为7分").method
    'line'
    >>> parse_judgment("Rating: [[7]]").score, parse_judgment("Rating: [7]").score
    (7.0, 7.0)
    >>> parse_judgment("{'维度一': 打分, '维度二': 打分, ..., '综合得分': 打分}").error
    "rating dict holds the prompt's placeholders (打分 / ...): a copied rubric, not a rating"
    >>> parse_judgment("{'综合得分': 11}").error
    'overall score 11 is outside 1-10'
    >>> parse_judgment(None).error
    'empty judgment'
    """
    raw = text or ""
    if not raw.strip():
        return _fail(raw, "empty judgment")
    norm = normalise(raw)
    if (doc := _json_document(raw, norm)) is not None:
        return _from_rating(doc, raw, "json")
    without_overall: _Rating | None = None
    for start, end in brace_spans(norm):
        rating = _read_candidate(raw[start:end], norm[start:end])
        if rating is None or not _is_rating(rating):
            continue
        if rating[1] or _overall_key(rating[0]) is not None:
            return _from_rating(rating, raw, "dict")
        without_overall = without_overall or rating
    for method, pattern in (("line", _LINE_RE), ("rating_brackets", _BRACKETS_RE),
                            ("rating_brackets", _RATING_BRACKET_RE)):
        if (match := _last(pattern, norm)) is not None:
            return _from_match(match, raw, method)
    if without_overall is not None:
        return _from_rating(without_overall, raw, "dict")
    return _fail(raw, "no score found: no rating dict, '综合得分: N' line or [[N]] rating")


def official_parse(text: str | None) -> tuple[dict[str, int], float]:
    """The official AlignBench ``judge.py`` ``post_process``, reproduced for comparison.

    Source: THUDM/AlignBench @ e505054, ``judge.py``, ``post_process``: the last one-line
    ``{...}`` (regex ``{(.*?)}(?![^{]*{)``), its ``'key': int`` pairs, then ``'综合得分'``,
    else the first ``'综合得分': N(.NN)`` anywhere, else -1. Only changes: no prints, the
    score returned as float, ``None`` read as ``""``.

    >>> official_parse("{'清晰度': 8, '综合得分': 7.5}")
    ({'清晰度': 8, '综合得分': 7}, 7.0)
    >>> official_parse('{"综合得分": 7}')
    ({}, -1.0)
    """
    text = text or ""
    match = _OFFICIAL_LAST_BRACES_RE.search(text)
    rating = ({k: int(v) for k, v in _OFFICIAL_PAIR_RE.findall(match.group(1))}
              if match else {})
    score: float = rating.get("综合得分", -1)
    if score == -1:
        found = _OFFICIAL_SCORE_RE.search(text)
        score = float(found.group(1)) if found else -1
    return rating, float(score)
