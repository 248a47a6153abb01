"""Pairwise protocols: official prompts byte for byte, the sources' settings, user templates."""

from __future__ import annotations

import json

import pytest

from alignbench_utils.errors import InputError
from alignbench_utils.judgebench import VERDICT_RULES, load_benchmark
from alignbench_utils.paths import judgebench_dir
from alignbench_utils.protocols import PROTOCOLS, get_protocol
from alignbench_utils.protocols.pairwise import PAIRWISE_PROTOCOLS, SETTINGS_DIR
from alignbench_utils.protocols.prompts import build_judge_prompt, format_dimensions, load_template

LLMBAR = {"llmbar-vanilla-norules": "Vanilla_NoRules", "llmbar-vanilla": "Vanilla"}
PAIR = {"pair_id": "t/1", "instruction": "Sort {these} words.", "input": "", "reference": "ref",
        "output_1": "first {answer}", "output_2": "second answer", "category": "基本任务",
        "subcategory": "信息抽取"}


def _request(name: str, order: str = "ab", pair: dict | None = None, **options):
    return get_protocol(name)(**options).request({**(pair or PAIR), "order": order})


def test_every_shipped_protocol_is_registered_as_pairwise():
    assert set(PAIRWISE_PROTOCOLS) == {
        "llmbar-vanilla-norules", "llmbar-vanilla", "mtbench-pair-v2", "mtbench-pair-math-v1",
        "pandalm", "autoj", "critiquellm", "alignbench-pairwise"}
    assert all(PROTOCOLS[n].kind == "pairwise" for n in PAIRWISE_PROTOCOLS)
    assert PROTOCOLS["alignbench-pointwise"].kind == "pointwise"


@pytest.mark.parametrize("name", LLMBAR)
def test_llmbar_prompt_is_the_official_chatml_file(name):
    path = judgebench_dir() / "llmbar" / "prompts" / f"{LLMBAR[name]}.txt"
    protocol = get_protocol(name)()
    assert protocol.template == path.read_bytes().decode("utf-8")
    item = load_benchmark("llmbar:Natural").iloc[3].to_dict() | {"pair_id": "n/3"}
    for order, (first, second) in (("ab", ("output_1", "output_2")),
                                   ("ba", ("output_2", "output_1"))):
        messages = protocol.request({**item, "order": order}).messages
        # LLMBar: format the whole ChatML text, then split it into turns (stripped)
        filled = protocol.template.format(input=item["instruction"], output_1=item[first],
                                          output_2=item[second])
        system, user = filled.split("<|im_start|>")[1:]
        assert messages == [
            {"role": "system", "content": system.removeprefix("system\n")
             .split("<|im_end|>")[0].strip()},
            {"role": "user", "content": user.removeprefix("user\n").split("<|im_end|>")[0].strip()}]
        assert messages[1]["content"].endswith('either "Output (a)" or "Output (b)":')


@pytest.mark.parametrize("name", LLMBAR)
def test_llmbar_settings_are_the_gpt4_config(name):
    config = json.loads((judgebench_dir() / "llmbar" / "prompts" /
                         f"{LLMBAR[name]}.gpt-4.config.json").read_text())[0]["openai_kwargs"]
    settings = PROTOCOLS[name].settings
    assert settings.params == {"temperature": config["temperature"],
                               "max_tokens": config["max_tokens"]} == {"temperature": 0.0,
                                                                       "max_tokens": 50}
    assert settings.logit_bias["avoid"] == config["tokens_to_avoid"]
    assert settings.logit_bias["favor"] == config["tokens_to_favor"]
    assert (settings.logit_bias["avoid_bias"], settings.logit_bias["favor_bias"]) == (-100, 7)
    assert settings.swap == "both" and settings.verdict_rule == "llmbar"
    request = _request(name)
    assert request.params == {"temperature": 0.0, "max_tokens": 50}  # no bias unless asked
    assert request.record_fields["request"] == {
        "temperature": 0.0, "max_tokens": 50, "roles": ["system", "user"],
        "logit_bias_model": None}


def test_logit_bias_needs_an_official_one_and_a_tokenizer():
    with pytest.raises(InputError, match="has no official logit bias"):
        get_protocol("mtbench-pair-v2")(logit_bias_model="gpt-4")


@pytest.mark.parametrize("name,entry", [("mtbench-pair-v2", "pair-v2"),
                                        ("mtbench-pair-math-v1", "pair-math-v1")])
def test_mtbench_prompt_is_the_fastchat_entry(name, entry):
    path = judgebench_dir() / "mtbench" / "judge_prompts.jsonl"
    prompt = next(json.loads(line) for line in path.read_text().splitlines()
                  if json.loads(line)["name"] == entry)
    request = _request(name, "ba")
    kwargs = {"question": PAIR["instruction"], "answer_a": PAIR["output_2"],
              "answer_b": PAIR["output_1"]}
    if entry == "pair-math-v1":
        kwargs["ref_answer_1"] = PAIR["reference"]
    assert request.messages == [
        {"role": "system", "content": prompt["system_prompt"]},
        {"role": "user", "content": prompt["prompt_template"].format(**kwargs)}]
    assert request.params == {"temperature": 0.0, "max_tokens": 2048}
    if entry == "pair-math-v1":
        with pytest.raises(InputError, match="needs a reference answer"):
            _request(name, pair=PAIR | {"reference": None})
    else:
        assert _request(name, pair=PAIR | {"reference": None}).messages  # pair-v2 needs none


