"""Verdict rules: each benchmark's official way of reading a pairwise judge's reply.

Each rule returns the verdict *in the order shown to the judge*: 1 (first/left/"a"/"A"/
"Response 1"/"助手1"), 2 (second), 0 (tie), or ``None`` when the reply holds no verdict — a
``parse_failed``, never a guess. :func:`map_back` turns a verdict on the swapped order
("ba") back into the original labels. Every rule follows its source code exactly, including
the order of the tests, which decides replies that mention both answers.

One exception to "no verdict is no guess", kept because it is official: PandaLM's
``parse_pandalm_response`` maps *anything else* to a tie. :func:`parse_pandalm` is faithful;
``VERDICT_RULES["pandalm-strict"]`` returns ``None`` instead, so a run can record which ties
were fallbacks (the verdicts frame's ``fallback`` column) without changing the official figure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, partial

from alignbench_utils.paths import judgebench_dir

__all__ = [
    "VERDICT_RULES",
    "llmbar_patterns",
    "map_back",
    "parse_autoj",
    "parse_critiquellm",
    "parse_llmbar",
    "parse_mtbench",
    "parse_pandalm",
    "read_verdict",
]


@cache
def llmbar_patterns() -> tuple[tuple[int, re.Pattern[str]], ...]:
    """LLMBar's ``parsing`` regexes, read from the shipped GPT-4 evaluator config
    (``Vanilla_NoRules.gpt-4.config.json``; ``Vanilla`` has the same ones), in file order."""
    path = judgebench_dir() / "llmbar" / "prompts" / "Vanilla_NoRules.gpt-4.config.json"
    parsing = json.loads(path.read_text(encoding="utf-8"))[0]["parsing"]
    return tuple((int(label), re.compile(expr)) for label, expr in parsing.items())


def parse_llmbar(text: str) -> int | None:
    """LLMBar (``evaluate.py``, ``completion_with_parsing``): strip the completion, then the
    first *pattern* (``(?:^|\\n) ?Output \\(a\\)`` before ``(?:^|\\n) ?Output \\(b\\)``) found
    anywhere wins — not the first mention. LLMBar has no ties.

    >>> parse_llmbar("Output (b)"), parse_llmbar("  Output (a) is better")
    (2, 1)
    >>> parse_llmbar("Output (b) is better.\\nOutput (a) is worse.")  # pattern order, not position
    1
    >>> parse_llmbar("I prefer Output (b)") is None  # must start a line
    True
    """
    completion = text.strip()
    for label, pattern in llmbar_patterns():
        if pattern.search(completion):
            return label
    return None


def parse_mtbench(text: str) -> int | None:
    """MT-Bench ``pair-v2`` (FastChat ``run_judge_pair``, output format ``[[A]]``): substring
    tests in the order ``[[A]]``, ``[[B]]``, ``[[C]]`` (tie); anything else is an error.

    >>> parse_mtbench("... [[B]]"), parse_mtbench("[[C]]"), parse_mtbench("[[B]] not [[A]]")
    (2, 0, 1)
    >>> parse_mtbench("[A]") is None
    True
    """
    for token, verdict in (("[[A]]", 1), ("[[B]]", 2), ("[[C]]", 0)):
        if token in text:
            return verdict
    return None


def parse_pandalm(text: str, *, strict: bool = False) -> int | None:
    """PandaLM (``pandalm_inference.py``, ``parse_pandalm_response``): the first line of the
    stripped output; "1" or "2" exactly is that response, "tie" in any case is a tie, and
    *anything else is a tie too* (official; with ``strict=True`` it is ``None``).

    >>> parse_pandalm("2\\n\\n### Reason: ..."), parse_pandalm("Tie"), parse_pandalm(" 1 ")
    (2, 0, 1)
    >>> parse_pandalm("Response 1"), parse_pandalm("Response 1", strict=True)
    (0, None)
    """
    first = text.strip().split("\n")[0]
    if first in ("1", "2"):
        return int(first)
    if first.lower() == "tie":
        return 0
    return None if strict else 0


def parse_autoj(text: str) -> int | None:
    """Auto-J (``codes/usage/example.py``, ``extract_pariwise_result``): the text after the
    *last* "final decision is ", stripped and lower-cased, starting with "response 1",
    "response 2" or "tie"; else no verdict.

    >>> parse_autoj("So, the final decision is Response 2."), parse_autoj("final decision is TIE")
    (2, 0)
    >>> parse_autoj("final decision is Response 1 ... final decision is response 2")
    2
    >>> parse_autoj("The final decision: Response 1") is None
    True
    """
    output = text.strip()
    pos = output.rfind("final decision is ")
    if pos == -1:
        return None
    rest = output[pos + len("final decision is "):].strip().lower()
    for prefix, verdict in (("response 1", 1), ("response 2", 2), ("tie", 0)):
        if rest.startswith(prefix):
            return verdict
    return None


def parse_critiquellm(text: str) -> int | None:
    """CritiqueLLM (``evaluation/eval_pairwise.py``, ``extract_label``): substring tests, in
    order, for ``{'综合比较结果': '助手1'}``, ``…'助手2'}`` and ``…'质量相当'}`` (tie) — the
    whole one-key dict, braces included, as the official script checks.

    >>> parse_critiquellm("分析……{'综合比较结果': '助手2'}"), parse_critiquellm("{'综合比较结果': '质量相当'}")
    (2, 0)
    >>> parse_critiquellm("{'综合比较结果': '助手1', '理由': '…'}") is None
    True
    """
    for answer, verdict in (("助手1", 1), ("助手2", 2), ("质量相当", 0)):
        if f"{{'综合比较结果': '{answer}'}}" in text:
            return verdict
    return None


def map_back(verdict: int | None, order: str) -> int | None:
    """A verdict on the shown order as one on the original labels: in order "ba" output_2 was
    shown first, so 1 and 2 swap; ties and ``None`` stay.

    >>> map_back(1, "ba"), map_back(1, "ab"), map_back(0, "ba"), map_back(None, "ba")
    (2, 1, 0, None)
    """
    if order not in ("ab", "ba"):
        raise ValueError(f"order must be 'ab' or 'ba', got {order!r}")
    if order == "ba" and verdict in (1, 2):
        return 3 - verdict
    return verdict


VERDICT_RULES: dict[str, Callable[[str], int | None]] = {
    "llmbar": parse_llmbar,
    "mtbench": parse_mtbench,
    "pandalm": parse_pandalm,
    "pandalm-strict": partial(parse_pandalm, strict=True),
    "autoj": parse_autoj,
    "critiquellm": parse_critiquellm,
}


def read_verdict(rule: str, raw: str | None, order: str) -> dict[str, object]:
    """One judge call's verdicts-frame fields from its raw reply under a named rule.

    ``raw=None`` means no reply (an API failure): status ``error``. Otherwise the rule's
    verdict, mapped back from ``order``; no verdict is ``parse_failed``. ``fallback`` is True
    when the rule has a ``-strict`` twin that finds no verdict (PandaLM's official tie for an
    unreadable reply), so the tie is counted yet visible.

    >>> read_verdict("llmbar", "Output (a)", "ba")
    {'verdict': 2, 'status': 'ok', 'fallback': False}
    >>> read_verdict("mtbench", "no brackets", "ab")
    {'verdict': None, 'status': 'parse_failed', 'fallback': False}
    >>> read_verdict("pandalm", "Response 1 is better", "ab")
    {'verdict': 0, 'status': 'ok', 'fallback': True}
    >>> read_verdict("autoj", None, "ab")["status"]
    'error'
    """
    if rule not in VERDICT_RULES:
        raise ValueError(f"unknown verdict rule {rule!r}; known: {', '.join(VERDICT_RULES)}")
    if raw is None:
        return {"verdict": None, "status": "error", "fallback": False}
    verdict = VERDICT_RULES[rule](raw)
    strict = VERDICT_RULES.get(f"{rule}-strict")
    return {"verdict": map_back(verdict, order),
            "status": "ok" if verdict is not None else "parse_failed",
            "fallback": verdict is not None and strict is not None and strict(raw) is None}
