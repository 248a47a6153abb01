"""The batch backend on a full-size run against the fault server's Batch API.

All 683 AlignBench v1.1 questions are answered and judged twice: over HTTP and through
batches (split at 250 requests per batch, 3% of items failing with a 5xx, the first batch
expiring with half its items unanswered, each batch taking ``--latency`` seconds). Prints,
per stage: records, batches created, requests submitted and resubmitted, wall time, cost at
an example price (batch discount 50%), and whether the batch run's records equal the HTTP
run's (same request hashes, statuses, texts and scores). Then a client is killed with
SIGKILL while its batch runs, and the rerun's submissions are counted.

``python benchmarks/batch_check.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alignbench_utils import load_questions
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import read_records
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import run_judging
from alignbench_utils.testing.fault_server import FaultServer

PRICE = {"prompt": 2.5, "completion": 10.0, "batch_discount": 0.5}


def endpoint(server: FaultServer, name: str, backend: str) -> EndpointConfig:
    batch = {"poll_s": 0.2, "collect_s": 0.2, "max_requests": 250}
    return EndpointConfig(name, [server.base_url], f"{name}-id", backend=backend,
                          concurrency=64, price=PRICE, batch=batch)


def outcomes(path: Path) -> dict[str, tuple]:
    return {r["request_hash"]: (r["status"], r.get("answer"), r.get("judgment"), r.get("score"))
            for r in read_records(path)}


def full_run(server: FaultServer, root: Path, latency: float) -> None:
    questions = load_questions("v1.1").to_list()
    results = {}
    for backend in ("http", "batch"):
        run = RunLayout(root / backend)
        server.reset()
        server.configure(batch_latency=latency, batch_expire=1 if backend == "batch" else 0)
        started = time.monotonic()
        answered = run_generation(questions, endpoint(server, "cand", backend),
                                  run.answers_file("cand"), progress=False)
        answered_s = time.monotonic() - started
        after_generate = server.stats["batch"]
        started = time.monotonic()
        judged = run_judging(run.answers_dir, endpoint(server, "judge", backend),
                             run.judge_dir("judge"), progress=False)
        judged_s = time.monotonic() - started
        total = server.stats["batch"]
        results[backend] = [("generate", answered, answered_s, after_generate),
                            ("judge", judged, judged_s,
                             {k: total.get(k, 0) - after_generate.get(k, 0)
                              for k in ("batches_created", "batch_requests")})]
    print(f"683 questions, 3% of items failing (5xx), batch latency {latency:g} s, "
          f"at most 250 requests per batch, first batch expires half-done")
    print(f"{'backend':8} {'stage':9} {'records':>7} {'ok':>4} {'batches':>7} "
          f"{'submitted':>9} {'resubmitted':>11} {'wall s':>7} {'cost $':>8}")
    for backend, stages in results.items():
        for stage, summary, wall, batch in stages:
            records = summary.done + summary.parse_failed + summary.failed
            submitted = batch.get("batch_requests", 0)
            print(f"{backend:8} {stage:9} {records:7d} {summary.done:4d} "
                  f"{batch.get('batches_created', 0):7d} {submitted:9d} "
                  f"{max(0, submitted - records) if backend == 'batch' else 0:11d} "
                  f"{wall:7.1f} {summary.cost_usd:8.4f}")
    for path in ("answers/cand.jsonl", "judgments/judge/cand.jsonl"):
        same = outcomes(root / "http" / path) == outcomes(root / "batch" / path)
        print(f"{path}: batch records equal the HTTP records: {same}")


def kill_and_rerun(server: FaultServer, root: Path) -> None:
    server.reset()
    server.configure(batch_latency=3.0, batch_expire=0, error_rate=0.0)
    out = root / "killed" / "answers"
    args = ["generate", "--model", "cand", "--base-url", server.base_url, "--model-id",
            "cand-id", "--out", str(out), "--backend", "batch", "--batch-poll-s", "0.2",
            "--batch-collect-s", "0.2", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "alignbench_utils.cli", *args],
                            env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state, deadline = RunLayout.batch_state_file(out / "cand.jsonl"), time.monotonic() + 60
    while not (state.is_file() and b'"submitted"' in state.read_bytes()):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the client never submitted its batch")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "alignbench_utils.cli", *args], check=True,
                   env=dict(os.environ), stdout=subprocess.DEVNULL)
    batch = server.stats["batch"]
    records = read_records(out / "cand.jsonl")
    print(f"kill -9 while the batch ran, then rerun: {len(records)} records "
          f"({sum(r['status'] == 'ok' for r in records)} ok) in {time.monotonic() - started:.1f} s; "
          f"uploads {batch['uploads']}, batches created {batch['batches_created']}, "
          f"requests submitted {batch['batch_requests']}, most submissions of one request "
          f"{batch['max_submissions']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0,
                        help="seconds from creating a batch until it is done")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FaultServer(error_rate=0.03) as server:
        full_run(server, Path(tmp), args.latency)
        kill_and_rerun(server, Path(tmp))


if __name__ == "__main__":
    main()
