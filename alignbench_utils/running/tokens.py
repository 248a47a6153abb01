"""Token counts without a tokenizer: a per-character approximation, calibrated on AlignBench.

No tokenizer vocabulary ships with the package (tiktoken downloads its files; every provider
counts differently), yet a cost estimate and a budget check need token counts before any
request is sent. Tokens are estimated from character classes, each with its own rate:

==================  =====  ===============================================================
class               rate   why
==================  =====  ===============================================================
CJK ideograph       0.6    common two-character words are one token
CJK punctuation     1.0    ，。：“” and full-width forms: one token each
ASCII letter        0.2    about five letters per English token
digit               1.0    Qwen splits numbers into digits
whitespace          0.3    newlines and indentation merge into runs
anything else       1.0    ASCII punctuation, symbols, other scripts
==================  =====  ===============================================================

The rates were fitted (non-negative least squares, then rounded) to the Qwen2.5 tokenizer
(``llama-server /tokenize`` of the embedded local model) on the 683 AlignBench v1.1
questions, their references and every 7th official judge prompt. Measured with these
rounded rates: total tokens within -0.7 % (questions), +1.3 % (references), +3.0 % (judge
prompts); per text, the median error is 9 % (short questions) and 3 % (judge prompts).
``benchmarks/estimate_check.py --tokenizer`` repeats the check. Tokenizers that split
Chinese finer (GPT-4's cl100k, about one token per character) bill more than this; the
price table is the place to correct for that.

The fault server (:mod:`alignbench_utils.testing.fault_server`) bills with this approximation, so
that a run against it checks the estimate's *requests* exactly: which prompts, how many,
how long the answers are; the approximation itself is checked against the real tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["MESSAGE_OVERHEAD", "RATES", "approx_tokens", "message_tokens"]

# (character class, tokens per character); the first class that matches a character counts.
RATES: tuple[tuple[str, re.Pattern[str], float], ...] = (
    ("cjk", re.compile(r"[\u3400-\u9fff\uf900-\ufaff]"), 0.6),
    ("cjk_punctuation", re.compile(r"[\u3000-\u303f\uff00-\uffef\u2018-\u201f\u2026]"), 1.0),
    ("letter", re.compile(r"[A-Za-z]"), 0.2),
    ("digit", re.compile(r"[0-9]"), 1.0),
    ("whitespace", re.compile(r"\s"), 0.3),
)
OTHER_RATE = 1.0
MESSAGE_OVERHEAD = 4  # tokens a chat format adds per message (role and separators)


def approx_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (at least 1 for a non-empty text).

    >>> approx_tokens("你好，世界。"), approx_tokens("Hello world"), approx_tokens("")
    (4, 2, 0)
    """
    if not text:
        return 0
    total, counted = 0.0, 0
    for _, pattern, rate in RATES:
        n = len(pattern.findall(text))
        total += n * rate
        counted += n
    total += (len(text) - counted) * OTHER_RATE
    return max(1, round(total))


def message_tokens(messages: Iterable[Mapping[str, object]]) -> int:
    """Estimated prompt tokens of a chat request: each message's content plus the chat
    format's overhead per message.

    >>> message_tokens([{"role": "user", "content": "你好"}])
    5
    """
    return sum(approx_tokens(str(m.get("content") or "")) + MESSAGE_OVERHEAD for m in messages)
