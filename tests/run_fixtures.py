"""Small synthetic run folders for the notebook, plot and report tests.

Judgment records come from the package's record builder (alignbench_utils.data.records); scores
are drawn with a seeded generator (model skill + question difficulty + noise) so statistics
have something to find, and a few parse failures / errors carry raw text like real ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alignbench_utils import load_questions
from alignbench_utils.data.questions import write_jsonl
from alignbench_utils.data.records import judgment_record
from alignbench_utils.taxonomy import dimensions_for

SKILL = {"strong": 7.5, "weak": 5.0, "reference": 8.5}


def judgment_records(judge: str, models: dict[str, float] | None = None, per_category: int = 2,
                     seed: int = 0, n_failed: int = 1) -> list[dict[str, Any]]:
    """Records of one judge over ``models`` (name → mean skill) on a stratified subset."""
    models = models or SKILL
    questions = load_questions("v1.1", per_category=per_category, seed=0).to_list()
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1.0, len(questions))
    out = []
    for m_index, (model, skill) in enumerate(models.items()):
        for q_index, q in enumerate(questions):
            score = float(np.clip(np.round(skill - difficulty[q_index] + rng.normal(0, 1)), 1, 10))
            answer = "答：<b>要点</b>" + "这是一个回答。" * int(rng.integers(1, 30))
            dims = {name: float(np.clip(score + rng.integers(-1, 2), 1, 10))
                    for name in dimensions_for(q["subcategory"])}
            status = "ok"
            if m_index == 0 and q_index < n_failed:
                status = "parse_failed"
            elif m_index == 1 and q_index < n_failed:
                status = "error"
            judgment = (f"评分理由：回答基本正确。{dims}".replace('"', "'") if status == "ok"
                        else "The judge rambled without any score dict." if status != "error"
                        else "")
            answer_rec = {**q, "model": model, "answer": answer}
            out.append(judgment_record(
                answer_rec, judge=judge, judge_model_id=f"{judge}-id", judgment=judgment,
                status=status, score=score if status == "ok" else None,
                dimensions=dims if status == "ok" else {},
                error=None if status == "ok" else (
                    "no score dict found" if status == "parse_failed" else "HTTP 500"),
                prompt_sha256="0" * 64, template_sha256="1" * 64, structured_output="none",
                request_hash=f"{judge}-{model}-{q['question_id']}", request={"temperature": 0},
                usage={"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
                latency_s=0.1, attempts=1) | {"created_at": "2026-01-01T00:00:00+00:00"})
    return out


def shared_answer_records(judges: tuple[str, ...] = ("judge-a", "judge-b")) -> list[dict[str, Any]]:
    """Records of several judges over the same answers, as in a real run (seeds differ per
    judge), the first parse failure re-asked once."""
    records = [rec for index, judge in enumerate(judges)
               for rec in judgment_records(judge, seed=index)]
    answers = {(r["model"], r["question_id"]): r["answer"] for r in records}
    for rec in records:
        rec["answer"] = answers[rec["model"], rec["question_id"]]
    failed = next(r for r in records if r["status"] == "parse_failed")
    failed.update(reasks=1, judgment_history=["第一次输出：没有分数"], parse_method="none")
    return records


def write_run(run_dir: Path, judges: tuple[str, ...] = ("judge-a",), **kwargs: Any) -> Path:
    """Write judgments/<judge>/<model>.jsonl for each judge (seeds differ per judge)."""
    for index, judge in enumerate(judges):
        records = judgment_records(judge, seed=index, **kwargs)
        for model in sorted({r["model"] for r in records}):
            write_jsonl([r for r in records if r["model"] == model],
                        run_dir / "judgments" / judge / f"{model}.jsonl")
    return run_dir


def write_sampled_run(run_dir: Path) -> Path:
    """Judges a and b (two samples each) and c (one) over the same answers; a failed the
    strong model's first question in both samples."""
    for index, judge in enumerate(("a", "b", "c")):
        records = []
        for sample in range(1 if judge == "c" else 2):
            recs = judgment_records(judge, seed=10 * index + sample, n_failed=0)
            for rec in recs:
                rec["sample"] = sample
                rec["request_hash"] += f"-{sample}"
            records += recs
        if judge == "a":
            for rec in records:
                if rec["question_id"] == records[0]["question_id"] and rec["model"] == "strong":
                    rec.update(status="parse_failed", score=None)
        for model in sorted({r["model"] for r in records}):
            write_jsonl([r for r in records if r["model"] == model],
                        run_dir / "judgments" / judge / f"{model}.jsonl")
    return run_dir


def write_human_labels(path: Path, judge_records: list[dict[str, Any]], seed: int = 1) -> Path:
    """A CSV of human scores (question_id, model, human_score) close to the judge's."""
    rng = np.random.default_rng(seed)
    rows = [{"question_id": r["question_id"], "model": r["model"],
             "human_score": float(np.clip(r["score"] + rng.integers(-1, 2), 1, 10))}
            for r in judge_records if r["status"] == "ok"]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def cand_and_judge_config(run_dir: Path, report_dir: Path, base_url: str) -> dict[str, Any]:
    """A run YAML's data: model ``cand`` judged by ``j``, both at ``base_url``."""
    return {"name": "t", "output": {"run_dir": str(run_dir), "report_dir": str(report_dir)},
            "models": [{"name": "cand", "base_url": base_url, "model_id": "cand-id"}],
            "judges": [{"name": "j", "base_url": base_url, "model_id": "j-id"}]}
