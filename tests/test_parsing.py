"""Judge-output parsing: one table of real judge deviations, the official parser's misses,
and a seeded property test on official-style outputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alignbench_utils.protocols.parsing import Judgment, official_parse, parse_judgment
from alignbench_utils.taxonomy import dimension_definitions

CRITIQUE = (
    "1. 与参考答案相比，AI助手的答案在第3步计算有误，正确结果应为 \\frac{1}{2}，"
    "而不是 2/3。满分10分的话，参考答案可以得8分。\n"
    "2. 代码示例 `d = {'a': 1}` 可以运行。\n"
    "事实正确性：4分；满足用户需求：5分。\n"
)
OFFICIAL = "{'事实正确性': 4, '满足用户需求': 5, '清晰度': 8, '完备性': 6, '综合得分': 5}"
DIMS = {"事实正确性": 4.0, "满足用户需求": 5.0, "清晰度": 8.0, "完备性": 6.0}

# (id, judge text, overall score, dimensions, method)
OK_CASES = [
    ("official", CRITIQUE + OFFICIAL, 5.0, DIMS, "dict"),
    ("official-only", OFFICIAL, 5.0, DIMS, "dict"),
    ("fullwidth-quotes", "评价。\n{‘事实正确性’: 7, ‘综合得分’: 6}",
     6.0, {"事实正确性": 7.0}, "dict"),
    ("fullwidth-all", "评价。\n｛“事实正确性”：7，“清晰度”：９，“综合得分”：6｝",
     6.0, {"事实正确性": 7.0, "清晰度": 9.0}, "dict"),
    ("double-quotes", '评价。\n{"事实正确性": 7, "综合得分": 6}', 6.0, {"事实正确性": 7.0}, "dict"),
    ("floats", "评价。\n{'事实正确性': 7.5, '综合得分': 6.5}", 6.5, {"事实正确性": 7.5}, "dict"),
    ("stray-spaces", "{' 事实正确性 ': 7, ' 综合得分 ' : 6}", 6.0, {"事实正确性": 7.0}, "dict"),
    ("no-space-after-colon", "{'事实正确性':7,'综合得分':6}", 6.0, {"事实正确性": 7.0}, "dict"),
    ("unquoted-keys", "{事实正确性: 7, 综合得分: 6}", 6.0, {"事实正确性": 7.0}, "dict"),
    ("string-values", "{'事实正确性': '7', '综合得分': '6分'}", 6.0, {"事实正确性": 7.0}, "dict"),
    ("value-over-10", "{'事实正确性': '7/10', '综合得分': '6/10'}",
     6.0, {"事实正确性": 7.0}, "dict"),
    ("trailing-comma", "{'事实正确性': 7, '综合得分': 6,}", 6.0, {"事实正确性": 7.0}, "dict"),
    ("multiline", "评价\n{\n  '事实正确性': 7,\n  '综合得分': 6\n}",
     6.0, {"事实正确性": 7.0}, "dict"),
    ("python-fence", CRITIQUE + "```python\n" + OFFICIAL + "\n```", 5.0, DIMS, "dict"),
    ("json-fence-in-text", CRITIQUE + '```json\n{"事实正确性": 7, "综合得分": 6}\n```\n以上。',
     6.0, {"事实正确性": 7.0}, "dict"),
    ("rubric-echo-then-real",
     "格式：{'维度一': 打分, ..., '综合得分': 打分}\n评价如下。\n{'事实正确性': 7, '综合得分': 6}",
     6.0, {"事实正确性": 7.0}, "dict"),
    ("printed-twice",
     "{'事实正确性': 9, '综合得分': 8}\n修正后：\n{'事实正确性': 5, '综合得分': 4}",
     4.0, {"事实正确性": 5.0}, "dict"),
    ("doubled-braces", "{{'事实正确性': 7, '综合得分': 6}}", 6.0, {"事实正确性": 7.0}, "dict"),
    ("text-after", OFFICIAL + "\n\n以上是我的评分，其中 \\frac{1}{2} 的推导 {x} 有误。",
     5.0, DIMS, "dict"),
    ("code-dict-after", OFFICIAL + "\n附：正确代码为 `d = {'a': 1}`。", 5.0, DIMS, "dict"),
    ("latex-before", "由 $\\frac{1}{2}+\\sqrt{3}$ 可知\n" + OFFICIAL, 5.0, DIMS, "dict"),
    ("average-key", "{'事实正确性': 7, '平均得分': 6.5}", 6.5, {"事实正确性": 7.0}, "dict"),
    ("bigger-key-not-overall", "{'综合得分率': 3, '事实正确性': 7, '综合得分': 6}",
     6.0, {"综合得分率": 3.0, "事实正确性": 7.0}, "dict"),
    ("dims-out-of-range-dropped", "{'事实正确性': 0, '清晰度': 12, '完备性': 7, '综合得分': 6}",
     6.0, {"完备性": 7.0}, "dict"),
    ("json-whole", '{"事实正确性": 7, "满足用户需求": 6, "综合得分": 6}',
     6.0, {"事实正确性": 7.0, "满足用户需求": 6.0}, "json"),
    ("json-with-explanation", '{"评价": "回答说“你好”，{x} 也对", "事实正确性": 7, "综合得分": 6}',
     6.0, {"事实正确性": 7.0}, "json"),
    ("json-english-field", '{"explanation": "ok", "事实正确性": 8, "综合得分": 7}',
     7.0, {"事实正确性": 8.0}, "json"),
    ("json-numeric-comment", '{"评价": "10", "事实正确性": 7, "综合得分": 6}', 6.0,
     {"事实正确性": 7.0}, "json"),
    ("json-nested-scores", '{"评价": "较好", "scores": {"事实正确性": 7, "综合得分": 6}}',
     6.0, {"事实正确性": 7.0}, "json"),
    ("json-fenced-whole", '```json\n{"scores": {"清晰度": 9}, "综合得分": 8}\n```',
     8.0, {"清晰度": 9.0}, "json"),
    ("line-fullwidth-colon", "评价很长。\n综合得分：7", 7.0, {}, "line"),
    ("line-over-10", "评价很长。\n综合得分: 7/10", 7.0, {}, "line"),
    ("line-wei-fen", "综上所述，综合得分为7分。", 7.0, {}, "line"),
    ("line-bold", "**综合得分**：**6.5**", 6.5, {}, "line"),
    ("line-last-wins", "初评：综合得分：3\n复核后，综合得分：6", 6.0, {}, "line"),
    ("line-with-prefix", "回答基本正确。因此综合得分为6分", 6.0, {}, "line"),
    ("line-ascii-period", "Overall fine. 综合得分: 7.", 7.0, {}, "line"),
    ("line-truncated-dict", "{'事实正确性': 8, '综合得分': 7", 7.0, {}, "line"),
    ("line-after-dict-without-overall", "{'事实正确性': 8}\n综合得分：6", 6.0, {}, "line"),
    ("mtbench-rating", "The answer is fine.\nRating: [[7]]", 7.0, {}, "rating_brackets"),
    ("mtbench-chinese", "回答尚可。评分：[[7]]", 7.0, {}, "rating_brackets"),
    ("mtbench-bare", "[[8.5]]", 8.5, {}, "rating_brackets"),
    ("rating-single-bracket", "The answer is mostly right.\nRating: [7]", 7.0, {},
     "rating_brackets"),
    ("rating-single-bracket-chinese", "回答尚可。评分：[6.5]", 6.5, {}, "rating_brackets"),
]

# (id, judge text, substring of the error)
FAIL_CASES = [
    ("none", None, "empty"),
    ("empty", "", "empty"),
    ("blank", "  \n ", "empty"),
    ("no-score", "回答基本正确，但不够详细。", "no score found"),
    ("critique-numbers-only", "回答有3处错误，满分10分，我给8分。第2点尚可。", "no score found"),
    ("ten-point-scale-mention", "总分是10分制，这个回答一般。", "no score found"),
    ("bigger-key-line", "非综合得分：5", "no score found"),
    ("reference-score-line", "参考答案综合得分为8分，助手回答较差。", "no score found"),
    ("overall-0", "{'事实正确性': 7, '综合得分': 0}", "outside 1-10"),
    ("overall-11", "{'事实正确性': 7, '综合得分': 11}", "outside 1-10"),
    ("overall-minus-1", "{'综合得分': -1}", "outside 1-10"),
    ("overall-nan-json", '{"综合得分": NaN}', "outside 1-10"),
    ("overall-text", "{'事实正确性': 7, '综合得分': '很好'}", "not a number"),
    ("overall-bool", "{'综合得分': True}", "not a number"),
    ("no-overall-key", "{'事实正确性': 7, '清晰度': 8}", "no overall key"),
    ("only-bigger-key", "{'综合得分率': 7}", "no overall key"),
    ("json-no-overall", '{"评价": "好", "事实正确性": 7}', "no overall key"),
    ("placeholder-rubric", "{'维度一': 打分, '维度二': 打分, ..., '综合得分': 打分}",
     "placeholder"),
    ("placeholder-example",
     "{'事实正确性': 9, '满足用户需求': 6, ..., '综合得分': 7}", "placeholder"),
    ("placeholder-fullwidth-ellipsis", "{'事实正确性': 9, …, '综合得分': 7}", "placeholder"),
    ("placeholder-echoed-prompt",
     ("按照以下字典格式：\n{'维度一': 打分, '维度二': 打分, ..., '综合得分': 打分}，"
      "例如：{'事实正确性': 9, '满足用户需求': 6, ..., '综合得分': 7}。"), "placeholder"),
    ("line-out-of-range", "综合得分：11", "outside 1-10"),
    ("line-other-scale", "综合得分：70/100", "10-point scale"),
    ("brackets-out-of-range", "Rating: [[0]]", "outside 1-10"),
    ("citation-bracket", "据文献[7]所述，回答基本正确。", "no score found"),
    ("rating-single-bracket-out-of-range", "Rating: [70]", "outside 1-10"),
]

# Where the official post_process goes wrong: (id, text, true overall, true dimensions)
OFFICIAL_WRONG = [
    ("fullwidth-colon", "评价。\n{'事实正确性'：7，'综合得分'：6}", 6.0, {"事实正确性": 7.0}),
    ("float-score", "评价。\n{'事实正确性': 7, '综合得分': 6.5}", 6.5, {"事实正确性": 7.0}),
    ("double-quotes", '评价。\n{"事实正确性": 7, "综合得分": 6}', 6.0, {"事实正确性": 7.0}),
    ("no-space", "{'事实正确性':7,'综合得分':6}", 6.0, {"事实正确性": 7.0}),
    ("stray-spaces", "{' 事实正确性 ': 7, ' 综合得分 ': 6}", 6.0, {"事实正确性": 7.0}),
    ("fence-after-copied-example",
     ("格式如 {'事实正确性': 9, '满足用户需求': 6, ..., '综合得分': 7}。\n"
      "```python\n{\n'事实正确性': 4,\n'综合得分': 3\n}\n```"), 3.0, {"事实正确性": 4.0}),
    ("text-after-with-braces", "{'事实正确性': 8, '综合得分': 6}\n请注意：评分依据为 {参考答案}。",
     6.0, {"事实正确性": 8.0}),
    ("average-key", "{'事实正确性': 7, '平均得分': 6}", 6.0, {"事实正确性": 7.0}),
    ("line-only", "分析如上。综合得分为7分", 7.0, {}),
    ("json-structured", '{"评价": "较好", "scores": {"事实正确性": 7, "综合得分": 6}}',
     6.0, {"事实正确性": 7.0}),
]

# Official post_process accepts these as numbers; they must be failures.
OFFICIAL_ACCEPTS_BAD = [
    ("copied-example", "{'事实正确性': 9, '满足用户需求': 6, ..., '综合得分': 7}", 7.0),
    ("out-of-range-11", "{'事实正确性': 9, '综合得分': 11}", 11.0),
    ("out-of-range-0", "{'事实正确性': 9, '综合得分': 0}", 0.0),
]


def _ids(cases: list[tuple]) -> list[str]:
    return [case[0] for case in cases]


@pytest.mark.parametrize(("case_id", "text", "score", "dims", "method"), OK_CASES,
                         ids=_ids(OK_CASES))
def test_parses(case_id: str, text: str, score: float, dims: dict, method: str) -> None:
    judgment = parse_judgment(text)
    assert judgment.ok, judgment.error
    assert (judgment.score, judgment.dimensions, judgment.method) == (score, dims, method)
    assert judgment.error is None and judgment.raw == text


@pytest.mark.parametrize(("case_id", "text", "error"), FAIL_CASES, ids=_ids(FAIL_CASES))
def test_fails_with_reason(case_id: str, text: str | None, error: str) -> None:
    judgment = parse_judgment(text)
    assert not judgment.ok
    assert judgment.score is None and judgment.dimensions == {}
    assert error in judgment.error
    assert judgment.raw == (text or "")


@pytest.mark.parametrize(("case_id", "text", "score", "dims"), OFFICIAL_WRONG,
                         ids=_ids(OFFICIAL_WRONG))
def test_official_parse_wrong_ours_right(case_id: str, text: str, score: float,
                                         dims: dict) -> None:
    judgment = parse_judgment(text)
    assert (judgment.ok, judgment.score, judgment.dimensions) == (True, score, dims)
    truth = {**{k: int(v) for k, v in dims.items()}, "综合得分": score} if dims else {}
    assert official_parse(text) != (truth, score)


@pytest.mark.parametrize(("case_id", "text", "official_score"), OFFICIAL_ACCEPTS_BAD,
                         ids=_ids(OFFICIAL_ACCEPTS_BAD))
def test_official_parse_accepts_bad(case_id: str, text: str, official_score: float) -> None:
    assert official_parse(text)[1] == official_score
    assert not parse_judgment(text).ok


@pytest.mark.parametrize(("text", "expected"), [
    (OFFICIAL, ({**{k: int(v) for k, v in DIMS.items()}, "综合得分": 5}, 5.0)),
    ("{'事实正确性': 7, '综合得分': 6.5}", ({"事实正确性": 7, "综合得分": 6}, 6.0)),
    ("多行\n{\n'综合得分': 6.5\n}", ({}, 6.5)),
    ("没有分数", ({}, -1.0)),
    (None, ({}, -1.0)),
], ids=["official-style", "float-truncated", "multiline-fallback", "nothing", "none"])
def test_official_parse_reproduces_judge_py(text: str | None, expected: tuple) -> None:
    assert official_parse(text) == expected


def test_judgment_is_frozen_and_serialises() -> None:
    judgment = parse_judgment(OFFICIAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        judgment.score = 1.0  # type: ignore[misc]
    assert judgment.to_dict() == {"status": "ok", "score": 5.0, "dimensions": DIMS,
                                  "error": None, "parse_method": "dict"}
    failed = parse_judgment("no score").to_dict()
    assert failed["status"] == "parse_failed" and failed["score"] is None and failed["error"]
    assert isinstance(judgment, Judgment)


_FRAGMENTS = (
    "AI助手的答案与参考答案相比存在不足。", "第{n}步的计算结果应为{n}，", "满分{n}分，",
    "公式 $\\frac{{{n}}}{{2}}$ 推导有误。", "代码 `x = {{'k': {n}}}` 可以运行。",
    "总分为{n}分的考试，",
    "清晰度：{n}分；", "综合得分：{n}\n", "[[{n}]] ", "评分{n}/10，", "‘引号’与“双引号”，", "\n\n",
)


def _critique(rng: np.random.Generator) -> str:
    picks = rng.integers(0, len(_FRAGMENTS), size=int(rng.integers(20, 80)))
    return "".join(_FRAGMENTS[i].format(n=int(rng.integers(0, 101))) for i in picks)


def test_random_official_style_outputs_roundtrip() -> None:
    rng = np.random.default_rng(20231130)
    names = sorted(dimension_definitions())
    for _ in range(200):
        chosen = rng.choice(names, size=int(rng.integers(3, 7)), replace=False)
        rating = {str(name): int(rng.integers(1, 11)) for name in chosen}
        rating["综合得分"] = int(rng.integers(1, 11))
        text = _critique(rng) + "\n" + str(rating)
        judgment = parse_judgment(text)
        assert judgment.ok and judgment.method == "dict", text
        assert judgment.score == rating["综合得分"]
        assert judgment.dimensions == {k: float(v) for k, v in rating.items() if k != "综合得分"}
        assert official_parse(text) == (rating, float(rating["综合得分"]))
