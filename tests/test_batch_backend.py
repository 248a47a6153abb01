"""The batch backend against the fault server's /v1/files and /v1/batches: the same records
as over HTTP, failed items and expired or cancelled batches resubmitted, a client killed
mid-batch that picks its batch up again, splitting at the provider's limit, re-asks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from alignbench_utils.cli import main
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import read_records
from alignbench_utils.running.budget import BudgetExceededError
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.running.engine import StageFailedError
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import run_judging
from alignbench_utils.testing.fault_server import FaultServer

QUICK = {"poll_s": 0.05, "collect_s": 0.05}


def endpoint(server: FaultServer, name: str, backend: str = "batch", *,
             batch: dict[str, Any] | None = None, **settings: Any) -> EndpointConfig:
    """An endpoint of the fault server; ``batch`` options go over the quick polling ones."""
    return EndpointConfig(name, [server.base_url], f"{name}-id", backend=backend, max_retries=1,
                          batch=QUICK | (batch or {}), **settings)


def outcomes(path: Path) -> dict[str, tuple]:
    """request hash → what a record says (status, text, score), without timings."""
    return {r["request_hash"]: (r["status"], r.get("answer"), r.get("judgment"), r.get("score"),
                                r["usage"]["prompt_tokens"]) for r in read_records(path)}


def state_events(store_file: Path) -> list[dict]:
    path = RunLayout.batch_state_file(store_file)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_batch_run_writes_the_records_an_http_run_writes(fault_server, questions16,
                                                           tmp_path):
    for backend in ("http", "batch"):
        run = RunLayout(tmp_path / backend)
        run_generation(questions16, endpoint(fault_server, "cand", backend),
                       run.answers_file("cand"), progress=False)
        run_judging(run.answers_dir, endpoint(fault_server, "j", backend), run.judge_dir("j"),
                    progress=False)
    http, batch = RunLayout(tmp_path / "http"), RunLayout(tmp_path / "batch")
    for path in (Path("answers/cand.jsonl"), Path("judgments/j/cand.jsonl")):
        expected = outcomes(http.run_dir / path)
        assert len(expected) == 16 and outcomes(batch.run_dir / path) == expected
    stats = fault_server.stats
    assert stats["total"] == 32  # chat requests: the HTTP run only
    assert stats["batch"]["batches_created"] == 2 and stats["batch"]["batch_requests"] == 32
    events = state_events(batch.answers_file("cand"))
    assert [e["event"] for e in events] == ["prepared", "uploaded", "submitted", "ended"]
    assert len(events[0]["requests"]) == 16 and events[3]["status"] == "completed"
    assert all(r["attempts"] == 1 for r in read_records(batch.answers_file("cand")))


def test_failed_items_are_retried_in_later_batches_then_recorded(fault_server, questions16,
                                                                 tmp_path):
    fault_server.configure(error_rate=0.5)
    target = tmp_path / "answers" / "cand.jsonl"
    summary = run_generation(questions16, endpoint(fault_server, "cand", batch={"max_attempts": 2}),
                             target, progress=False)
    records = read_records(target)
    errors = [r for r in records if r["status"] == "error"]
    assert errors and summary.failed == len(errors) < 16
    assert all("HTTP 500" in r["error"] and "gave up after 2 batch submissions" in r["error"]
               for r in errors)
    assert any(r["status"] == "ok" and r["attempts"] == 2 for r in records)
    assert fault_server.stats["batch"]["max_submissions"] == 2

    fault_server.configure(error_rate=0.0)
    fault_server.reset()
    run_generation(questions16, endpoint(fault_server, "cand"), target, progress=False)
    assert all(r["status"] == "ok" for r in read_records(target))
    assert fault_server.stats["batch"]["batch_requests"] == len(errors)  # only the errors


def test_an_expired_batch_resubmits_what_it_left_unfinished(fault_server, questions16,
                                                            tmp_path):
    fault_server.configure(batch_expire=1)
    target = tmp_path / "answers" / "cand.jsonl"
    run_generation(questions16, endpoint(fault_server, "cand"), target, progress=False)
    records = read_records(target)
    assert all(r["status"] == "ok" for r in records)
    assert sorted(r["attempts"] for r in records) == [1] * 8 + [2] * 8
    batch = fault_server.stats["batch"]
    assert batch["batches_created"] == 2 and batch["batch_requests"] == 16 + 8
    assert [e["status"] for e in state_events(target) if e["event"] == "ended"] == [
        "expired", "completed"]


def test_a_cancelled_batch_is_resubmitted(fault_server, questions16, tmp_path):
    fault_server.configure(batch_latency=30.0)
    target = tmp_path / "answers" / "cand.jsonl"
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(run_generation(
        questions16, endpoint(fault_server, "cand"), target, progress=False)))
    worker.start()
    deadline = time.monotonic() + 20
    while fault_server.stats["batch"].get("batches_created", 0) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    fault_server.configure(batch_latency=0.0)
    request = urllib.request.Request(f"{fault_server.base_url}/batches/batch-000001/cancel",
                                     data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert json.load(reply)["status"] == "cancelling"
    worker.join(timeout=30)
    assert done and all(r["status"] == "ok" for r in read_records(target))
    assert fault_server.stats["batch"]["batches_created"] == 2
    assert [e["status"] for e in state_events(target) if e["event"] == "ended"] == [
        "cancelled", "completed"]


def test_kill_9_mid_batch_then_rerun_polls_the_same_batch(fault_server, tmp_path):
    fault_server.configure(batch_latency=3.0)
    out = tmp_path / "answers"
    args = ["generate", "--per-category", "2", "--model", "cand", "--base-url",
            fault_server.base_url, "--model-id", "cand-id", "--out", str(out), "--backend",
            "batch", "--batch-poll-s", "0.05", "--batch-collect-s", "0.05", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "alignbench_utils.cli", *args],
                            env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    state, deadline = RunLayout.batch_state_file(out / "cand.jsonl"), time.monotonic() + 30
    while not (state.is_file() and b'"submitted"' in state.read_bytes()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert read_records(out / "cand.jsonl") == []  # killed while the batch ran
    assert main(args) == 0
    records = read_records(out / "cand.jsonl")
    assert len(records) == 16 and all(r["status"] == "ok" for r in records)
    batch = fault_server.stats["batch"]
    assert batch["uploads"] == batch["batches_created"] == 1  # nothing submitted twice
    assert batch["batch_requests"] == 16 and batch["max_submissions"] == 1
    assert fault_server.stats["total"] == 0


def test_a_batch_created_but_not_recorded_is_found_by_its_metadata(fault_server, questions16,
                                                                   tmp_path):
    """As if killed between creating the batch and writing its id: the rerun finds it among
    the provider's batches instead of submitting again."""
    fault_server.configure(batch_latency=1.0)
    target = tmp_path / "answers" / "cand.jsonl"
    with pytest.raises(StageFailedError, match="still in_progress after 0.2 s"):
        run_generation(questions16, endpoint(fault_server, "cand", batch={"max_wait_s": 0.2}),
                       target, progress=False)
    state = RunLayout.batch_state_file(target)
    state.write_text("".join(line + "\n" for line in state.read_text().splitlines()
                             if '"submitted"' not in line), encoding="utf-8")
    run_generation(questions16, endpoint(fault_server, "cand"), target, progress=False)
    assert all(r["status"] == "ok" for r in read_records(target))
    batch = fault_server.stats["batch"]
    assert batch["batches_created"] == 1 and batch["lists"] >= 1
    assert [e["event"] for e in state_events(target)].count("submitted") == 1


