"""The judge prompt is byte-identical to the official one for every question."""

import json
from pathlib import Path

from alignbench_utils import build_judge_prompt, load_questions
from alignbench_utils.protocols.prompts import sha256_text, template_sha256
from alignbench_utils.taxonomy import dimensions_for

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_prompt_sha256_v1.1.json")
                    .read_text(encoding="utf-8"))


def test_golden_prompts_683_of_683():
    questions = {q["question_id"]: q for q in load_questions("v1.1")}
    matched = [p["question_id"] for p in GOLDEN["prompts"]
               if sha256_text(build_judge_prompt(questions[p["question_id"]],
                                                 GOLDEN["answer_text"])) == p["sha256"]]
    assert len(GOLDEN["prompts"]) == 683
    assert len(matched) == 683


def test_dimension_lists_match_golden():
    questions = {q["question_id"]: q for q in load_questions("v1.1")}
    for p in GOLDEN["prompts"]:
        assert dimensions_for(questions[p["question_id"]]["subcategory"]) == p["dimensions"]


def test_template_hash_is_stable_and_prompt_uses_raw_strings():
    assert len(template_sha256()) == 64
    q = {"category": "专业能力", "subcategory": "音乐", "question": "{x}", "reference": "{y}"}
    prompt = build_judge_prompt(q, "答案 {z}")
    assert "用户的提问： {x}\n[参考答案开始]\n{y}\n" in prompt and "答案 {z}" in prompt