def test_pandalm_prompt_is_build_pandalm_prompt():
    # build_pandalm_prompt's two f-strings, with the special-token cleanup of the responses
    with_input = PAIR | {"input": "x y z", "output_1": " <s>first</s> ", "output_2": "second"}
    assert _request("pandalm", pair=with_input).messages == [{"role": "user", "content": (
        "Below are two responses for a given task. The task is defined by the Instruction with "
        "an Input that provides further context. Evaluate the responses and generate a "
        "reference answer for the task.\n\n### Instruction:\nSort {these} words.\n\n"
        "### Input:\nx y z\n\n### Response 1:\nfirst\n\n### Response 2:\nsecond\n\n"
        "### Evaluation:\n")}]
    assert _request("pandalm", "ba").messages[0]["content"] == (
        "Below are two responses for a given task. The task is defined by the Instruction. "
        "Evaluate the responses and generate a reference answer for the task.\n\n"
        "### Instruction:\nSort {these} words.\n\n### Response 1:\nsecond answer\n\n"
        "### Response 2:\nfirst {answer}\n\n### Evaluation:\n")
    protocol = get_protocol("pandalm")()
    assert protocol.orders == ("ab",) and get_protocol("pandalm")(orders="both").orders == (
        "ab", "ba")
    reading = protocol.read("Response 1 is better")  # official tie, flagged
    assert (reading.status, reading.verdict, reading.fields, reading.error) == (
        "ok", 0, {"fallback": True}, None)


def test_alignbench_pairwise_follows_the_official_pointwise_prompt():
    protocol = get_protocol("alignbench-pairwise")()
    prompt = protocol.request({**PAIR, "order": "ab"}).messages[0]["content"]
    official = build_judge_prompt(PAIR | {"question": PAIR["instruction"]}, "x")
    assert prompt.splitlines()[0] == official.splitlines()[0]
    assert f"由于您评估的回答类型是{PAIR['category']}" in prompt
    assert format_dimensions(PAIR["subcategory"]) in prompt
    assert "[参考答案开始]\nref\n[参考答案结束]" in prompt
    assert prompt.endswith("[助手1的答案开始]\nfirst {answer}\n[助手1的答案结束]\n"
                           "[助手2的答案开始]\nsecond answer\n[助手2的答案结束]\n")
    examples = [line for line in prompt.splitlines() if "例如" in line][-1].split("例如：")[1]
    assert [VERDICT_RULES["critiquellm"](part) for part in examples.split("或")] == [1, 2, 0]
    with pytest.raises(InputError, match="subcategory"):
        protocol.request({**PAIR, "subcategory": None, "order": "ab"})


def test_official_prompt_files_are_read_byte_for_byte():
    for name in PAIRWISE_PROTOCOLS:
        source = PROTOCOLS[name].settings.template
        if "judgebench" in source:
            path = judgebench_dir() / source["judgebench"]
        elif "package" in source:
            path = SETTINGS_DIR / source["package"]
        else:
            continue
        assert get_protocol(name)().template.encode("utf-8") == path.read_bytes(), name


@pytest.mark.parametrize("name,reply,verdict", [
    ("autoj", "So, the final decision is Response 2", 2),
    ("critiquellm", "……{'综合比较结果': '质量相当'}", 0)])
def test_user_template_protocols(tmp_path, name, reply, verdict):
    template = tmp_path / "t.txt"
    template.write_text("Q: {task}\nR1: {output_1}\nR2: {output_2}\n{{'keep': 'braces'}}\n",
                        encoding="utf-8")
    protocol = get_protocol(name)(template=template)
    request = protocol.request({**PAIR, "input": "in", "order": "ba"})
    assert request.messages == [{"role": "user", "content": (
        "Q: Sort {these} words.\n\nin\nR1: second answer\nR2: first {answer}\n"
        "{'keep': 'braces'}\n")}]
    assert protocol.read(reply).verdict == verdict
    assert protocol.read("no verdict here").status == "parse_failed"
    with pytest.raises(InputError, match="pass --template FILE"):
        get_protocol(name)()


@pytest.mark.parametrize("text,words", [
    ("R1: {output_1}\nR2: {answer_b}", "unknown placeholders ['answer_b']"),
    ("R1: {output_1}", "the template lacks {output_2}"),
    ("R1: {output_1} {output_2} {", "not a str.format template")])
def test_bad_user_templates_fail_located(tmp_path, text, words):
    template = tmp_path / "bad.txt"
    template.write_text(text, encoding="utf-8")
    load_template.cache_clear()
    with pytest.raises(InputError) as info:
        get_protocol("autoj")(template=template)
    assert words in str(info.value) and "bad.txt" in str(info.value)


def test_official_protocols_refuse_a_template(tmp_path):
    with pytest.raises(InputError, match="sends its official prompt"):
        get_protocol("llmbar-vanilla")(template=tmp_path / "t.txt")


def test_request_hash_fields_separate_orders_and_protocols():
    ab, ba = _request("llmbar-vanilla", "ab"), _request("llmbar-vanilla", "ba")
    assert ab.hash_fields["order"] == "ab" and ba.hash_fields["order"] == "ba"
    assert ab.record_fields["template_sha256"] != _request(
        "llmbar-vanilla-norules").record_fields["template_sha256"]
    same = PAIR | {"output_2": PAIR["output_1"]}  # identical messages in both orders
    assert _request("pandalm", "ab", same).messages == _request("pandalm", "ba", same).messages
