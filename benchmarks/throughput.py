"""Throughput and fault tolerance of the run engine against the fault server.

Prints a table: wall time against the floor n x latency / concurrency, a hard server limit
(429 + Retry-After beyond it), 5% 5xx + 5% malformed judge outputs, and a rerun.
The server runs in its own process (as a real endpoint does), so its work does not share
the client's interpreter lock. About three minutes: ``python benchmarks/throughput.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from bench_common import Server, fault_server

from alignbench_utils import load_questions
from alignbench_utils.data.store import read_records
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import run_judging


def _endpoint(server: Server, concurrency: int, name: str = "cand") -> EndpointConfig:
    return EndpointConfig(name=name, base_urls=[server.base_url], model_id=f"{name}-id",
                          concurrency=concurrency, timeout_s=30, max_retries=20)


def _integrity(path: Path, n: int) -> str:
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    finals = read_records(path)
    ids = [r["question_id"] for r in finals]
    lost = n - len(set(ids))
    dup = len(lines) - len(finals)
    return f"records {len(finals)}, lost {lost}, duplicated {dup}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--n", type=int, default=683)
    args = parser.parse_args()
    questions = load_questions("v1.1").to_list()[: args.n]
    n, lat = len(questions), args.latency
    rows: list[tuple[str, float, float, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="alignbench-bench-"))

    def gen(server: Server, concurrency: int, out: Path) -> tuple[float, str]:
        summary = run_generation(questions, _endpoint(server, concurrency), out, progress=False)
        return summary.wall_s, summary.one_line()

    for concurrency in (16, 64):
        with fault_server(latency=lat) as server:
            out = tmp / f"c{concurrency}" / "cand.jsonl"
            wall, line = gen(server, concurrency, out)
            rows.append((f"generate c={concurrency}", wall, n * lat / concurrency,
                         (f"{_integrity(out, n)}; wave floor ceil(n/c)*lat = "
                         f"{math.ceil(n / concurrency) * lat:.1f} s")))
            print(line, flush=True)
            if concurrency == 64:
                before = server.stats()["total"]
                wall, line = gen(server, concurrency, out)
                rows.append(("rerun (finished run)", wall, 0.0,
                             f"requests {server.stats()['total'] - before}"))
                answers = out

    with fault_server(latency=lat, max_concurrent=8, retry_after=1.0) as server:
        out = tmp / "limit8" / "cand.jsonl"
        wall, line = gen(server, 64, out)
        stats = server.stats()
        rows.append(("server limit 8, client c=64", wall, n * lat / 8,
                     (f"{_integrity(out, n)}; 429s {stats['by_status'].get('429', 0)}, "
                     f"max in flight {stats['max_in_flight']}")))
        print(line, flush=True)

    with fault_server(latency=lat, error_rate=0.05, malformed_rate=0.05, seed=1) as server:
        out = tmp / "judgments" / "judge.jsonl"
        endpoint = EndpointConfig(name="judge", base_urls=[server.base_url], model_id="judge-id",
                                  concurrency=64, timeout_s=30, max_retries=20,
                                  backoff_base_s=0.5)
        started = time.monotonic()
        summary = run_judging(answers, endpoint, out, progress=False)
        wall = time.monotonic() - started
        stats = server.stats()
        rows.append(("judge, 5% 5xx + 5% malformed", wall, n * lat / 64,
                     (f"{_integrity(out, n)}; ok {summary.done}, parse_failed "
                     f"{summary.parse_failed}, error {summary.failed}; "
                     f"5xx {stats['by_status'].get('500', 0)}")))
        print(summary.one_line(), flush=True)

    print(f"\nn = {n}, server latency {lat:g} s\n")
    print(f"{'scenario':32} {'wall s':>8} {'floor s':>8} {'ratio':>6}  notes")
    for name, wall, floor, notes in rows:
        ratio = f"{wall / floor:.3f}" if floor else "-"
        print(f"{name:32} {wall:8.2f} {floor:8.2f} {ratio:>6}  {notes}")


if __name__ == "__main__":
    main()
