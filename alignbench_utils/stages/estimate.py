"""``alignbench estimate``: what a run will send and cost, before anything is sent.

Per model and per judge × model it counts the requests still to make (the same tasks the
stages plan, minus those already recorded in the run folder) and their tokens:

- **input** from the real prompts (:mod:`tokens` approximates a tokenizer). A judge's prompt
  holds the answer: recorded answers are used as they are; an answer not recorded yet is
  estimated at the answering model's mean completion tokens in past records, else at its
  ``max_tokens`` (an upper bound); the ``input_basis`` column says which;
- **output** twice: the ``max_tokens`` bound, and the mean completion tokens of past records
  of the same endpoint (same model id, in this run folder or its sibling runs) when any;
- **cost** from the endpoint's price table, batch discount included for ``backend: batch``.

The pairwise leaderboard (``pairwise:``, role ``pairwise``, one row per model against the
baseline) and the judge meta-evaluation (``judge_eval:``, role ``judge_eval``, one row per judge
and benchmark) get rows of their own, from the prompts those stages will send (an answer not
recorded yet is estimated as above); their output is bounded by the protocol's
``max_tokens``. ``spent_usd`` is what the endpoint has spent in the whole run (every stage),
the figure its ``budget_usd`` is checked against.

Not counted: re-asks of unreadable judgments and retries of failed requests (both only
happen after something went wrong). ``benchmarks/estimate_check.py`` compares an estimate
with the tokens a real run against the fault server is billed.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alignbench_utils.config import LOCAL, JudgeSpec, ModelSpec, RunConfig, load_config
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import read_records
from alignbench_utils.errors import InputError
from alignbench_utils.running.accounting import endpoint_cost, folder_spend
from alignbench_utils.running.client import EndpointConfig, endpoint_from_spec
from alignbench_utils.running.engine import RunSummary, plan
from alignbench_utils.running.tokens import message_tokens
from alignbench_utils.stages.generate import generation_tasks
from alignbench_utils.stages.judge import judging_tasks, spec_protocol

Spend = dict[str, dict[str, dict]]  # spend_by_endpoint: role -> endpoint -> totals

__all__ = [
    "EstimateRow",
    "PastOutputs",
    "billed_tokens",
    "compare_estimate",
    "estimate_frame",
    "estimate_run",
    "format_estimate",
]

LOCAL_PLACEHOLDER_URL = "http://local.invalid/v1"  # the embedded server's URL is not known yet


@dataclass
class EstimateRow:
    """What one model (``role="model"``) or one judge on one model's answers will cost."""

    role: str
    name: str
    answers_of: str
    backend: str
    requests: int
    recorded: int
    input_tokens: int
    output_tokens_bound: int
    output_tokens_expected: int | None
    cost_bound_usd: float | None
    cost_expected_usd: float | None
    spent_usd: float | None
    budget_usd: float | None
    input_basis: str
    output_basis: str


class PastOutputs:
    """Completion tokens of past ok records, by role and model id: in ``run_dir`` and in
    the run folders beside it (``runs/*``), read once."""

    def __init__(self, run_dir: Path) -> None:
        self.tokens: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.where: dict[tuple[str, str], set[str]] = defaultdict(set)
        parent = run_dir.parent
        files = [*parent.glob("*/answers/*.jsonl"), *parent.glob("*/judgments/*/*.jsonl")]
        for file in sorted(files):
            try:
                records = read_records(file)
            except InputError as exc:  # another run's broken file must not stop an estimate
                warnings.warn(f"past records not used: {exc}", RuntimeWarning, stacklevel=2)
                continue
            for rec in records:
                usage = rec.get("usage") or {}
                if rec.get("status") != "ok" or not usage.get("completion_tokens"):
                    continue
                key = (("judge", rec.get("judge_model_id")) if rec.get("judge")
                       else ("model", rec.get("model_id")))
                self.tokens[key].append(int(usage["completion_tokens"]))
                self.where[key].add(file.relative_to(parent).parts[0])

    def mean(self, role: str, model_id: str) -> tuple[float | None, str]:
        """Mean completion tokens and where they come from (None: no past records)."""
        values = self.tokens.get((role, model_id))
        if not values:
            return None, ""
        runs = ", ".join(sorted(self.where[(role, model_id)]))
        return sum(values) / len(values), f"mean of {len(values)} past records ({runs})"


