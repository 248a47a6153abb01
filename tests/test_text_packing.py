"""The viewer's packing (alignbench_utils.report.text_packing): every text comes back exactly, and a
repeat further back than gzip's 32 KiB window is stored once."""

from __future__ import annotations

import base64
import gzip

import numpy as np
import pytest

from alignbench_utils.report import text_packing
from alignbench_utils.report.text_packing import MIN_MATCH, long_copies, pack_text, unpack_text


def random_text(rng: np.random.Generator, n: int) -> str:
    """CJK, ASCII and astral characters (emoji: surrogate pairs in UTF-16) mixed."""
    pools = [np.arange(0x4E00, 0x9FA5), np.arange(0x20, 0x7F), np.arange(0x1F600, 0x1F64F)]
    picks = [rng.choice(pools[k]) for k in rng.choice(3, size=n, p=[0.7, 0.25, 0.05])]
    return "".join(map(chr, picks))


@pytest.mark.parametrize("case", ["empty", "short", "periodic", "random", "repeats"])
def test_every_text_comes_back_exactly(case):
    rng = np.random.default_rng(0)
    block = random_text(rng, 3000)
    text = {"empty": "", "short": "评分：8", "periodic": "ab" * 5000 + "哈" * 999,
            "random": random_text(rng, 20000),
            "repeats": block + random_text(rng, 500) + block[100:2900] + "😀" + block}[case]
    assert unpack_text(pack_text(text)) == text
    units = np.frombuffer(text.encode("utf-16-le"), np.uint16)
    end = 0
    for start, distance, length in long_copies(units):
        assert start >= end and length >= MIN_MATCH and distance >= length  # no overlap
        assert np.array_equal(units[start:start + length],
                              units[start - distance:start - distance + length])
        end = start + length


def test_a_repeat_beyond_gzips_window_is_stored_once():
    rng = np.random.default_rng(1)
    critique = random_text(rng, 4000)
    text = critique + random_text(rng, 40000) + critique  # 80+ KiB apart in UTF-16 or UTF-8
    gzip_only = len(base64.b64encode(gzip.compress(text.encode("utf-8"), 9)))
    packed = len(pack_text(text))
    assert packed < gzip_only - 0.8 * len(base64.b64encode(gzip.compress(
        critique.encode("utf-8"), 9)))


def test_blocks_of_hashing_find_the_same_copies(monkeypatch):
    rng = np.random.default_rng(2)
    block = random_text(rng, 2000)
    text = block + random_text(rng, 3000) + block + block[500:]
    units = np.frombuffer(text.encode("utf-16-le"), np.uint16)
    whole = long_copies(units)
    monkeypatch.setattr(text_packing, "_BLOCK", 100)  # every k-gram hashed in another block
    assert long_copies(units) == whole and len(whole) >= 2
    assert unpack_text(pack_text(text)) == text
