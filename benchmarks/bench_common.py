"""Helpers the benchmark scripts share (run them as ``python benchmarks/<script>.py``, which
puts this folder on ``sys.path``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from alignbench_utils import load_questions
from alignbench_utils.taxonomy import CATEGORIES


def best_of(n: int, fn: Callable[[], object]) -> float:
    """Fastest of ``n`` wall-clock runs of ``fn``, in seconds."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def v11_category_sizes() -> dict[str, int]:
    """Questions per category in AlignBench v1.1 (683 in all), in ``CATEGORIES`` order."""
    counts = Counter(load_questions("v1.1")["category"])
    return {c: counts[c] for c in CATEGORIES}