def _endpoint(spec: ModelSpec, data: dict[str, Any], config: RunConfig) -> EndpointConfig:
    """The endpoint a stage will use; ``local`` gets the registered model's id (what the
    request hashes hold) and a placeholder URL (nothing is sent)."""
    if spec.base_url == LOCAL:
        from alignbench_utils.local.local_models import model_spec

        data = {**data, "base_url": LOCAL_PLACEHOLDER_URL,
                "model_id": spec.model_id or model_spec(config.local.model).model_id}
    return endpoint_from_spec(data, config.concurrency)


def _row(role: str, name: str, answers_of: str, endpoint: EndpointConfig, *, requests: int,
         recorded: int, input_tokens: int, max_tokens: int, past: float | None,
         past_basis: str, input_basis: str, spent: float | None) -> EstimateRow:
    bound = requests * max_tokens
    expected = round(requests * past) if past is not None else None
    return EstimateRow(
        role=role, name=name, answers_of=answers_of, backend=endpoint.backend,
        requests=requests, recorded=recorded, input_tokens=input_tokens,
        output_tokens_bound=bound, output_tokens_expected=expected,
        cost_bound_usd=endpoint.cost(input_tokens, bound),
        cost_expected_usd=endpoint.cost(input_tokens, expected) if expected is not None
        else None, spent_usd=spent, budget_usd=endpoint.budget_usd, input_basis=input_basis,
        output_basis=past_basis or f"no past records: max_tokens {max_tokens} per request")


def _model_rows(config: RunConfig, questions: list[dict[str, Any]], past: PastOutputs,
                spend: Spend) -> tuple[list[EstimateRow], dict[str, dict[str, Any]]]:
    """One row per answering model, and each model's answers as a judge will see them."""
    layout = RunLayout(config.run_dir)
    rows, answers = [], {}
    for spec, data in zip(config.models, config.to_dict()["models"], strict=True):
        endpoint = _endpoint(spec, data, config)
        target = layout.answers_file(spec.name)
        recorded = read_records(target) if target.is_file() else []
        ok = {r["question_id"]: r for r in recorded if r.get("status") == "ok"}
        sampling = spec.sampling
        tasks = generation_tasks(questions, endpoint, target, max_tokens=sampling.max_tokens,
                                 temperature=sampling.temperature,
                                 system_prompt=sampling.system_prompt, seed=sampling.seed)
        summary = RunSummary("estimate", spec.name)
        todo = plan(tasks, summary)
        mean, basis = past.mean("model", endpoint.model_id)
        reference = endpoint.is_reference
        answers[spec.name] = {"ok": list(ok.values()), "missing": [
            q for q in questions if q["question_id"] not in ok],
            "answer_tokens": None if reference else (mean if mean is not None
                                                     else float(sampling.max_tokens)),
            "answer_basis": "the reference answers" if reference else (
                basis or f"max_tokens {sampling.max_tokens} (upper bound)")}
        if reference:  # copies reference answers: no request, no cost
            rows.append(_row("model", spec.name, "", endpoint, requests=0,
                             recorded=summary.skipped, input_tokens=0, max_tokens=0,
                             past=None, past_basis="reference control: no requests",
                             input_basis="reference control: no requests", spent=None))
            continue
        rows.append(_row(
            "model", spec.name, "", endpoint, requests=len(todo), recorded=summary.skipped,
            input_tokens=sum(message_tokens(t.request["messages"]) for t in todo),
            max_tokens=sampling.max_tokens, past=mean, past_basis=basis,
            input_basis="the questions (and system prompt)",
            spent=endpoint_cost(spend, spec.name)))
    return rows, answers


