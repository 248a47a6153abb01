"""Stage 2: have a judge score every answer with the official prompt, resumable.

The official script silently stores -1 when it cannot parse a judgment. Here an unparseable
output is re-asked (default twice) and, if it stays unparseable, recorded as ``parse_failed``
with the raw text, never averaged in.

Re-ask strategy (recorded as ``reask_strategy``): the judge runs at temperature 0, where the
same prompt usually gives the same output again, so a re-ask appends the unparseable output
as an assistant turn and a user turn reminding the exact score-dict format (built from the
question's dimensions), sent at temperature 0.3.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._version import __version__
from .client import CallError, EndpointClient, EndpointConfig, run_sync
from .errors import InputError
from .generate import (
    QUESTION_KEYS,
    RunSummary,
    drive,
    question_fields,
    raise_if_nothing_succeeded,
    reasoning_fields,
)
from .official import as_answer_record, fill_question_fields
from .parsing import parse_judgment
from .prompts import build_judge_prompt, sha256_text, template_sha256
from .store import RecordWriter, done_hashes, now_iso, read_numbered_records, request_hash
from .structured import MODES, request_params, score_keys

__all__ = [
    "REASK_STRATEGY",
    "REASK_TEMPERATURE",
    "format_reminder",
    "load_answers",
    "run_judging",
    "run_judging_async",
]

REASK_TEMPERATURE = 0.3
REASK_STRATEGY = f"followup_format_reminder@temperature={REASK_TEMPERATURE}"
_REMINDER = ("你的回答末尾缺少可解析的打分结果。请不要重复评价，只按照以下字典格式（包括括号）返回所有"
             "打分结果，并确保打分结果是1～10的整数：{example}")


def format_reminder(subcategory: str) -> str:
    """The follow-up turn of a re-ask, naming this question's dimensions.

    >>> format_reminder("翻译").endswith("'丰富度': 打分, '综合得分': 打分}")
    True
    """
    keys = score_keys(subcategory)
    return _REMINDER.format(example="{" + ", ".join(f"'{k}': 打分" for k in keys) + "}")


def load_answers(answers: str | os.PathLike | Iterable[dict[str, Any]], *,
                 questions: str | os.PathLike | None = "v1.1") -> list[dict[str, Any]]:
    """Answer records from a list, a store file, or a folder of ``*.jsonl`` files, checked.

    Official answer files (``model_id``) are converted; an answer that is empty or only
    whitespace becomes a failed answer. Question fields a record lacks (the reference of an
    official file) come from ``questions`` (a question source; None: none filled in).
    Every error names the real file and line.
    """
    if isinstance(answers, (str, os.PathLike)):
        path = Path(answers)
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        if not files:
            raise InputError("no *.jsonl answer files in folder", path=path)
        numbered = [(file, number, rec) for file in files
                    for number, rec in read_numbered_records(file)]
    else:
        numbered = [("answers", number, dict(rec)) for number, rec in enumerate(answers, 1)]
    by_id: dict[int, Any] | None = None
    out = []
    for file, number, rec in numbered:
        rec = as_answer_record(rec, path=file, line=number)
        if questions is not None and any(rec.get(k) is None for k in QUESTION_KEYS):
            if by_id is None:  # loaded only when a record lacks question fields
                from .data import load_questions

                by_id = {q["question_id"]: q for q in load_questions(questions)}
            fill_question_fields(rec, by_id, source=str(questions), path=file, line=number)
        try:
            question_fields(rec)
        except InputError as exc:
            hint = "" if questions is not None else (
                " (official answer files lack the reference: pass the question set, "
                "e.g. --questions v1.1)")
            raise InputError(exc.reason + hint, path=file, line=number,
                             field=exc.field) from None
        out.append(rec)
    return out


def _out_file(out_path: Path, model: str) -> Path:
    return out_path if out_path.suffix == ".jsonl" else out_path / f"{model}.jsonl"


async def run_judging_async(answers: str | os.PathLike | Iterable[dict[str, Any]],
                            endpoint: EndpointConfig, out_path: str | os.PathLike, *,
                            max_reasks: int = 2, structured: str = "none",
                            template: str | os.PathLike | None = None, max_tokens: int = 2048,
                            seed: int | None = None, questions: str | None = "v1.1",
                            progress: bool = True) -> RunSummary:
    """Judge answers into ``out_path``; see :func:`run_judging`."""
    started = time.monotonic()
    if structured not in MODES:
        raise InputError(f"unknown structured mode {structured!r}; allowed: {', '.join(MODES)}",
                         field="structured")
    if endpoint.is_reference:
        raise InputError("the reference pseudo-model cannot judge", field="judge")
    out_path = Path(out_path)
    records = load_answers(answers, questions=questions)
    summary = RunSummary("judge", endpoint.name)
    tsha = template_sha256(template)
    done: dict[Path, set[str]] = {}
    todo = []
    for ans in records:
        if ans.get("status", "ok") != "ok":
            summary.not_answered += 1
            continue
        target = _out_file(out_path, ans["model"])
        if target not in done:
            done[target] = done_hashes(target)
            summary.out_paths.append(str(target))
        prompt = build_judge_prompt(ans, ans["answer"], template=template)
        params = {"temperature": 0, "max_tokens": max_tokens,
                  **({"seed": seed} if seed is not None else {}),
                  **request_params(structured, ans["subcategory"])}
        messages = [{"role": "user", "content": prompt}]
        key = request_hash({"stage": "judge", "model": ans["model"],
                            "question_id": ans["question_id"], "judge_model": endpoint.model_id,
                            "messages": messages, "params": params, "template_sha256": tsha})
        if key in done[target]:
            summary.skipped += 1
        else:
            todo.append((ans, target, messages, params, key))

    writers = {target: RecordWriter(target) for target in done}
    try:
        async with EndpointClient(endpoint) as client:
            async def judge_one(item: tuple[Any, ...]) -> None:
                ans, target, messages, params, key = item
                usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
                attempts, reasks, history, latency = 0, 0, [], None
                parsed, error, raw, thinking = None, None, "", None
                turns = list(messages)
                for reask in range(max_reasks + 1):
                    call_params = dict(params)
                    if reask:
                        turns = [*messages, {"role": "assistant", "content": raw},
                                 {"role": "user", "content": format_reminder(ans["subcategory"])}]
                        call_params["temperature"] = REASK_TEMPERATURE
                        reasks += 1
                    try:
                        result = await client.chat(turns, **call_params)
                    except CallError as exc:
                        attempts += exc.attempts
                        error = str(exc)
                        break
                    attempts += result.attempts
                    usage = {k: usage[k] + result.usage[k] for k in usage}
                    latency = result.latency_s
                    if reask:
                        history.append(raw)
                    raw, thinking = result.text, result.reasoning
                    parsed = parse_judgment(raw)
                    if parsed.ok:
                        break
                cost = endpoint.cost(usage["prompt_tokens"], usage["completion_tokens"])
                summary.add_call(usage, attempts, cost)
                if error is not None:
                    outcome = {"status": "error", "score": None, "dimensions": {},
                               "error": error, "parse_method": None}
                    summary.failed += 1
                    summary.add_error(error)
                else:
                    outcome = parsed.to_dict()
                    if parsed.ok:
                        summary.done += 1
                    else:
                        summary.parse_failed += 1
                writers[target].append({
                    **question_fields(ans), "model": ans["model"], "answer": ans["answer"],
                    "answer_request_hash": ans.get("request_hash"),
                    "judge": endpoint.name, "judge_model_id": endpoint.model_id,
                    "judgment": raw, **outcome, "reasks": reasks,
                    "reask_strategy": REASK_STRATEGY, "judgment_history": history,
                    "prompt_sha256": sha256_text(messages[0]["content"]),
                    "template_sha256": tsha, "structured_output": structured,
                    "request_hash": key,
                    "request": {"temperature": params["temperature"], "max_tokens": max_tokens,
                                "seed": seed, "structured_output": structured},
                    "usage": usage, "latency_s": latency, "attempts": attempts,
                    "cost_usd": cost, **reasoning_fields(thinking, prefix="judge_"),
                    "package_version": __version__, "created_at": now_iso(),
                })

            await drive(todo, judge_one, workers=endpoint.concurrency,
                        desc=f"judge {endpoint.name}", progress=progress)
    finally:
        for writer in writers.values():
            writer.close()
    summary.wall_s = time.monotonic() - started
    raise_if_nothing_succeeded(summary, endpoint, statuses=("ok", "parse_failed"))
    return summary


def run_judging(answers: str | os.PathLike | Iterable[dict[str, Any]], endpoint: EndpointConfig,
                out_path: str | os.PathLike, *, max_reasks: int = 2, structured: str = "none",
                template: str | os.PathLike | None = None, max_tokens: int = 2048,
                seed: int | None = None, questions: str | None = "v1.1",
                progress: bool = True) -> RunSummary:
    """Judge answer records (a list, a store file or a folder of them) with ``endpoint``.

    ``out_path`` ending in ``.jsonl`` gets every judgment; otherwise it is a folder holding
    ``<model>.jsonl`` per answering model (``judgments/<judge>/`` in a run folder). Answers
    not ``ok`` are not judged and are counted in ``not_answered``. ``structured`` is
    ``"none"`` (official free text), ``"json_schema"`` or ``"grammar"`` (see
    :mod:`alignbench_utils.structured`). ``seed`` is sent with every request when given (it
    matters for re-asks, which sample). Official answer files are accepted; ``questions``
    (e.g. ``"v1.1"``) supplies the fields they lack. Works in scripts and inside Jupyter.
    """
    return run_sync(run_judging_async(answers, endpoint, out_path, max_reasks=max_reasks,
                                      structured=structured, template=template,
                                      max_tokens=max_tokens, seed=seed, questions=questions,
                                      progress=progress))
