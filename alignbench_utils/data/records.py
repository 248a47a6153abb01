"""The record types of a run and their builders: the only place a record is made.

Every stage (generate, judge, import, and the tests' synthetic runs) builds its records here,
so the schema has one definition and one version. ``SCHEMA_VERSION`` is written into every
record; :func:`upgrade_record` lets readers take records written before it existed.

Kinds: an **answer** (one question answered by one model), a **judgment** (one answer judged
by one judge under one protocol), a **pairwise judgment** (one pair of responses judged in one
order under a pairwise protocol). Fields are described in ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alignbench_utils._version import __version__
from alignbench_utils.data.store import now_iso
from alignbench_utils.errors import InputError
from alignbench_utils.protocols.base import DEFAULT_PROTOCOL, PARSE_FAILED, canonical_protocol

__all__ = [
    "DEFAULT_PROTOCOL",
    "PAIR_KEYS",
    "QUESTION_KEYS",
    "SCHEMA_VERSION",
    "ZERO_USAGE",
    "answer_record",
    "judgment_record",
    "pairwise_record",
    "question_fields",
    "stamp",
    "upgrade_record",
]

SCHEMA_VERSION = 2  # 1: records written before schema_version existed (no `protocol` field)
QUESTION_KEYS = ("question_id", "category", "subcategory", "question", "reference")
ZERO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
# What a pairwise record copies from its pair, where the pair has it: the judge meta-evaluation
# key (benchmark, subset, item_id; gold label, group) or the AlignBench one (question, models,
# the answers' hashes and lengths).
PAIR_KEYS = ("pair_id", "benchmark", "subset", "item_id", "label", "group", "question_id",
             "category", "subcategory", "model_a", "model_b", "answer_request_hash_a",
             "answer_request_hash_b", "len_a", "len_b")


def question_fields(question: Mapping[str, Any]) -> dict[str, Any]:
    """The question fields every record copies, checked so a bad item fails before any call.

    >>> question_fields({"question_id": 1, "category": "c"})
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: field 'subcategory': question lacks fields ['subcategory', 'question', 'reference']
    """
    missing = [k for k in QUESTION_KEYS if k not in question]
    if missing:
        raise InputError(f"question lacks fields {missing}", field=missing[0])
    return {k: question[k] for k in QUESTION_KEYS}


def stamp(record: dict[str, Any], *, created_at: str | None = None) -> dict[str, Any]:
    """Add the schema version, package version and creation time (ISO-8601 UTC)."""
    record.update(schema_version=SCHEMA_VERSION, package_version=__version__,
                  created_at=created_at or now_iso())
    return record


def _reasoning(prefix: str, reasoning: str | None) -> dict[str, Any]:
    if not reasoning:
        return {}
    return {f"{prefix}reasoning": reasoning, f"{prefix}reasoning_chars": len(reasoning)}


def answer_record(question: Mapping[str, Any], *, model: str, answer: str, status: str,
                  model_id: str | None = None, error: str | None = None,
                  request_hash: str | None = None, request: Mapping[str, Any] | None = None,
                  usage: Mapping[str, int] | None = None, latency_s: float | None = None,
                  attempts: int = 0, finish_reason: str | None = None,
                  cost_usd: float | None = None, reasoning: str | None = None,
                  **extra: Any) -> dict[str, Any]:
    """One answer record. ``reasoning`` (a reasoning model's thinking) is kept apart from
    ``answer``, which is all a judge ever sees.

    >>> r = answer_record({"question_id": 1, "category": "c", "subcategory": "s",
    ...                    "question": "q", "reference": "r"}, model="m", answer="a",
    ...                   status="ok", reasoning="想")
    >>> r["schema_version"], r["reasoning_chars"], r["usage"]["total_tokens"]
    (2, 1, 0)
    """
    return stamp({
        **{k: question.get(k) for k in QUESTION_KEYS}, "model": model, "model_id": model_id,
        "request_hash": request_hash, "request": dict(request or {}), "answer": answer,
        "status": status, "error": error, "usage": dict(usage or ZERO_USAGE),
        "latency_s": latency_s, "attempts": attempts, "finish_reason": finish_reason,
        "cost_usd": cost_usd, **_reasoning("", reasoning), **extra})


def judgment_record(answer: Mapping[str, Any], *, judge: str, judgment: str, status: str,
                    judge_model_id: str | None = None, protocol: str = DEFAULT_PROTOCOL,
                    score: float | None = None, dimensions: Mapping[str, float] | None = None,
                    error: str | None = None, request_hash: str | None = None,
                    request: Mapping[str, Any] | None = None,
                    usage: Mapping[str, int] | None = None, latency_s: float | None = None,
                    attempts: int = 0, cost_usd: float | None = None,
                    judge_reasoning: str | None = None, sample: int = 0,
                    **extra: Any) -> dict[str, Any]:
    """One judgment record of ``answer`` (an answer record) by ``judge`` under ``protocol``;
    ``sample`` numbers repeated judgments of one answer (0, 1, ...; a record without it is
    sample 0); ``extra`` carries the protocol's own fields (prompt and template hashes, ...).

    >>> r = judgment_record({"question_id": 1, "category": "c", "model": "m", "answer": "a"},
    ...                     judge="j", judgment="{'综合得分': 7}", status="ok", score=7.0)
    >>> r["protocol"], r["score"], r["dimensions"], r["answer_request_hash"]
    ('alignbench-pointwise', 7.0, {}, None)
    """
    return stamp({
        **{k: answer.get(k) for k in QUESTION_KEYS}, "model": answer["model"],
        "answer": answer.get("answer"), "answer_request_hash": answer.get("request_hash"),
        "judge": judge, "judge_model_id": judge_model_id, "protocol": protocol,
        "sample": sample, "judgment": judgment, "status": status, "score": score,
        "dimensions": dict(dimensions or {}), "error": error, "request_hash": request_hash,
        "request": dict(request or {}), "usage": dict(usage or ZERO_USAGE),
        "latency_s": latency_s, "attempts": attempts, "cost_usd": cost_usd,
        **_reasoning("judge_", judge_reasoning), **extra})


def pairwise_record(pair: Mapping[str, Any], *, order: str, judge: str, judgment: str,
                    status: str, protocol: str, judge_model_id: str | None = None,
                    verdict_shown: int | None = None, verdict: int | None = None,
                    fallback: bool = False, error: str | None = None,
                    request_hash: str | None = None, request: Mapping[str, Any] | None = None,
                    usage: Mapping[str, int] | None = None, latency_s: float | None = None,
                    attempts: int = 0, cost_usd: float | None = None,
                    judge_reasoning: str | None = None, **extra: Any) -> dict[str, Any]:
    """One pairwise judgment record: ``pair`` judged in ``order`` (``"ab"``: output_1 shown
    first, ``"ba"``: swapped) by ``judge`` under ``protocol``. ``judgment`` is the raw reply
    (kept whatever the status: ``ok``, ``parse_failed`` or ``error``); ``verdict_shown`` the
    verdict in the order shown, ``verdict`` the same mapped back to the pair's own labels
    (1 = output_1, 2 = output_2, 0 = tie; None unless ok). The two orders of a pair share its
    ``pair_id``; ``extra`` carries the protocol's fields (prompt and template hashes, ...).

    >>> r = pairwise_record({"pair_id": "llmbar/Natural/3", "benchmark": "llmbar", "label": 1},
    ...                     order="ba", judge="j", judgment="Output (a)", status="ok",
    ...                     protocol="llmbar-vanilla", verdict_shown=1, verdict=2)
    >>> r["kind"], r["pair_id"], r["order"], r["verdict"], r["schema_version"], "model_a" in r
    ('pairwise', 'llmbar/Natural/3', 'ba', 2, 2, False)
    """
    return stamp({
        "kind": "pairwise", **{k: pair[k] for k in PAIR_KEYS if k in pair}, "order": order,
        "judge": judge, "judge_model_id": judge_model_id, "protocol": protocol,
        "judgment": judgment, "status": status, "verdict_shown": verdict_shown,
        "verdict": verdict, "fallback": fallback, "error": error,
        "request_hash": request_hash, "request": dict(request or {}),
        "usage": dict(usage or ZERO_USAGE), "latency_s": latency_s, "attempts": attempts,
        "cost_usd": cost_usd, **_reasoning("judge_", judge_reasoning), **extra})


def upgrade_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record of any schema version as the current version reads it: a judgment without a
    protocol is the official one's, an older protocol name is read as its current one, and
    a pairwise reply without a verdict, once ``format_error``, is ``parse_failed`` as in every
    stage.

    >>> upgrade_record({"judge": "j", "model": "m"})["protocol"]
    'alignbench-pointwise'
    >>> upgrade_record({"schema_version": 2, "judge": "j", "protocol": "pointwise_alignbench"})["protocol"]
    'alignbench-pointwise'
    >>> upgrade_record({"kind": "pairwise", "status": "format_error"})["status"]
    'parse_failed'
    >>> upgrade_record({"schema_version": 99})
    Traceback (most recent call last):
    ...
    alignbench_utils.errors.InputError: field 'schema_version': record schema version 99 is newer than this package reads (2); upgrade alignbench-utils
    """
    version = record.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise InputError(f"record schema version {version} is newer than this package reads "
                         f"({SCHEMA_VERSION}); upgrade alignbench-utils", field="schema_version")
    out = dict(record)
    if version == 1 and out.get("judge") and "protocol" not in out:
        out["protocol"] = DEFAULT_PROTOCOL
    if isinstance(out.get("protocol"), str):
        out["protocol"] = canonical_protocol(out["protocol"])
    if out.get("status") == "format_error":  # the pairwise stage's word before one vocabulary
        out["status"] = PARSE_FAILED
    return out
