"""Pack a large text for a self-contained page: long-range copies, then gzip, then base64.

Why: the viewer embeds every judgment of a run (27,320 judgments are ~60 MiB of JSON). gzip is
the only compression every browser can undo natively (``DecompressionStream("gzip")``), but its
window is 32 KiB: a text repeated further back (a reference quoted in critiques, a re-ask's
raw output kept in ``judgment_history``, the same answer of two models, the boilerplate of a
judge across a run) is stored again. So the text's UTF-16 code units first go through a
long-range pass: every repeat of at least ``MIN_MATCH`` code units anywhere earlier becomes a
copy (distance, length); what is left is literal. The page expands the copies with
``Uint16Array.copyWithin`` (``templates/viewer.js``, ``unpackData``) and decodes UTF-16.

Payload (before gzip), little-endian: ``uint32 total_units, n_copies, n_literal_units``; then
three ``uint32[n_copies]`` arrays: literal units before each copy, copy distance, copy length;
then the literal code units (``uint16[n_literal_units]``). A copy never overlaps its source
(length <= distance), so ``copyWithin`` reproduces it.
"""

from __future__ import annotations

import base64
import gzip

import numpy as np

__all__ = ["MIN_MATCH", "PACKING", "long_copies", "pack_text", "unpack_text"]

PACKING = "alignbench-lz/1+gzip+base64"  # the data element's data-encoding attribute
MIN_MATCH = 32  # code units: shorter repeats are left to gzip
_ANCHOR_BITS = 4  # one k-gram in 2**4 is an anchor (chosen by its hash, so by content)
_HASH_BASE = np.uint64(0x100000001B3)
_HASH_INVERSE = np.uint64(pow(0x100000001B3, -1, 2**64))
_BLOCK = 1 << 20  # k-grams hashed at a time
_MIX = np.uint64(0x9E3779B97F4A7C15)
_HEADER = np.dtype("<u4")


def _common_length(data: bytes, a: int, b: int, limit: int, *, backward: bool = False,
                   known: int = 0) -> int:
    """How many 2-byte units agree at code units ``a`` and ``b`` (forward from them, or
    backward before them), at most ``limit``, ``known`` of them known to agree; galloping
    slice comparisons, so long runs cost a few comparisons.

    >>> text = "xyabcdabcd".encode("utf-16-le")
    >>> _common_length(text, 2, 6, 4), _common_length(text, 6, 10, 4, backward=True)
    (4, 4)
    """
    def same(n: int) -> bool:
        if backward:
            return data[2 * (a - n):2 * a] == data[2 * (b - n):2 * b]
        return data[2 * a:2 * (a + n)] == data[2 * b:2 * (b + n)]

    low, high = known, max(1, 2 * known)
    while high <= limit and same(high):
        low, high = high, high * 2
    high = min(high, limit + 1)
    while high - low > 1:  # same(low) holds, same(high) does not (or high > limit)
        mid = (low + high) // 2
        low, high = (mid, high) if same(mid) else (low, mid)
    return low


