"""Verdict rules on tricky replies, table-driven; LLMBar's rule re-derives its published winners."""

from __future__ import annotations

import json

import pytest

from alignbench_utils.judgebench import (
    LLMBAR_PROCESSED,
    LLMBAR_SUBSETS,
    VERDICT_RULES,
    map_back,
    read_verdict,
    verdicts_frame,
)
from alignbench_utils.judgebench.verdicts import llmbar_patterns
from alignbench_utils.paths import judgebench_dir

CASES = {
    "llmbar": [
        ("Output (a)", 1), ("Output (b)", 2), ("\n\n Output (b)\n", 2),
        ("   Output (a)", 1),  # stripped first, so the leading spaces do not matter
        ("Output (b) is better than Output (a)", 2),
        ("Output (b)\nOutput (a)", 1),  # pattern order decides, not position
        ("The better one is Output (a)", None), ("Output (A)", None), ("Output(a)", None),
        ("reasoning...\n Output (b)", 2), ("reasoning...\n  Output (b)", None),
        ("", None), ("Both are good.", None),
    ],
    "mtbench": [
        ("[[A]]", 1), ("[[B]]", 2), ("[[C]]", 0), ("My verdict: [[B]] (not [[A]])", 1),
        ("[[C]] ... [[B]]", 2), ("[A]", None), ("[[a]]", None), ("[[ A ]]", None), ("", None),
        ("tie", None),
    ],
    "pandalm": [
        ("1", 1), ("2\n\n### Reason: ...", 2), ("Tie", 0), ("tie\n", 0), ("TIE", 0),
        ("\n 2\nmore", 2), ("1 ", 1), ("1 \nReason", 0), ("Response 1", 0), ("", 0),
        ("0", 0), ("3", 0),
    ],
    "pandalm-strict": [
        ("1", 1), ("Tie", 0), ("1 \nReason", None), ("Response 1", None), ("", None),
        ("0", None),
    ],
    "autoj": [
        ("So, the final decision is Response 1", 1),
        ("so the final decision is response 2.", 2), ("final decision is Tie", 0),
        ("final decision is   TIE!", 0),
        ("the final decision is Response 2 ... wait, the final decision is Response 1", 1),
        ("final decision is Response 1 ... final decision is unclear", None),
        ("The Final Decision is Response 1", None),  # the phrase itself is case-sensitive
        ("final decision: Response 1", None), ("final decision is Response3", None),
        ("", None),
    ],
    "critiquellm": [
        ("{'综合比较结果': '助手1'}", 1), ("分析…… {'综合比较结果': '助手2'} 完", 2),
        ("{'综合比较结果': '质量相当'}", 0),
        ("{'综合比较结果': '助手2'} {'综合比较结果': '助手1'}", 1),  # test order decides
        ('{"综合比较结果": "助手1"}', None), ("{'综合比较结果':'助手1'}", None),
        ("'综合比较结果': '助手1'", None), ("{'综合比较结果': '助手1', '理由': 'x'}", None),
        ("助手1更好", None),
    ],
}
TABLE = [(rule, text, verdict) for rule, rows in CASES.items() for text, verdict in rows]


@pytest.mark.parametrize("rule,text,verdict", TABLE,
                         ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(TABLE)])
def test_rule(rule, text, verdict):
    assert VERDICT_RULES[rule](text) == verdict


def test_registry_covers_every_rule():
    assert set(VERDICT_RULES) == set(CASES)


def test_map_back():
    assert [map_back(v, "ba") for v in (1, 2, 0, None)] == [2, 1, 0, None]
    assert [map_back(v, "ab") for v in (1, 2, 0, None)] == [1, 2, 0, None]
    with pytest.raises(ValueError, match="order"):
        map_back(1, "BA")


def test_llmbar_patterns_are_the_configs_parsing():
    prompts = judgebench_dir() / "llmbar" / "prompts"
    for config in ("Vanilla_NoRules.gpt-4.config.json", "Vanilla.gpt-4.config.json"):
        parsing = json.loads((prompts / config).read_text())[-1]["parsing"]
        assert [(int(k), v) for k, v in parsing.items()] == [
            (label, p.pattern) for label, p in llmbar_patterns()]


def test_llmbar_rule_reproduces_every_published_chatgpt_winner():
    """All 885 items × 2 orders: parse the raw completion, map the swapped order back, and
    get the winner LLMBar recorded."""
    folder = judgebench_dir() / "llmbar" / "results_chatgpt_vanilla_norules"
    checked = 0
    for subset in LLMBAR_SUBSETS + LLMBAR_PROCESSED:
        for record in json.loads((folder / f"{subset}.result.json").read_text()):
            for swap, order in (("swap = False", "ab"), ("swap = True", "ba")):
                result = record["results"][-1][swap]
                verdict = map_back(VERDICT_RULES["llmbar"](result["completion"][0]), order)
                assert verdict == (None if result["winner"] is None else int(result["winner"]))
                checked += 1
    assert checked == 2 * 885


def test_read_verdict_gives_frame_fields_for_every_rule():
    rows = []
    for i, (rule, text, verdict) in enumerate(TABLE):
        for order in ("ab", "ba"):
            fields = read_verdict(rule, text, order)
            assert fields["verdict"] == map_back(verdict, order)
            assert fields["status"] == ("ok" if verdict is not None else "parse_failed")
            strict = VERDICT_RULES["pandalm-strict"](text)
            assert fields["fallback"] == (rule == "pandalm" and strict is None)
            rows.append({"judge": rule, "benchmark": "b", "subset": "s", "item_id": i,
                         "order": order, "raw": text} | fields)
    assert len(verdicts_frame(rows)) == 2 * len(TABLE)  # every row keeps the contract
    assert read_verdict("llmbar", None, "ba") == {"verdict": None, "status": "error",
                                                  "fallback": False}
    with pytest.raises(ValueError, match="known: llmbar, mtbench"):
        read_verdict("fastchat", "x", "ab")
