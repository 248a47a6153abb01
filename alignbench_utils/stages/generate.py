"""Stage 1: ask a model every question, one record per question, resumable.

Every question ends with exactly one final record (``ok`` or ``error``), never lost: a failing
item is recorded and the run goes on. A rerun skips questions already answered (by request
hash) and retries only the errors. Temperatures follow the official per-category table
unless one is given. The endpoint's backend decides how the question is asked: ``http``
for a real model, ``reference`` for the reference-answer control (no HTTP call; see
``EndpointConfig.reference()``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignbench_utils.backends import Backend, open_backend
from alignbench_utils.config import DEFAULT_CONCURRENCY, ModelSpec, Sampling, parse_spec
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.records import ZERO_USAGE, answer_record, question_fields
from alignbench_utils.data.store import read_records, request_hash
from alignbench_utils.errors import InputError
from alignbench_utils.running.client import (
    CallError,
    CallResult,
    EndpointConfig,
    endpoint_from_spec,
    run_sync,
)
from alignbench_utils.running.engine import RunSummary, StageFailedError, Task, drive, run_tasks
from alignbench_utils.taxonomy import temperature_for

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RunSummary",
    "StageFailedError",
    "answer_request",
    "answers_overview",
    "drive",
    "generate_models",
    "generation_tasks",
    "question_fields",
    "run_generation",
    "run_generation_async",
]

MAX_TOKENS = Sampling.max_tokens


def answer_request(question: dict[str, Any], model_id: str, *, max_tokens: int = MAX_TOKENS,
                   temperature: float | None = None, system_prompt: str | None = None,
                   seed: int | None = None) -> dict[str, Any]:
    """The chat request for one question (official temperature for its category by default).

    ``seed`` is sent to the endpoint (OpenAI, vLLM, SGLang and llama.cpp honour it) so that
    sampled answers can be reproduced; ``None`` sends none.

    >>> r = answer_request({"category": "数学计算", "question": "1+1=?"}, "m", seed=0)
    >>> r["temperature"], r["seed"], r["messages"]
    (0.1, 0, [{'role': 'user', 'content': '1+1=?'}])
    """
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": question["question"]})
    request = {"model": model_id, "messages": messages,
               "temperature": temperature_for(question["category"]) if temperature is None
               else temperature, "max_tokens": max_tokens}
    return request | ({"seed": seed} if seed is not None else {})


def _sampling_params(request: dict[str, Any]) -> dict[str, Any]:
    """The request minus model and messages: what is sent beside them and recorded."""
    return {k: v for k, v in request.items() if k not in ("messages", "model")}


async def _answer(task: Task, backend: Backend, *, max_empty_retries: int,
                  system_prompt: str | None) -> dict[str, Any]:
    """Ask one question; an empty answer is asked again, then recorded as an error."""
    question, request = task.item, task.request
    attempts, result, error = 0, None, "empty answer"
    usage = dict(ZERO_USAGE)
    for _ in range(max_empty_retries + 1):
        try:
            result = await backend.complete(request["messages"], _sampling_params(request),
                                            item=question)
        except CallError as exc:
            attempts += exc.attempts
            error, result = str(exc), None
            break
        attempts += result.attempts
        usage = {k: usage[k] + result.usage[k] for k in usage}
        if result.text.strip():
            break
    ok = isinstance(result, CallResult) and bool(result.text.strip())
    endpoint = backend.endpoint
    recorded = _sampling_params(request) | ({"system_prompt": system_prompt}
                                            if system_prompt else {})
    return answer_record(
        question, model=endpoint.name, model_id=endpoint.model_id,
        request_hash=task.key, request=recorded, answer=result.text if ok else "",
        status="ok" if ok else "error", error=None if ok else error, usage=usage,
        latency_s=result.latency_s if ok else None, attempts=attempts,
        finish_reason=result.finish_reason if ok else None,
        cost_usd=endpoint.cost(usage["prompt_tokens"], usage["completion_tokens"]),
        reasoning=result.reasoning if result else None)


def generation_tasks(questions: Iterable[dict[str, Any]], endpoint: EndpointConfig,
                     target: Path, *, max_tokens: int = MAX_TOKENS,
                     temperature: float | None = None, system_prompt: str | None = None,
                     seed: int | None = None) -> list[Task]:
    """One task per question, keyed by the hash of its request, into the store ``target``
    (what a run sends, and what ``alignbench estimate`` counts)."""
    tasks = []
    for q in questions:
        request = answer_request(q, endpoint.model_id, max_tokens=max_tokens,
                                 temperature=temperature, system_prompt=system_prompt, seed=seed)
        key = request_hash({"stage": "answer", "question_id": q["question_id"], **request})
        tasks.append(Task(key=key, target=target, item=q, request=request))
    return tasks


async def run_generation_async(questions: Iterable[dict[str, Any]], endpoint: EndpointConfig,
                               out_path: str | os.PathLike, *, max_tokens: int = MAX_TOKENS,
                               temperature: float | None = None,
                               system_prompt: str | None = None, seed: int | None = None,
                               max_empty_retries: int = 3, progress: bool = True) -> RunSummary:
    """Answer every question into the store file ``out_path``; see :func:`run_generation`."""
    rows = [dict(q) for q in questions]
    for number, q in enumerate(rows, start=1):
        try:
            question_fields(q)
        except InputError as exc:
            raise InputError(exc.reason, path="questions", line=number, field=exc.field) from None
    tasks = generation_tasks(rows, endpoint, Path(out_path), max_tokens=max_tokens,
                             temperature=temperature, system_prompt=system_prompt, seed=seed)

    async def work(task: Task, backend: Backend) -> dict[str, Any]:
        return await _answer(task, backend, max_empty_retries=max_empty_retries,
                             system_prompt=system_prompt)

    summary = RunSummary("generate", endpoint.name)
    return await run_tasks(tasks, open_backend(endpoint), work, summary=summary,
                           progress=progress, done_statuses=("ok",))


def generate_models(questions: Iterable[dict[str, Any]], specs: Iterable[dict[str, Any]],
                    run_dir: str | os.PathLike, *, concurrency: int = DEFAULT_CONCURRENCY,
                    progress: bool = False) -> pd.DataFrame:
    """Answer the questions with every model entry of a run config (dicts, as notebook 01
    gets them) into ``answers/<model>.jsonl``; prints one summary line per model and
    returns the summaries as a table."""
    import pandas as pd

    layout, rows = RunLayout(run_dir), list(questions)
    summaries = []
    for index, data in enumerate(specs):
        spec = parse_spec(ModelSpec, data, where=f"models[{index}]")
        sampling = spec.sampling
        summary = run_generation(rows, endpoint_from_spec(data, concurrency),
                                 layout.answers_file(spec.name), max_tokens=sampling.max_tokens,
                                 temperature=sampling.temperature,
                                 system_prompt=sampling.system_prompt, seed=sampling.seed,
                                 progress=progress)
        print(summary.one_line(), flush=True)
        summaries.append(summary.to_dict())
    return pd.DataFrame(summaries).drop(columns=["stage", "out_paths", "errors"])


def answers_overview(run_dir: str | os.PathLike, models: Iterable[str]) -> pd.DataFrame:
    """Records and mean answer length per model and status (every record in the store,
    this run and earlier ones)."""
    import pandas as pd

    layout = RunLayout(run_dir)
    answers = pd.DataFrame([rec for model in models
                            for rec in read_records(layout.answers_file(model))])
    answers["answer_chars"] = answers["answer"].fillna("").str.len()
    return answers.groupby(["model", "status"]).agg(
        records=("question_id", "size"), mean_chars=("answer_chars", "mean")).round(1)


def run_generation(questions: Iterable[dict[str, Any]], endpoint: EndpointConfig,
                   out_path: str | os.PathLike, *, max_tokens: int = MAX_TOKENS,
                   temperature: float | None = None, system_prompt: str | None = None,
                   seed: int | None = None, max_empty_retries: int = 3,
                   progress: bool = True) -> RunSummary:
    """Answer every question (a ``datasets.Dataset`` or list of dicts) into the store file
    ``out_path`` (``answers/<model>.jsonl`` in a run folder).

    ``temperature=None`` uses the official per-category temperature; ``seed`` is sent with
    every request when given (see :func:`answer_request`). An empty answer is
    re-asked up to ``max_empty_retries`` times, then recorded as error ``"empty answer"``.
    A reasoning model's thinking is kept in ``reasoning``, apart from the answer. Raises
    :class:`StageFailedError` when every request failed. Works in scripts and inside Jupyter
    (see :func:`run_sync`).
    """
    return run_sync(run_generation_async(
        questions, endpoint, Path(out_path), max_tokens=max_tokens, temperature=temperature,
        system_prompt=system_prompt, seed=seed, max_empty_retries=max_empty_retries,
        progress=progress))