def _judge_rows(config: RunConfig, spec: JudgeSpec, data: dict[str, Any],
                answers: dict[str, dict[str, Any]], past: PastOutputs,
                spend: Spend) -> list[EstimateRow]:
    """One row per answering model for judge ``spec``."""
    layout = RunLayout(config.run_dir)
    endpoint = _endpoint(spec, data, config)
    protocol = spec_protocol(spec)  # as judge.judge_models runs it
    folder = layout.judge_dir(spec.name, protocol.name)
    mean, basis = past.mean("judge", endpoint.model_id)
    spent = endpoint_cost(spend, spec.name)
    rows = []
    for model, known in answers.items():
        summary = RunSummary("estimate", spec.name)
        todo = plan(judging_tasks(known["ok"], protocol, endpoint, folder, summary,
                                  samples=spec.samples), summary)
        tokens = sum(message_tokens(t.request.messages) for t in todo)
        for question in known["missing"]:
            answer = question["reference"] if known["answer_tokens"] is None else ""
            request = protocol.request({**question, "model": model, "answer": answer})
            tokens += spec.samples * (message_tokens(request.messages)
                                      + round(known["answer_tokens"] or 0))
        input_basis = (f"{len(todo)} recorded answers" + (
            f", {len(known['missing'])} answers not yet recorded, estimated from "
            f"{known['answer_basis']}" if known["missing"] else ""))
        rows.append(_row("judge", config.judge_identity(spec), model, endpoint,
                         requests=len(todo) + spec.samples * len(known["missing"]),
                         recorded=summary.skipped,
                         input_tokens=tokens, max_tokens=spec.sampling.max_tokens, past=mean,
                         past_basis=basis, input_basis=input_basis, spent=spent))
    return rows


def _pairwise_rows(config: RunConfig, answers: dict[str, dict[str, Any]],
                   spend: Spend) -> list[EstimateRow]:
    """One row per model against the baseline for the ``pairwise:`` judge (both orders, as
    :func:`pairwise_leaderboard.compare_with_baseline` sends them)."""
    from alignbench_utils.stages.compare import answer_pairs, pairwise_protocol, pairwise_tasks

    spec, judge = config.pairwise, config.pairwise_judge
    assert spec is not None and judge is not None
    layout = RunLayout(config.run_dir)
    endpoint = _endpoint(judge, asdict(judge), config)
    protocol = pairwise_protocol(spec.protocol, orders=spec.orders,
                                 max_tokens=judge.sampling.max_tokens, seed=judge.sampling.seed)
    stand_ins, estimated = [], {}  # answers as the judge will see them; tokens not yet known
    for model, known in answers.items():
        stand_ins += known["ok"]
        for question in known["missing"]:
            reference = known["answer_tokens"] is None
            stand_ins.append({**question, "model": model, "status": "ok",
                              "answer": question["reference"] if reference else ""})
            estimated[(model, question["question_id"])] = round(known["answer_tokens"] or 0)
    rows = []
    for model in answers:
        if model == spec.baseline:
            continue
        summary = RunSummary("estimate", judge.name)
        todo = plan(pairwise_tasks(answer_pairs(stand_ins, pairs=[(model, spec.baseline)]),
                                   protocol, endpoint, layout.comparisons_dir, summary), summary)
        tokens = sum(message_tokens(t.request.messages)
                     + estimated.get((model, t.item["question_id"]), 0)
                     + estimated.get((spec.baseline, t.item["question_id"]), 0) for t in todo)
        max_tokens = int(todo[0].request.params["max_tokens"]) if todo else 0
        rows.append(_row("pairwise", judge.name, f"{model} vs {spec.baseline}", endpoint,
                         requests=len(todo), recorded=summary.skipped, input_tokens=tokens,
                         max_tokens=max_tokens, past=None, past_basis="",
                         input_basis=f"the {protocol.name} prompts of {len(todo)} requests "
                         "(pairs × orders); answers not yet recorded as for the judges",
                         spent=endpoint_cost(spend, judge.name)))
    return rows


