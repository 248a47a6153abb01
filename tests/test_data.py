"""Question loading: shipped files, subsets, and one clear located error per bad input."""

import json

import pytest

from alignbench_utils import InputError, load_questions
from alignbench_utils.data.questions import (
    read_official_answers,
    read_official_judgments,
    write_official_answers,
    write_official_judgments,
)
from alignbench_utils.taxonomy import CATEGORIES

GOOD = {"question_id": 1, "category": "数学计算", "subcategory": "初等数学",
        "question": "1+1等于几？", "reference": "2"}


def write_lines(tmp_path, lines, name="q.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    return path


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize("source,n", [("v1.0", 683), ("v1.1", 683)])
def test_shipped_releases_load(source, n):
    ds = load_questions(source)
    assert len(ds) == n
    assert set(ds["category"]) == set(CATEGORIES)
    assert len(set(ds["question_id"])) == n


def test_stratified_subset_is_seeded_and_balanced():
    a = load_questions("v1.1", per_category=2, seed=7)
    b = load_questions("v1.1", per_category=2, seed=7)
    c = load_questions("v1.1", per_category=2, seed=8)
    assert a["question_id"] == b["question_id"] != c["question_id"]
    assert sorted(a["category"]) == sorted(list(CATEGORIES) * 2)


def test_category_filter():
    ds = load_questions("v1.1", categories=["数学计算"])
    assert set(ds["category"]) == {"数学计算"} and len(ds) == 112
    with pytest.raises(InputError, match="unknown categories"):
        load_questions("v1.1", categories=["数学"])


def test_any_jsonl_path_loads(tmp_path):
    path = write_lines(tmp_path, [dumps(GOOD), "", dumps(GOOD | {"question_id": 2})])
    assert load_questions(path)["question_id"] == [1, 2]


BAD_CASES = {
    "malformed_json": ([dumps(GOOD), '{"question_id": 2,'], 2, None, "malformed JSON"),
    "not_an_object": ([dumps(GOOD), "[1, 2]"], 2, None, "expected a JSON object"),
    "missing_field": ([dumps({k: v for k, v in GOOD.items() if k != "reference"})], 1,
                      "reference", "missing required field"),
    "mistyped_id": ([dumps(GOOD | {"question_id": "1"})], 1, "question_id", "expected int"),
    "bool_id": ([dumps(GOOD | {"question_id": True})], 1, "question_id", "expected int"),
    "mistyped_question": ([dumps(GOOD | {"question": ["a"]})], 1, "question", "expected str"),
    "duplicate_id": ([dumps(GOOD), dumps(GOOD)], 2, "question_id", "first seen on line 1"),
    "unknown_category": ([dumps(GOOD | {"category": "数学"})], 1, "category", "allowed: 数学计算"),
    "unknown_subcategory": ([dumps(GOOD | {"subcategory": "算术"})], 1, "subcategory",
                            "allowed: 常识知识"),
    "empty_question": ([dumps(GOOD), dumps(GOOD | {"question_id": 2, "question": "  "})], 2,
                       "question", "empty"),
    "non_utf8": ([dumps(GOOD), "你好".encode("gbk")], 2, None, "UTF-8"),
}


@pytest.mark.parametrize("case", BAD_CASES, ids=list(BAD_CASES))
def test_bad_input_names_file_line_field(tmp_path, case):
    lines, line, field, reason = BAD_CASES[case]
    path = write_lines(tmp_path, lines)
    with pytest.raises(InputError) as info:
        load_questions(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert reason in str(err) and str(path) in str(err) and f"line {line}" in str(err)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match="empty") as info:
        load_questions(path)
    assert info.value.path == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_questions(tmp_path / "nope.jsonl")


def test_official_answer_and_judgment_files_round_trip(tmp_path):
    answers = [{"question_id": 1, "category": "数学计算", "subcategory": "初等数学",
                "model_id": "m1", "question": "1+1?", "answer": "2", "answer_id": "a1"}]
    src = write_lines(tmp_path, [dumps(a) for a in answers], "m1.jsonl")
    records = read_official_answers(src)
    assert records[0]["model"] == "m1" and records[0]["status"] == "ok"
    out = write_official_answers(records, tmp_path / "out" / "m1.jsonl")
    assert json.loads(out.read_text()) == answers[0]

    judged = [{**answers[0], "reference": "2", "judgment": "好。{'综合得分': 8}",
               "rating": {"事实正确性": 9, "综合得分": 8}, "score": 8},
              {**answers[0], "question_id": 2, "reference": "2", "judgment": "乱码",
               "rating": {}, "score": -1}]
    (tmp_path / "gpt-4").mkdir()
    src = write_lines(tmp_path / "gpt-4", [dumps(j) for j in judged], "m1.jsonl")
    recs = read_official_judgments(src)
    assert [r["status"] for r in recs] == ["ok", "parse_failed"]
    assert recs[0]["judge"] == "gpt-4" and recs[0]["dimensions"] == {"事实正确性": 9.0}
    assert recs[1]["score"] is None and recs[1]["legacy_score"] == -1
    back = [json.loads(x) for x in
            write_official_judgments(recs, tmp_path / "j.jsonl").read_text().splitlines()]
    assert [b["score"] for b in back] == [8, -1]
    assert back[0]["rating"] == {"事实正确性": 9.0, "综合得分": 8.0}


def test_official_judgment_file_bad_score(tmp_path):
    src = write_lines(tmp_path, [dumps({"question_id": 1, "category": "数学计算",
                                        "model_id": "m", "judgment": "x", "score": "abc"})])
    with pytest.raises(InputError, match="score is not a number") as info:
        read_official_judgments(src)
    assert (info.value.line, info.value.field) == (1, "score")
