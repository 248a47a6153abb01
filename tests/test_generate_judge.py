"""Both stages over real HTTP: never lose an item, never repeat a finished one."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from alignbench_utils import official_parse
from alignbench_utils.data.store import read_records
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.generate import StageFailedError, run_generation
from alignbench_utils.stages.judge import REASK_STRATEGY, run_judging
from alignbench_utils.taxonomy import temperature_for
from alignbench_utils.testing.fault_server import FaultServer, fake_score


def _endpoint(server: FaultServer, name: str = "m", **kw) -> EndpointConfig:
    kw = {"concurrency": 8, "backoff_base_s": 0.02, "max_retries": 2, "timeout_s": 5, **kw}
    return EndpointConfig(name=name, base_urls=[server.base_url], model_id=f"{name}-id", **kw)


def _one_per_question(path: Path, questions: list[dict]) -> list[dict]:
    """Check that the final records cover each question once; return all lines."""
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    finals = read_records(path)
    assert sorted(r["question_id"] for r in finals) == sorted(q["question_id"] for q in questions)
    return lines


def test_generation_records_and_rerun_sends_nothing(fault_server, questions16, tmp_path):
    out = tmp_path / "m.jsonl"
    summary = run_generation(questions16, _endpoint(fault_server), out, progress=False)
    assert (summary.done, summary.failed, summary.skipped) == (16, 0, 0)
    lines = _one_per_question(out, questions16)
    assert len(lines) == 16
    rec = lines[0]
    assert rec["status"] == "ok" and rec["answer"] and rec["model"] == "m"
    assert rec["request"]["temperature"] == temperature_for(rec["category"])
    assert rec["usage"]["total_tokens"] > 0 and rec["attempts"] == 1
    assert {"request_hash", "latency_s", "package_version", "created_at", "reference"} <= set(rec)
    fault_server.reset()
    again = run_generation(questions16, _endpoint(fault_server), out, progress=False)
    assert (again.done, again.skipped) == (0, 16) and fault_server.stats["total"] == 0


def test_empty_answers_reasked_then_error_then_retried_on_rerun(fault_server, questions16,
                                                                 tmp_path):
    out = tmp_path / "m.jsonl"
    fault_server.configure(empty_rate=1.0)
    with pytest.raises(StageFailedError, match=r"all 4 requests failed.*empty answer \(4×\)"):
        run_generation(questions16[:4], _endpoint(fault_server), out, progress=False,
                       max_empty_retries=3)
    assert fault_server.stats["total"] == 16
    assert {r["error"] for r in read_records(out)} == {"empty answer"}
    fault_server.configure(empty_rate=0.0)
    fault_server.reset()
    rerun = run_generation(questions16[:4], _endpoint(fault_server), out, progress=False)
    assert rerun.done == 4 and fault_server.stats["total"] == 4
    assert {r["status"] for r in read_records(out)} == {"ok"}


def test_5xx_and_timeouts_never_lose_an_item(fault_server, questions16, tmp_path):
    out = tmp_path / "m.jsonl"
    fault_server.configure(error_rate=0.4, hang_rate=0.1, hang_s=3)
    summary = run_generation(questions16, _endpoint(fault_server, timeout_s=0.3), out,
                             progress=False)
    lines = _one_per_question(out, questions16)
    assert len(lines) == 16 and summary.done + summary.failed == 16
    assert all(r["error"] and r["answer"] == "" for r in lines if r["status"] == "error")
    fault_server.configure(error_rate=0.0, hang_rate=0.0)
    run_generation(questions16, _endpoint(fault_server), out, progress=False)
    _one_per_question(out, questions16)
    assert all(r["status"] == "ok" for r in read_records(out))


def test_reference_control_makes_no_calls(questions16, tmp_path):
    out = tmp_path / "reference.jsonl"
    summary = run_generation(questions16, EndpointConfig.reference(), out, progress=False)
    assert summary.done == 16 and summary.requests == 0
    assert all(r["answer"] == r["reference"] for r in read_records(out))


def test_sixty_four_concurrent_20kb_answers_are_valid_lines(fault_server, tmp_path):
    from alignbench_utils import load_questions

    questions = load_questions("v1.1", per_category=12, seed=1).to_list()[:96]
    fault_server.configure(answer_bytes=20_000, latency=0.02)
    out = tmp_path / "m.jsonl"
    run_generation(questions, _endpoint(fault_server, concurrency=64), out, progress=False)
    lines = _one_per_question(out, questions)
    assert len(lines) == 96 and all(len(r["answer"].encode()) >= 20_000 for r in lines)


def _answers(server: FaultServer, questions: list[dict], tmp_path: Path) -> Path:
    folder = tmp_path / "answers"
    run_generation(questions, _endpoint(server, "cand"), folder / "cand.jsonl", progress=False)
    server.reset()
    return folder


def test_judging_scores_and_rerun_sends_nothing(fault_server, questions16, tmp_path):
    answers = _answers(fault_server, questions16, tmp_path)
    out = tmp_path / "judgments" / "j"
    summary = run_judging(answers, _endpoint(fault_server, "j"), out, progress=False)
    assert (summary.done, summary.parse_failed, summary.failed) == (16, 0, 0)
    recs = read_records(out / "cand.jsonl")
    assert all(r["score"] == fake_score(r["answer"]) for r in recs)
    rec = recs[0]
    assert rec["judge"] == "j" and rec["model"] == "cand" and rec["structured_output"] == "none"
    assert rec["dimensions"] and rec["request"]["temperature"] == 0
    assert len(rec["prompt_sha256"]) == len(rec["template_sha256"]) == 64
    fault_server.reset()
    again = run_judging(answers, _endpoint(fault_server, "j"), out, progress=False)
    assert again.skipped == 16 and fault_server.stats["total"] == 0


def test_malformed_output_reasked_then_parse_failed_with_raw(fault_server, questions16,
                                                              tmp_path):
    answers = _answers(fault_server, questions16[:3], tmp_path)
    fault_server.configure(malformed_rate=1.0)
    out = tmp_path / "j.jsonl"
    summary = run_judging(answers, _endpoint(fault_server, "j"), out, max_reasks=2,
                          progress=False)
    assert summary.parse_failed == 3 and fault_server.stats["total"] == 9
    for rec in read_records(out):
        assert rec["status"] == "parse_failed" and rec["score"] is None
        assert "不打分" in rec["judgment"] and rec["reasks"] == 2
        assert rec["reask_strategy"] == REASK_STRATEGY and len(rec["judgment_history"]) == 2


def test_some_malformed_outputs_recover_on_reask(fault_server, questions16, tmp_path):
    answers = _answers(fault_server, questions16, tmp_path)
    fault_server.configure(malformed_rate=0.5, seed=3)
    out = tmp_path / "j.jsonl"
    run_judging(answers, _endpoint(fault_server, "j"), out, max_reasks=4, progress=False)
    recs = read_records(out)
    assert any(r["status"] == "ok" and r["reasks"] > 0 for r in recs)


def test_structured_json_schema_is_parsed(fault_server, questions16, tmp_path):
    answers = _answers(fault_server, questions16, tmp_path)
    out = tmp_path / "j.jsonl"
    for mode in ("json_schema", "grammar"):
        summary = run_judging(answers, _endpoint(fault_server, "j"), out, structured=mode,
                              progress=False)
        assert summary.done == 16
    recs = read_records(out)
    assert Counter(r["structured_output"] for r in recs) == {"json_schema": 16, "grammar": 16}
    assert all(json.loads(r["judgment"])["综合得分"] == r["score"] for r in recs
               if r["structured_output"] == "json_schema")
    assert all(official_parse(r["judgment"])[1] == r["score"] for r in recs
               if r["structured_output"] == "grammar")  # critique, then the official dict


def test_answers_not_ok_are_skipped_and_counted(fault_server, questions16, tmp_path):
    answers = read_records(_answers(fault_server, questions16[:4], tmp_path) / "cand.jsonl")
    answers[0] = {**answers[0], "status": "error", "answer": ""}
    summary = run_judging(answers, _endpoint(fault_server, "j"), tmp_path / "j", progress=False)
    assert (summary.done, summary.not_answered) == (3, 1)


def test_sync_entry_point_inside_a_running_loop(fault_server, questions16, tmp_path):
    async def notebook_cell():  # ipykernel runs cells inside a live event loop
        return run_generation(questions16[:2], _endpoint(fault_server), tmp_path / "m.jsonl",
                              progress=False)

    assert asyncio.run(notebook_cell()).done == 2