def _judge_eval_rows(config: RunConfig, spend: Spend) -> list[EstimateRow]:
    """One row per judge and benchmark of the ``judge_eval:`` section (as
    :func:`judge_eval.run_judge_eval_stage` sends them)."""
    from alignbench_utils.stages.compare import benchmark_pairs, pairwise_protocol, pairwise_tasks
    from alignbench_utils.stages.judge_eval import select_items

    spec = config.judge_eval
    assert spec is not None
    layout = RunLayout(config.run_dir)
    pairs = {name: benchmark_pairs(select_items([name], per_subset=spec.per_subset,
                                                seed=spec.seed)) for name in spec.benchmarks}
    rows = []
    for judge in config.judge_eval_judges:
        endpoint = _endpoint(judge, asdict(judge), config)
        protocol = pairwise_protocol(spec.protocol, template=spec.template, orders=spec.orders,
                                     seed=judge.sampling.seed,
                                     logit_bias_model=spec.logit_bias_model)
        for name, items in pairs.items():
            summary = RunSummary("estimate", judge.name)
            todo = plan(pairwise_tasks(items, protocol, endpoint, layout.judge_eval_dir,
                                       summary), summary)
            max_tokens = int(todo[0].request.params["max_tokens"]) if todo else 0
            rows.append(_row("judge_eval", judge.name, name, endpoint, requests=len(todo),
                             recorded=summary.skipped,
                             input_tokens=sum(message_tokens(t.request.messages) for t in todo),
                             max_tokens=max_tokens, past=None, past_basis="",
                             input_basis=f"the {protocol.name} prompts of {len(items)} items",
                             spent=endpoint_cost(spend, judge.name)))
    return rows


def estimate_run(config: RunConfig | str | os.PathLike) -> list[EstimateRow]:
    """The estimate of every stage of a run (a config or its YAML path): per model, per
    judge × model, and for ``pairwise:`` and ``judge_eval:`` when the run has them."""
    from alignbench_utils.data.questions import question_rows

    config = config if isinstance(config, RunConfig) else load_config(config)
    ds = config.dataset
    questions = question_rows(ds.source, categories=ds.categories or None,
                              per_category=ds.per_category or None, seed=ds.seed)
    past = PastOutputs(config.run_dir)
    spend = folder_spend(RunLayout(config.run_dir).stage_dirs.values())  # read once
    rows, answers = _model_rows(config, questions, past, spend)
    for spec, data in zip(config.judges, config.to_dict()["judges"], strict=True):
        rows += _judge_rows(config, spec, data, answers, past, spend)
    if config.pairwise is not None:
        rows += _pairwise_rows(config, answers, spend)
    if config.judge_eval is not None:
        rows += _judge_eval_rows(config, spend)
    return rows


def estimate_frame(rows: list[EstimateRow]) -> Any:
    """The rows as a DataFrame (one per model and per judge × model)."""
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in rows])