def test_large_runs_are_split_at_the_providers_request_limit(fault_server, questions16,
                                                             tmp_path):
    fault_server.configure(batch_max_requests=5)
    target = tmp_path / "split" / "cand.jsonl"
    run_generation(questions16, endpoint(fault_server, "cand", batch={"max_requests": 5}), target,
                   progress=False)
    assert all(r["status"] == "ok" for r in read_records(target))
    assert fault_server.stats["batch"]["batches_created"] == 4  # 5 + 5 + 5 + 1

    fault_server.reset()
    with pytest.raises(StageFailedError, match="more than the limit 5"):
        run_generation(questions16, endpoint(fault_server, "cand"),
                       tmp_path / "unsplit" / "cand.jsonl", progress=False)
    assert fault_server.stats["batch"]["batches_created"] == 3  # batch.max_attempts


def test_judge_reasks_go_into_the_next_batch(fault_server, questions16, tmp_path):
    run = RunLayout(tmp_path)
    run_generation(questions16, endpoint(fault_server, "cand", "http"),
                   run.answers_file("cand"), progress=False)
    fault_server.configure(malformed_rate=0.5)
    run_judging(run.answers_dir, endpoint(fault_server, "j"), run.judge_dir("j"), max_reasks=1,
                progress=False)
    records = read_records(run.judgments_file("j", "cand"))
    asked_again = [r for r in records if r["reasks"] == 1]
    assert len(records) == 16 and asked_again
    assert {r["status"] for r in records} <= {"ok", "parse_failed"}
    assert all(len(r["judgment_history"]) == 1 for r in asked_again)
    events = state_events(run.judgments_file("j", "cand"))
    second = [e for e in events if e["event"] == "prepared"][1]["requests"]
    assert len(second) == len(asked_again) and all(cid.endswith("-1") for cid in second)