def _anchors(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the anchor k-grams of ``units`` and their hashes, a block at a time (memory
    stays a few arrays of ``_BLOCK``, whatever the text's size).

    The hash of the k-gram at i is sum_j u[i+j] B**j mod 2**64, computed from prefix sums:
    (S[i+k] - S[i]) * B**-i with S[i] = sum_{j<i} u[j] B**j (B is odd, so invertible mod
    2**64; uint64 arithmetic wraps). It does not depend on i, so blocks agree.
    """
    grams = len(units) - MIN_MATCH + 1
    width = min(len(units), _BLOCK + MIN_MATCH - 1)
    powers, inverse = (np.cumprod(np.concatenate([np.ones(1, np.uint64),
                                                  np.full(width - 1, base, np.uint64)]))
                       for base in (_HASH_BASE, _HASH_INVERSE))
    positions, keys = [], []
    for start in range(0, grams, _BLOCK):
        block = units[start:start + width]
        prefix = np.concatenate([np.zeros(1, np.uint64),
                                 np.cumsum(block * powers[:len(block)], dtype=np.uint64)])
        hashes = (prefix[MIN_MATCH:] - prefix[:-MIN_MATCH]) * inverse[:len(block) - MIN_MATCH + 1]
        chosen = np.flatnonzero((hashes * _MIX) >> np.uint64(64 - _ANCHOR_BITS) == 0)
        positions.append(chosen + start)
        keys.append(hashes[chosen])
    return np.concatenate(positions), np.concatenate(keys)


def long_copies(units: np.ndarray) -> list[tuple[int, int, int]]:
    """Copies ``(position, distance, length)`` (code units) covering the repeats of at least
    ``MIN_MATCH`` units in ``units`` (uint16), left to right, none overlapping.

    Anchors are the k-grams (k = ``MIN_MATCH``) whose hash falls in one bucket of 16, so the
    same text has the same anchors wherever it occurs; each anchor is matched to the last
    earlier occurrence of its k-gram and the match is extended both ways.

    >>> said = "与参考答案相比，回答完整地解释了原因并给出了正确的步骤和结论，但是在第二步的推导中遗漏了一个边界条件，因此扣分。"
    >>> text = "评分：" + said + "另外，" + said + "。"
    >>> long_copies(np.frombuffer(text.encode("utf-16-le"), np.uint16))  # said again at 62
    [(62, 59, 56)]
    """
    n = len(units)
    if n < MIN_MATCH * 2:
        return []
    data = units.tobytes()
    anchors, keys = _anchors(units)
    order = np.lexsort((anchors, keys))  # same k-gram together, earlier first
    repeat = np.zeros(len(order), bool)
    repeat[1:] = keys[order[1:]] == keys[order[:-1]]
    previous = np.full(len(anchors), -1, np.int64)
    previous[order[1:][repeat[1:]]] = anchors[order[:-1][repeat[1:]]]
    found = previous >= 0
    copies: list[tuple[int, int, int]] = []
    covered = 0
    for at, source in zip(anchors[found].tolist(), previous[found].tolist()):
        if at < covered or data[2 * at:2 * (at + MIN_MATCH)] != data[
                2 * source:2 * (source + MIN_MATCH)]:
            continue
        distance = at - source
        back = _common_length(data, at, source, min(at - covered, source, distance),
                              backward=True)
        start = at - back
        limit = min(n - at, distance - back)
        length = back + _common_length(data, at, source, limit, known=min(MIN_MATCH, limit))
        if length >= MIN_MATCH:
            copies.append((start, distance, length))
            covered = start + length
    return copies


def pack_text(text: str) -> str:
    """``text`` packed as ASCII (base64 of the gzip of the payload in the module docstring).

    >>> text = '{"judgment":["' + "逻辑清晰，步骤完整，结论正确。" * 40 + '"]}'
    >>> packed = pack_text(text)
    >>> unpack_text(packed) == text, len(packed) < len(text.encode()) / 10
    (True, True)
    """
    units = np.frombuffer(text.encode("utf-16-le"), np.uint16)
    copies = long_copies(units)
    literal, before, cursor = [], [], 0
    for start, _, length in copies:
        literal.append(units[cursor:start])
        before.append(start - cursor)
        cursor = start + length
    literal.append(units[cursor:])
    literal_units = np.concatenate(literal).astype("<u2")
    table = np.array([before, [c[1] for c in copies], [c[2] for c in copies]],
                     _HEADER).reshape(3, len(copies))
    header = np.array([len(units), len(copies), len(literal_units)], _HEADER)
    payload = header.tobytes() + table.tobytes() + literal_units.tobytes()
    return base64.b64encode(gzip.compress(payload, compresslevel=6, mtime=0)).decode("ascii")


def unpack_text(packed: str) -> str:
    """The text :func:`pack_text` packed (what the page does, in Python)."""
    payload = gzip.decompress(base64.b64decode(packed))
    total, n_copies, n_literal = np.frombuffer(payload, _HEADER, 3).tolist()
    before, distance, length = np.frombuffer(payload, _HEADER, 3 * n_copies, 12).reshape(
        3, n_copies).tolist()
    literal = np.frombuffer(payload, "<u2", n_literal, 12 + 12 * n_copies)
    out = np.empty(total, np.uint16)
    at = used = 0
    for k in range(n_copies):
        out[at:at + before[k]] = literal[used:used + before[k]]
        at, used = at + before[k], used + before[k]
        out[at:at + length[k]] = out[at - distance[k]:at - distance[k] + length[k]]
        at += length[k]
    out[at:] = literal[used:]
    return out.astype("<u2").tobytes().decode("utf-16-le")
