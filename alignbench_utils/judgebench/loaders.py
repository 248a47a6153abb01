"""The registry of pairwise meta-evaluation benchmarks: one name, one items frame.

Every loader fails before any judge is called, with an
:class:`~alignbench_utils.errors.InputError` naming the path, the line (JSONL) or item index
(JSON array) and the field.
"""

from __future__ import annotations

import pandas as pd

from alignbench_utils.errors import InputError
from alignbench_utils.judgebench.shipped import (
    LLMBAR_ADVERSARIAL,
    LLMBAR_PROCESSED,
    LLMBAR_SUBSETS,
    load_llmbar,
    load_pandalm,
)
from alignbench_utils.judgebench.user_formats import (
    load_autoj,
    load_critiquellm_pairwise,
    load_mtbench_human,
)

__all__ = ["BENCHMARK_NAMES", "benchmark_problem", "load_benchmark"]

BENCHMARK_NAMES = (
    "llmbar", "llmbar:Adversarial", *(f"llmbar:{s}" for s in LLMBAR_SUBSETS + LLMBAR_PROCESSED),
    "pandalm", "autoj:PATH", "critiquellm:PATH", "mtbench-human",
)


def benchmark_problem(name: str) -> str | None:
    """What is wrong with a registry name, without loading anything (None: nothing), so a run
    config fails before any call.

    >>> benchmark_problem("llmbar:Natural") is None, benchmark_problem("autoj")
    (True, "unknown benchmark 'autoj'; autoj and critiquellm name a file: autoj:PATH")
    """
    family, colon, argument = name.partition(":")
    if family == "llmbar":
        known = ("", "Adversarial", *LLMBAR_SUBSETS, *LLMBAR_PROCESSED)
        return None if argument in known and (argument or not colon) else (
            f"unknown LLMBar subset {argument!r}; known: {', '.join(known[1:])}")
    if family in ("pandalm", "mtbench-human") and not colon:
        return None
    if family in ("autoj", "critiquellm"):
        return None if argument else (f"unknown benchmark {name!r}; autoj and critiquellm "
                                      f"name a file: {family}:PATH")
    return f"unknown benchmark {name!r}; known: {', '.join(BENCHMARK_NAMES)}"


def load_benchmark(name: str) -> pd.DataFrame:
    """Items of a benchmark by registry name (:data:`BENCHMARK_NAMES`).

    ``llmbar`` is LLMBar's five subsets (419 items), ``llmbar:Adversarial`` its four
    adversarial ones, ``llmbar:SUBSET`` one subset; ``pandalm``; ``autoj:PATH`` and
    ``critiquellm:PATH`` read a user's file; ``mtbench-human`` loads the hub's human split.

    >>> len(load_benchmark("llmbar")), len(load_benchmark("llmbar:Adversarial"))
    (419, 319)
    >>> load_benchmark("llmbar:Nat")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: field 'benchmark': unknown LLMBar subset 'Nat'; known: ...
    """
    family, _, argument = name.partition(":")
    if family == "llmbar":
        subsets = {"": LLMBAR_SUBSETS, "Adversarial": LLMBAR_ADVERSARIAL}.get(argument,
                                                                               (argument,))
        return pd.concat([load_llmbar(s) for s in subsets], ignore_index=True)
    if family == "pandalm" and not argument:
        return load_pandalm()
    if family == "mtbench-human" and not argument:
        return load_mtbench_human()
    readers = {"autoj": load_autoj, "critiquellm": load_critiquellm_pairwise}
    if family in readers and argument:
        return readers[family](argument)
    raise InputError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARK_NAMES)}",
                     field="benchmark")