def test_a_budget_stops_before_submitting_what_it_cannot_pay(fault_server, questions16,
                                                              tmp_path):
    target = tmp_path / "answers" / "cand.jsonl"
    price = {"prompt": 2000.0, "completion": 2000.0, "batch_discount": 0.5}
    with pytest.raises(BudgetExceededError, match="budget_usd 0.5 of 'cand'"):
        run_generation(questions16, endpoint(fault_server, "cand", price=price, budget_usd=0.5),
                       target, max_tokens=64, progress=False)
    written = read_records(target)
    assert 0 < len(written) < 16 and all(r["status"] == "ok" for r in written)
    assert sum(r["cost_usd"] for r in written) <= 0.5
    assert fault_server.stats["batch"]["batch_requests"] == len(written)
    summary = run_generation(questions16, endpoint(fault_server, "cand", price=price,
                                                   budget_usd=100.0),
                             target, max_tokens=64, progress=False)
    assert summary.done == 16 - len(written) and summary.skipped == len(written)
    assert fault_server.stats["batch"]["max_submissions"] == 1
    assert summary.spent_usd == pytest.approx(sum(r["cost_usd"] for r in read_records(target)))


def test_batch_settings_are_the_backends_own_in_yaml_cli_and_endpoint():
    import argparse

    from alignbench_utils.backends import BatchSettings
    from alignbench_utils.cli import _add_endpoint_args, _endpoint
    from alignbench_utils.config import ConfigError, parse_config

    def config(model: dict) -> Any:
        return parse_config({"name": "t", "judges": [{"name": "j", "base_url": "local"}],
                             "models": [{"name": "m", "base_url": "http://h/v1",
                                         "model_id": "x", "backend": "batch", **model}]})

    assert config({"batch": {"poll_s": 5}}).models[0].batch == BatchSettings(poll_s=5.0)
    with pytest.raises(ConfigError) as info:
        config({"batch": {"max_attempts": 0}})
    assert info.value.field == "models[0].batch.max_attempts"
    with pytest.raises(ConfigError, match="unknown key 'batch_poll_s'"):
        config({"batch_poll_s": 5})
    parser = argparse.ArgumentParser()
    _add_endpoint_args(parser, required=False)
    args = parser.parse_args(["--base-url", "http://h/v1", "--model-id", "x", "--backend",
                              "batch", "--batch-poll-s", "7", "--batch-max-requests", "9"])
    endpoint = _endpoint(args, "m")
    assert (endpoint.batch.poll_s, endpoint.batch.max_requests) == (7.0, 9)
    assert endpoint.batch.collect_s == BatchSettings().collect_s