def format_estimate(rows: list[EstimateRow], config_name: str) -> str:
    """The table ``alignbench estimate`` prints, with totals and what each figure rests on."""
    columns = ["role", "name", "answers_of", "backend", "requests", "recorded", "input_tokens",
               "output_tokens_bound", "output_tokens_expected", "cost_bound_usd",
               "cost_expected_usd", "spent_usd", "budget_usd"]
    money = {"cost_bound_usd", "cost_expected_usd", "spent_usd", "budget_usd"}
    cells = [[("–" if value is None else f"${value:.4f}" if column in money else str(value))
              for column, value in ((c, getattr(r, c)) for c in columns)] for r in rows]
    widths = [max(len(text) for text in [column, *(row[i] for row in cells)])
              for i, column in enumerate(columns)]
    table = "\n".join(" ".join(text.rjust(width) for text, width in zip(row, widths, strict=True))
                      for row in [columns, *cells])  # printed without pandas: a lean command
    lines = [f"estimate of run {config_name} (nothing sent):", table, ""]
    costs = [r.cost_bound_usd for r in rows if r.cost_bound_usd is not None]
    expected = [r.cost_expected_usd for r in rows if r.cost_expected_usd is not None]
    lines.append(f"total: {sum(r.requests for r in rows)} requests, "
                 f"{sum(r.input_tokens for r in rows)} input tokens, "
                 f"{sum(r.output_tokens_bound for r in rows)} output tokens at most"
                 + (f", cost at most ${sum(costs):.4f}" if costs else "")
                 + (f", expected ${sum(expected):.4f} where past records exist"
                    if expected else ""))
    lines.append("basis:")
    lines += [f"  {r.role} {r.name}{' on ' + r.answers_of if r.answers_of else ''}: input "
              f"{r.input_basis}; output {r.output_basis}" for r in rows]
    lines.append("tokens are estimated from characters (alignbench_utils.running.tokens, calibrated on "
                 "the Qwen2.5 tokenizer); re-asks and retries are not counted; endpoints "
                 "without a price table show no cost.")
    return "\n".join(lines)


def billed_tokens(run_dir: str | os.PathLike) -> dict[tuple[str, str, str], dict[str, int]]:
    """Requests and tokens the endpoints billed, from a run folder's records, keyed like the
    estimate's rows: ``(role, name, answers_of)``."""
    from alignbench_utils.data.store import read_records_under
    from alignbench_utils.running.accounting import owner

    layout = RunLayout(run_dir)
    out: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"records": 0, "input_tokens": 0, "output_tokens": 0})
    for folder in (layout.answers_dir, layout.judgments_dir):
        for rec in read_records_under(folder) if folder.is_dir() else []:
            role, name = owner(rec)
            totals = out[(role, name, str(rec.get("model")) if role == "judge" else "")]
            usage = rec.get("usage") or {}
            totals["records"] += 1
            totals["input_tokens"] += int(usage.get("prompt_tokens") or 0)
            totals["output_tokens"] += int(usage.get("completion_tokens") or 0)
    return dict(out)


def compare_estimate(rows: list[EstimateRow],
                     before: dict[tuple[str, str, str], dict[str, int]],
                     after: dict[tuple[str, str, str], dict[str, int]]) -> Any:
    """Estimate against what a run then billed (``after`` minus ``before``, from
    :func:`billed_tokens`): one row per estimate row, errors in percent of the billed."""
    import pandas as pd

    def error(estimated: float | None, billed: int) -> float | None:
        return None if estimated is None or not billed else 100.0 * (estimated - billed) / billed

    out = []
    for row in rows:
        key = (row.role, row.name, row.answers_of)
        zero = {"records": 0, "input_tokens": 0, "output_tokens": 0}
        billed = {k: after.get(key, zero)[k] - before.get(key, zero)[k] for k in zero}
        expected_total = (row.input_tokens + row.output_tokens_expected
                          if row.output_tokens_expected is not None else None)
        out.append({
            "role": row.role, "name": row.name, "answers_of": row.answers_of,
            "requests_estimated": row.requests, "records_written": billed["records"],
            "input_estimated": row.input_tokens, "input_billed": billed["input_tokens"],
            "input_error_pct": error(row.input_tokens, billed["input_tokens"]),
            "output_expected": row.output_tokens_expected,
            "output_billed": billed["output_tokens"],
            "output_error_pct": error(row.output_tokens_expected, billed["output_tokens"]),
            "total_error_pct": error(expected_total,
                                     billed["input_tokens"] + billed["output_tokens"])})
    return pd.DataFrame(out)
