"""The pairwise stage: judge pairs of responses under a pairwise protocol, both orders by
default, resumable.

LLM judges favour a position, so each pair is judged as (A, B) and as (B, A) unless its
protocol says otherwise (PandaLM judges one order); the verdict on the swapped order is mapped
back to the pair's own labels, and each order is one record (built by
:func:`~alignbench_utils.data.records.pairwise_record`) holding its raw reply; the pair id links
the two. A reply without a verdict is a ``parse_failed`` record with its raw text, never a
guess. Each (pair, order) is one task of the engine, so resume, faults, rate limits and the
store behave exactly as for pointwise judging (a rerun costs zero calls).

Pairs come from a judge meta-evaluation benchmark (:func:`benchmark_pairs`, from an items
frame) or from two models' answers to the same AlignBench questions (:func:`answer_pairs`).
Records become the judgebench **verdicts frame** (:func:`verdicts_from_records`, for
:mod:`alignbench_utils.judgebench` metrics) or the stats **comparisons frame**
(:func:`comparisons_from_records`, for :mod:`alignbench_utils.analysis.stats.pairwise`).
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from alignbench_utils.analysis.aggregate import judge_identities
from alignbench_utils.backends import Backend, open_backend
from alignbench_utils.data.layout import pairwise_file
from alignbench_utils.data.records import pairwise_record, upgrade_record
from alignbench_utils.data.store import read_records_under, request_hash
from alignbench_utils.errors import InputError
from alignbench_utils.judgebench.frame import verdicts_frame
from alignbench_utils.judgebench.verdicts import map_back
from alignbench_utils.protocols import PROTOCOLS, get_protocol
from alignbench_utils.protocols.base import PARSE_FAILED
from alignbench_utils.protocols.pairwise import PairwiseProtocol
from alignbench_utils.running.client import EndpointConfig, run_sync
from alignbench_utils.running.engine import RunSummary, Task, run_tasks
from alignbench_utils.stages.asking import ask

__all__ = [
    "WINNERS",
    "answer_pairs",
    "benchmark_pairs",
    "comparisons_from_records",
    "pair_stem",
    "pairwise_protocol",
    "pairwise_tasks",
    "run_pairwise",
    "run_pairwise_async",
    "unreadable_stage",
    "verdicts_from_records",
]

WINNERS = {1: "a", 2: "b", 0: "tie"}  # a verdict on the pair → the comparisons frame's winner
_VERDICT_KEY = ["judge", "protocol", "benchmark", "subset", "item_id", "order"]


def pairwise_protocol(name: str, **options: Any) -> PairwiseProtocol:
    """The pairwise protocol registered as ``name``, with its options (see
    :class:`~alignbench_utils.protocols.pairwise.PairwiseProtocol`)."""
    cls = get_protocol(name)
    if cls.kind != "pairwise":
        pairwise = sorted(n for n, c in PROTOCOLS.items() if c.kind == "pairwise")
        raise InputError(f"protocol {name!r} is {cls.kind}, not pairwise; pairwise protocols: "
                         f"{', '.join(pairwise)}", field="protocol")
    return cls(**options)  # type: ignore[return-value]


def benchmark_pairs(items: pd.DataFrame) -> list[dict[str, Any]]:
    """The pairs of a judgebench items frame; ``pair_id`` is ``benchmark/subset/item_id``.

    >>> from alignbench_utils.judgebench import load_benchmark
    >>> p = benchmark_pairs(load_benchmark("llmbar:Natural").head(1))[0]
    >>> p["pair_id"], p["label"], p["reference"]
    ('llmbar/Natural/0', 1, None)
    """
    pairs = []
    for row in items.to_dict("records"):
        label = row["label"]
        pairs.append({
            "pair_id": f"{row['benchmark']}/{row['subset']}/{row['item_id']}",
            "benchmark": row["benchmark"], "subset": row["subset"], "item_id": row["item_id"],
            "label": None if pd.isna(label) else int(label),
            "group": None if pd.isna(row["group"]) else row["group"],
            "instruction": row["instruction"], "input": row["input"],
            "output_1": row["output_1"], "output_2": row["output_2"],
            "reference": row.get("reference") if isinstance(row.get("reference"), str) else None})
    return pairs


def answer_pairs(answers: Iterable[dict[str, Any]], *,
                 pairs: Sequence[tuple[str, str]] | None = None,
                 baseline: str | None = None) -> list[dict[str, Any]]:
    """Pairs of two models' answer records to the same question.

    Which models meet: ``pairs`` (``(model_a, model_b)`` each), else every other model against
    ``baseline`` (as ``(model, baseline)``), else every pair of models in the order first seen.
    A pair is made for each question both models answered; when either answer is not ok it is
    marked ``answers_ok: False`` (counted, never judged). ``len_a``/``len_b`` are the answers'
    characters (for length control).
    """
    by_model: dict[str, dict[Any, dict[str, Any]]] = {}
    for answer in answers:
        by_model.setdefault(answer["model"], {})[answer["question_id"]] = answer
    models = list(by_model)
    if pairs is None:
        pairs = ([(m, baseline) for m in models if m != baseline] if baseline is not None
                 else list(itertools.combinations(models, 2)))
    unknown = sorted({m for pair in pairs for m in pair} - set(models))
    if unknown or (baseline is not None and baseline not in models):
        raise InputError(f"no answers of models {unknown or [baseline]}; answers are of "
                         f"{models}", field="models")
    out = []
    for model_a, model_b in pairs:
        if model_a == model_b:
            raise InputError(f"a model cannot be compared with itself: {model_a!r}",
                             field="models")
        for qid, a in by_model[model_a].items():
            b = by_model[model_b].get(qid)
            if b is None:
                continue
            out.append({
                "pair_id": f"{qid}:{model_a}:{model_b}", "question_id": qid,
                "category": a["category"], "subcategory": a["subcategory"],
                "instruction": a["question"], "input": "", "reference": a.get("reference"),
                "output_1": a["answer"], "output_2": b["answer"],
                "model_a": model_a, "model_b": model_b,
                "answer_request_hash_a": a.get("request_hash"),
                "answer_request_hash_b": b.get("request_hash"),
                "len_a": len(a["answer"] or ""), "len_b": len(b["answer"] or ""),
                "answers_ok": a.get("status", "ok") == "ok" and b.get("status", "ok") == "ok"})
    return out


def pair_stem(pair: dict[str, Any]) -> str:
    """The store file stem of a pair: ``<benchmark>__<subset>`` or ``<model_a>__<model_b>``.

    >>> pair_stem({"benchmark": "llmbar", "subset": "Natural"})
    'llmbar__Natural'
    >>> pair_stem({"model_a": "x", "model_b": "y"})
    'x__y'
    """
    if "benchmark" in pair:
        return f"{pair['benchmark']}__{pair['subset']}"
    return f"{pair['model_a']}__{pair['model_b']}"


def pairwise_tasks(pairs: Iterable[dict[str, Any]], protocol: PairwiseProtocol,
                   endpoint: EndpointConfig, out_dir: str | os.PathLike,
                   summary: RunSummary) -> list[Task]:
    """One task per pair and order of the protocol, into
    :func:`~alignbench_utils.data.layout.pairwise_file`; pairs whose answers are not ok are counted
    in ``summary.not_answered``. A pair the protocol cannot fill (e.g. no reference) fails here,
    before any call."""
    tasks = []
    for pair in pairs:
        if not pair.get("answers_ok", True):
            summary.not_answered += 1
            continue
        target = pairwise_file(out_dir, endpoint.name, protocol.name, pair_stem(pair))
        for order in protocol.orders:
            item = {**pair, "order": order}
            req = protocol.request(item)
            key = request_hash({"stage": "pairwise", "judge_model": endpoint.model_id,
                                "messages": req.messages, "params": req.params,
                                **req.hash_fields})
            tasks.append(Task(key=key, target=target, item=item, request=req))
    return tasks


async def _judge_pair(task: Task, backend: Backend, *, protocol: PairwiseProtocol,
                      max_reasks: int) -> dict[str, Any]:
    """Judge one pair in one order, re-asking as the protocol says (the shipped pairwise
    protocols do not); the record keeps the raw reply whatever it holds."""
    item, req, endpoint = task.item, task.request, backend.endpoint
    common = {"order": item["order"], "judge": endpoint.name,
              "judge_model_id": endpoint.model_id, "protocol": protocol.name,
              "request_hash": task.key, **req.record_fields}
    out = await ask(protocol, backend, item, req, max_reasks=max_reasks)
    if out.reading is None:
        return pairwise_record(item, judgment="", status="error", error=out.error,
                               usage=out.usage, attempts=out.attempts, **common)
    reading, usage = out.reading, out.usage
    return pairwise_record(
        item, judgment=out.raw, status=reading.status, verdict_shown=reading.verdict,
        verdict=map_back(reading.verdict, item["order"]),
        fallback=reading.fields.get("fallback", False), error=reading.error, usage=usage,
        latency_s=out.latency_s, attempts=out.attempts, finish_reason=out.finish_reason,
        cost_usd=endpoint.cost(usage["prompt_tokens"], usage["completion_tokens"]),
        judge_reasoning=out.reasoning,
        **({"reasks": out.reasks, "judgment_history": out.history} if out.reasks else {}),
        **common)


async def run_pairwise_async(pairs: Iterable[dict[str, Any]], endpoint: EndpointConfig,
                             out_dir: str | os.PathLike, *, protocol: PairwiseProtocol,
                             stage: str = "pairwise", name: str | None = None,
                             max_reasks: int = 1, progress: bool = True) -> RunSummary:
    """Judge ``pairs`` into ``out_dir``; see :func:`run_pairwise`."""
    backend = open_backend(endpoint)
    if not backend.can_judge:
        raise InputError(f"the {endpoint.backend} backend cannot judge", field="judge")
    summary = RunSummary(stage, name or endpoint.name)
    tasks = pairwise_tasks(pairs, protocol, endpoint, out_dir, summary)

    async def work(task: Task, backend: Backend) -> dict[str, Any]:
        return await _judge_pair(task, backend, protocol=protocol, max_reasks=max_reasks)

    return await run_tasks(tasks, backend, work, summary=summary, progress=progress,
                           done_statuses=("ok", "parse_failed"))


def run_pairwise(pairs: Iterable[dict[str, Any]], endpoint: EndpointConfig,
                 out_dir: str | os.PathLike, *, protocol: PairwiseProtocol,
                 stage: str = "pairwise", name: str | None = None, max_reasks: int = 1,
                 progress: bool = True) -> RunSummary:
    """Judge ``pairs`` (:func:`benchmark_pairs`, :func:`answer_pairs`) with ``endpoint`` under
    ``protocol`` (:func:`pairwise_protocol`) into
    ``out_dir/<judge>/<protocol>/<stem>.jsonl`` (:func:`pair_stem`), in the protocol's orders.
    A reply the protocol cannot read is re-asked as it says, at most ``max_reasks`` times (the
    shipped pairwise protocols do not re-ask). A rerun skips every (pair, order) already done (``ok`` or ``parse_failed``); ``error``
    records (the endpoint failed) are retried. Raises
    :class:`~alignbench_utils.running.engine.StageFailedError` when every request failed. Works in
    scripts and inside Jupyter.
    """
    return run_sync(run_pairwise_async(pairs, endpoint, out_dir, protocol=protocol,
                                       stage=stage, name=name, max_reasks=max_reasks,
                                       progress=progress))


def unreadable_stage(summary: RunSummary, *, judge: str, protocol: str) -> str | None:
    """What to say when not one reply in the stage's store files could be read under the
    protocol (every record ``parse_failed``): a judge that never follows the protocol's
    format, whose tables would rest on nothing. None when some reply was read (or none came).
    """
    records = [r for path in summary.out_paths for r in _records(path)]
    unreadable = [r for r in records if r.get("status") == PARSE_FAILED]
    if not unreadable or any(r.get("status") == "ok" for r in records):
        return None
    reply, count = Counter(str(r.get("judgment") or "") for r in unreadable).most_common(1)[0]
    return (f"{summary.stage} {summary.name!r}: all {len(unreadable)} replies of judge "
            f"{judge!r} under protocol {protocol!r} are unreadable (parse_failed: no verdict in "
            f"the protocol's format); most common reply ({count}×): {reply[:200]!r}")


def _records(source: str | os.PathLike | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pairwise records as the current schema reads them (older status and protocol names)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        source = read_records_under(path) if path.exists() else []
    return [upgrade_record(record) for record in source]


def verdicts_from_records(source: str | os.PathLike | Iterable[dict[str, Any]]
                          ) -> pd.DataFrame:
    """The judgebench verdicts frame of pairwise records (a folder, a file or a list) of
    benchmark pairs; ``raw`` is the judge's reply, ``protocol``, ``judge_model_id``,
    ``error``, ``latency_s`` and ``finish_reason`` are kept. A judge recorded under several
    protocols is named ``judge/protocol`` per protocol (as in the judgments frame); a (pair,
    order) recorded more than once (settings changed between runs) counts with its last
    record.
    """
    rows = [r for r in _records(source) if r.get("kind") == "pairwise" and "benchmark" in r]
    if not rows:
        return verdicts_frame([])
    frame = pd.DataFrame(rows)
    frame["item_id"] = frame["item_id"].astype(str)
    frame = frame.drop_duplicates(_VERDICT_KEY, keep="last")
    frame["judge"] = judge_identities(frame["judge"], frame["protocol"])
    extras = [c for c in ("protocol", "judge_model_id", "error", "latency_s", "finish_reason")
              if c in frame]
    out = frame[["judge", "benchmark", "subset", "item_id", "order", "verdict", "status",
                 "judgment", "fallback", *extras]].rename(columns={"judgment": "raw"})
    return verdicts_frame(out.reset_index(drop=True))


def comparisons_from_records(source: str | os.PathLike | Iterable[dict[str, Any]], *,
                             judge: str | None = None) -> pd.DataFrame:
    """The stats comparisons frame (:mod:`alignbench_utils.analysis.stats.pairwise`) of pairwise records
    of AlignBench answers: ``question_id, category, model_a, model_b, order, status, winner``
    (``a``/``b``/``tie``, None unless ok), ``len_a, len_b``, plus ``judge, protocol, raw``.
    Records of several judges need ``judge``; a (pair, order) recorded more than once counts
    with its last record.
    """
    rows = [r for r in _records(source) if r.get("kind") == "pairwise" and "model_a" in r]
    columns = ["question_id", "category", "model_a", "model_b", "order", "status", "winner",
               "len_a", "len_b", "judge", "protocol", "raw"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    if judge is not None:
        frame = frame[frame["judge"].eq(judge)]
    elif frame["judge"].nunique() > 1:
        raise ValueError(f"records of several judges {sorted(frame['judge'].unique())}: pass "
                         "judge=")
    frame = frame.drop_duplicates(["question_id", "model_a", "model_b", "order"], keep="last")
    frame["winner"] = frame["verdict"].map(WINNERS).where(frame["status"].eq("ok"))
    frame = frame.rename(columns={"judgment": "raw"})
    return frame[columns].reset_index(drop=True)
