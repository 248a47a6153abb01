"""The ``alignbench`` CLI: layout, exit codes, crash-resume, import, and no key leaks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from alignbench_utils.cli import main
from alignbench_utils.data.questions import write_official_answers, write_official_judgments
from alignbench_utils.data.store import read_records
from alignbench_utils.testing.fault_server import FaultServer

SECRET = "sk-" + "test-SECRET1234567890abcdef"  # split: no key-like literal in the repo
FAST = ["--max-retries", "1", "--no-progress"]


def _gen_args(server: FaultServer, out: Path, *extra: str) -> list[str]:
    return ["generate", "--questions", "v1.1", "--per-category", "2", "--model", "cand",
            "--base-url", server.base_url, "--model-id", "cand-id", "--out", str(out), *extra]


def _judge_args(server: FaultServer, answers: Path, out: Path, *extra: str) -> list[str]:
    return ["judge", "--answers", str(answers), "--judge", "j", "--base-url", server.base_url,
            "--model-id", "j-id", "--out", str(out), *extra]


def test_generate_then_judge_writes_the_run_layout(fault_server, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_gen_args(fault_server, run / "answers", *FAST)) == 0
    assert main(["generate", "--model", "reference", "--per-category", "2",
                 "--out", str(run / "answers"), "--no-progress"]) == 0
    assert main(_judge_args(fault_server, run / "answers", run / "judgments", *FAST)) == 0
    assert len(read_records(run / "judgments" / "j" / "cand.jsonl")) == 16
    assert len(read_records(run / "judgments" / "j" / "reference.jsonl")) == 16
    fault_server.reset()
    assert main(_gen_args(fault_server, run / "answers", *FAST)) == 0
    assert "skipped (already done) 16" in capsys.readouterr().out
    assert fault_server.stats["total"] == 0


def test_bad_input_exits_2_and_total_failure_exits_1(fault_server, tmp_path, capsys):
    code = main(["judge", "--answers", str(tmp_path / "none.jsonl"), "--judge", "j",
                 "--base-url", fault_server.base_url, "--model-id", "x", "--out", str(tmp_path)])
    assert code == 2 and "none.jsonl: no such file" in capsys.readouterr().err
    assert main(["generate", "--model", "cand", "--out", str(tmp_path)]) == 2
    fault_server.configure(error_rate=1.0)
    assert main(_gen_args(fault_server, tmp_path, *FAST)) == 1


def test_import_official_files_into_the_run_layout(questions16, tmp_path, capsys):
    official = [{**q, "model": "gpt", "answer": f"答案{q['question_id']}"} for q in questions16]
    write_official_answers(official, tmp_path / "gpt.jsonl")
    write_official_judgments([{**r, "score": 7.0, "dimensions": {"清晰度": 8.0},
                               "judgment": "{'清晰度': 8, '综合得分': 7}", "status": "ok"}
                              for r in official], tmp_path / "gpt4" / "gpt.jsonl")
    run = tmp_path / "run"
    assert main(["import", "--answers", str(tmp_path / "gpt.jsonl"), "--out", str(run)]) == 0
    answers = read_records(run / "answers" / "gpt.jsonl")
    assert len(answers) == 16 and all(r["reference"] for r in answers)
    assert main(["import", "--judgments", str(tmp_path / "gpt4" / "gpt.jsonl"),
                 "--out", str(run)]) == 0
    assert len(read_records(run / "judgments" / "gpt4" / "gpt.jsonl")) == 16
    assert main(["import", "--answers", str(tmp_path / "gpt.jsonl"), "--out", str(run)]) == 0
    assert "0 records written, 16 already there" in capsys.readouterr().out


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alignbench_utils.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_run_then_rerun_asks_only_for_the_missing(fault_server, questions16,
                                                             tmp_path):
    fault_server.configure(latency=0.25)
    out = tmp_path / "answers"
    proc = _cli(_gen_args(fault_server, out, "--concurrency", "2", *FAST), dict(os.environ))
    target, deadline = out / "cand.jsonl", time.monotonic() + 30
    while time.monotonic() < deadline:
        if target.exists() and target.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    before = len(read_records(target))
    assert 4 <= before < 16
    fault_server.configure(latency=0.0)
    fault_server.reset()
    assert main(_gen_args(fault_server, out, *FAST)) == 0
    assert fault_server.stats["total"] == 16 - before
    lines = [json.loads(x) for x in target.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 16 and len({r["question_id"] for r in lines}) == 16


def test_api_key_never_leaks(tmp_path):
    env = {**os.environ, "ALIGNBENCH_TEST_KEY": SECRET}
    key = ["--api-key-env", "ALIGNBENCH_TEST_KEY", *FAST]
    outputs = []
    with FaultServer(error_rate=0.3, malformed_rate=0.3) as server:
        for args in (_gen_args(server, tmp_path / "answers", *key),
                     _judge_args(server, tmp_path / "answers", tmp_path / "judgments", *key),
                     _gen_args(server, tmp_path / "dead", "--base-url",
                               "http://127.0.0.1:9/v1", *key)):
            proc = _cli(args, env)
            outputs += list(proc.communicate(timeout=60))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and any("error" in p.read_text(encoding="utf-8") for p in files)
    for text in outputs + [p.read_text(encoding="utf-8") for p in files]:
        assert SECRET not in text and "SECRET123" not in text
