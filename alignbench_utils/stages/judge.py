"""Stage 2: have a judge judge every answer under a judging protocol, resumable.

The official script silently stores -1 when it cannot parse a judgment. Here an unparseable
output is re-asked (as the protocol says; default once) and, if it stays unparseable,
recorded as ``parse_failed`` with every raw text, never averaged in. The protocol (what is
asked, how the reply is read, how to re-ask) is picked by name; the official pointwise one
(:mod:`alignbench_utils.protocols.pointwise_alignbench`) is the default; MT-Bench's
single-answer grading (``mtbench-single``) is the other one shipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignbench_utils.backends import Backend, open_backend
from alignbench_utils.config import DEFAULT_CONCURRENCY, JudgeSpec, Sampling, parse_spec
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.official import as_answer_record, fill_question_fields
from alignbench_utils.data.records import QUESTION_KEYS, judgment_record, question_fields
from alignbench_utils.data.store import read_numbered_records, request_hash
from alignbench_utils.errors import InputError
from alignbench_utils.protocols import (
    DEFAULT_PROTOCOL,
    JudgingProtocol,
    ProtocolSettings,
    get_protocol,
)
from alignbench_utils.protocols.pointwise_alignbench import (
    REASK_STRATEGY,
    REASK_TEMPERATURE,
    format_reminder,
)
from alignbench_utils.running.client import EndpointConfig, endpoint_from_spec, run_sync
from alignbench_utils.running.engine import RunSummary, Task, run_tasks
from alignbench_utils.stages.asking import ask

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REASK_STRATEGY",
    "REASK_TEMPERATURE",
    "format_reminder",
    "judge_models",
    "judging_protocol",
    "judging_tasks",
    "load_answers",
    "run_judging",
    "run_judging_async",
    "spec_protocol",
]


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
                from alignbench_utils.data.questions import question_rows

                by_id = {q["question_id"]: q for q in question_rows(questions)}
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


def judging_tasks(answers: Iterable[dict[str, Any]], protocol: JudgingProtocol,
                  endpoint: EndpointConfig, out_dir: Path,
                  summary: RunSummary, *, samples: int = JudgeSpec.samples) -> list[Task]:
    """``samples`` tasks per ok answer (repeated judgments; sample i is sent with the seed +
    i, see :meth:`JudgingProtocol.for_sample`), into ``out_dir/<model>.jsonl``; answers not
    ok are counted in ``summary.not_answered``, never judged. Sample 0 keeps the request
    hash of a single judgment, so adding samples to a judged run sends only the new ones.

    Tasks come sample by sample (every answer's sample 0, then every sample 1, ...): the
    samples of one answer share their whole prompt, and sent side by side each would be
    evaluated in full; one pass apart, a server's prompt cache (llama.cpp, vLLM, SGLang)
    serves the later ones. Each pass takes the models in the reverse order of the pass
    before (questions keep theirs), so it starts with the prompts the server cached last
    (``benchmarks/prompt_cache.py``: half the second pass's prompt tokens)."""
    if samples < 1:
        raise InputError(f"samples must be >= 1, got {samples}", field="samples")
    answered = []
    for ans in answers:
        if ans.get("status", "ok") != "ok":
            summary.not_answered += 1
        else:
            answered.append(ans)
    models = list(dict.fromkeys(ans["model"] for ans in answered))
    tasks = []
    for sample in range(samples):
        judging = protocol.for_sample(sample)
        rank = {model: i for i, model in enumerate(models[::-1] if sample % 2 else models)}
        for ans in sorted(answered, key=lambda a: rank[a["model"]]):
            req = judging.request(ans)
            key = request_hash({"stage": "judge", "model": ans["model"],
                                "question_id": ans["question_id"],
                                "judge_model": endpoint.model_id, "messages": req.messages,
                                "params": req.params, **req.hash_fields,
                                **({"sample": sample} if sample else {})})
            tasks.append(Task(key=key, target=out_dir / f"{ans['model']}.jsonl",
                              item={**ans, "sample": sample} if sample else ans, request=req))
    return tasks


async def _judge(task: Task, backend: Backend, *, protocol: JudgingProtocol,
                 max_reasks: int) -> dict[str, Any]:
    """Judge one answer, re-asking while the reply cannot be read."""
    ans, first = task.item, task.request
    out = await ask(protocol, backend, ans, first, max_reasks=max_reasks)
    endpoint = backend.endpoint
    outcome = ({"status": "error", "score": None, "dimensions": {}, "error": out.error,
                "parse_method": None} if out.reading is None
               else {"status": out.reading.status, **out.reading.record_fields()})
    return judgment_record(
        ans, judge=endpoint.name, judge_model_id=endpoint.model_id, protocol=protocol.name,
        judgment=out.raw, **outcome, reasks=out.reasks, reask_strategy=protocol.reask_strategy,
        judgment_history=out.history, **first.record_fields, request_hash=task.key,
        usage=out.usage, latency_s=out.latency_s, attempts=out.attempts,
        cost_usd=endpoint.cost(out.usage["prompt_tokens"], out.usage["completion_tokens"]),
        judge_reasoning=out.reasoning, sample=ans.get("sample", 0))


def judging_protocol(name: str = DEFAULT_PROTOCOL, settings: ProtocolSettings | None = None,
                     **options: Any) -> JudgingProtocol:
    """The pointwise protocol registered as ``name`` with its settings (or keyword options,
    see its ``settings_class``); a pairwise one is an error pointing to judge-eval."""
    cls = get_protocol(name)
    if cls.kind != "pointwise":
        raise InputError(f"protocol {name!r} is {cls.kind}: use `alignbench judge-eval` "
                         "(alignbench_utils.stages.compare) for it", field="protocol")
    return cls(settings) if settings is not None else cls(**options)


def spec_protocol(spec: JudgeSpec) -> JudgingProtocol:
    """The protocol of a run's judge entry, with the entry's options: ``sampling.max_tokens``
    and ``seed`` for every protocol, ``structured`` and ``template`` where they were set (a
    protocol without such an option refuses them)."""
    return judging_protocol(spec.protocol, **_options(
        max_tokens=spec.sampling.max_tokens, seed=spec.sampling.seed,
        structured=spec.structured, template=spec.template))


def _options(*, max_tokens: int, seed: int | None, structured: str,
             template: str | os.PathLike | None) -> dict[str, Any]:
    """Protocol options from the judge settings; ``structured`` and ``template`` only when
    set, so a protocol without them is not handed their defaults."""
    return {"max_tokens": max_tokens, "seed": seed,
            **({"structured": structured} if structured != JudgeSpec.structured else {}),
            **({"template": template} if template is not None else {})}


async def run_judging_async(answers: str | os.PathLike | Iterable[dict[str, Any]],
                            endpoint: EndpointConfig, out_path: str | os.PathLike, *,
                            max_reasks: int = JudgeSpec.max_reasks, structured: str = "none",
                            template: str | os.PathLike | None = None,
                            max_tokens: int = Sampling.max_tokens, seed: int | None = None,
                            questions: str | None = "v1.1",
                            protocol: str | JudgingProtocol = DEFAULT_PROTOCOL,
                            samples: int = JudgeSpec.samples,
                            progress: bool = True) -> RunSummary:
    """Judge answers into ``out_path``; see :func:`run_judging`. ``protocol`` may be a
    protocol object already built (then the option arguments are not used)."""
    if isinstance(protocol, JudgingProtocol):
        judging = protocol
    else:
        judging = judging_protocol(protocol, **_options(
            max_tokens=max_tokens, seed=seed, structured=structured, template=template))
    backend = open_backend(endpoint)
    if not backend.can_judge:
        raise InputError(f"the {endpoint.backend} backend cannot judge", field="judge")
    records = load_answers(answers, questions=questions)
    judged = sorted({str(rec.get("model")) for rec in records})  # named in the summary line
    summary = RunSummary("judge", f"{endpoint.name} on {', '.join(judged) or 'no answers'}")
    out_path = Path(out_path)
    tasks = judging_tasks(records, judging, endpoint,
                          out_path if out_path.suffix != ".jsonl" else out_path.parent, summary,
                          samples=samples)
    if out_path.suffix == ".jsonl":  # one file for every model's judgments
        for task in tasks:
            task.target = out_path

    async def work(task: Task, backend: Backend) -> dict[str, Any]:
        return await _judge(task, backend, protocol=judging, max_reasks=max_reasks)

    return await run_tasks(tasks, backend, work, summary=summary, progress=progress,
                           done_statuses=("ok", "parse_failed"))


def judge_models(specs: Iterable[dict[str, Any]], run_dir: str | os.PathLike, *,
                 models: Iterable[str] = (), concurrency: int = DEFAULT_CONCURRENCY,
                 progress: bool = False) -> pd.DataFrame:
    """Judge the answers of ``models`` (default: every ``answers/*.jsonl``) with every judge
    entry of a run config (dicts, as notebook 02 gets them) into ``judgments/<judge>/``;
    prints one summary line per judge (naming the models) and returns them as a table."""
    import pandas as pd

    layout = RunLayout(run_dir)
    files = ([layout.answers_file(m) for m in models] if models
             else sorted(layout.answers_dir.glob("*.jsonl")))
    # every model's answers in one stage per judge: one summary line naming the models; each
    # pass (judging_tasks) sent in file then dataset order, which keeps the same question's
    # prompts of two models apart, so the second reuses the first's cached prefix
    answers = [rec for path in files for rec in load_answers(path)]
    summaries = []
    for index, data in enumerate(specs):
        spec = parse_spec(JudgeSpec, data, where=f"judges[{index}]")
        protocol = spec_protocol(spec)
        print(f"judge {spec.name} ({protocol.name}): template sha256 "
              f"{protocol.template_sha256}", flush=True)
        summary = run_sync(run_judging_async(
            answers, endpoint_from_spec(data, concurrency),
            layout.judge_dir(spec.name, protocol.name), max_reasks=spec.max_reasks,
            protocol=protocol, samples=spec.samples, progress=progress))
        print(summary.one_line(), flush=True)
        summaries.append(summary.to_dict() | {"answers": ", ".join(p.stem for p in files)})
    return pd.DataFrame(summaries).drop(columns=["stage", "out_paths", "errors"])


def run_judging(answers: str | os.PathLike | Iterable[dict[str, Any]], endpoint: EndpointConfig,
                out_path: str | os.PathLike, *, max_reasks: int = JudgeSpec.max_reasks,
                structured: str = "none", template: str | os.PathLike | None = None,
                max_tokens: int = Sampling.max_tokens, seed: int | None = None,
                questions: str | None = "v1.1",
                protocol: str | JudgingProtocol = DEFAULT_PROTOCOL,
                samples: int = JudgeSpec.samples, progress: bool = True) -> RunSummary:
    """Judge answer records (a list, a store file or a folder of them) with ``endpoint``.

    ``out_path`` is a folder that gets ``<model>.jsonl`` per answering model
    (``judgments/<judge>/`` in a run folder); a path ending in ``.jsonl`` is one file for
    every judgment instead. Answers not ``ok`` are not judged and are counted in
    ``not_answered``. ``protocol`` names the judging protocol (default: the official
    pointwise one; or a protocol object with its settings, :func:`judging_protocol`);
    ``structured`` is ``"none"`` (official free text), ``"json_schema"`` or ``"grammar"``
    (see :mod:`alignbench_utils.protocols.structured`). ``seed`` is sent with every
    request when given (it matters for re-asks, which sample). Official answer files are
    accepted; ``questions`` (e.g. ``"v1.1"``) supplies the fields they lack. ``samples``
    judges each answer that many times (records carry ``sample``; sample i is sent with
    ``seed + i``, so a seed is needed for more than one). Raises
    :class:`~alignbench_utils.running.engine.StageFailedError` when every request failed. Works in
    scripts and inside Jupyter.
    """
    return run_sync(run_judging_async(answers, endpoint, out_path, max_reasks=max_reasks,
                                      structured=structured, template=template,
                                      max_tokens=max_tokens, seed=seed, questions=questions,
                                      protocol=protocol, samples=samples,
                                      progress=progress))
