"""Throughput and fault tolerance of the pairwise stage: the judge meta-evaluation of the five
LLMBar subsets (419 items × 2 orders = 838 calls) against the fault server as a judge.

Prints a table: wall time against the floor calls x latency / concurrency, calls per second,
a rerun, a hard server limit (429 + Retry-After beyond it), and 5% 5xx + 5% replies without a
verdict + a position-biased judge, with the integrity of the records (every (item, order)
once). The server runs in its own process. About two minutes:
``python benchmarks/judge_eval_throughput.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections import Counter
from pathlib import Path

from bench_common import Server, fault_server

from alignbench_utils.data.store import read_records_under
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.running.engine import RunSummary
from alignbench_utils.stages.judge_eval import run_judge_eval

PROTOCOL = "llmbar-vanilla-norules"


def _run(server: Server, out: Path, concurrency: int) -> RunSummary:
    endpoint = EndpointConfig(name="judge", base_urls=[server.base_url], model_id="judge-id",
                              concurrency=concurrency, timeout_s=30, max_retries=20,
                              backoff_base_s=0.5)
    [summary] = run_judge_eval(["llmbar"], endpoint, out, protocol=PROTOCOL, progress=False)
    print(summary.one_line(), flush=True)
    return summary


def _integrity(out: Path, calls: int) -> str:
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in out.rglob("*.jsonl"))
    finals = read_records_under(out)
    keys = {(r["subset"], r["item_id"], r["order"]) for r in finals}
    status = Counter(r["status"] for r in finals)
    return (f"records {len(finals)}, lost {calls - len(keys)}, duplicated {lines - len(finals)}, "
            f"status {json.dumps(dict(sorted(status.items())))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    lat, calls = args.latency, 419 * 2
    tmp = Path(tempfile.mkdtemp(prefix="alignbench-judge-eval-bench-"))
    rows: list[tuple[str, RunSummary, float, str]] = []

    for concurrency in (16, 64):
        with fault_server(latency=lat) as server:
            out = tmp / f"c{concurrency}"
            summary = _run(server, out, concurrency)
            rows.append((f"judge-eval c={concurrency}", summary, calls * lat / concurrency,
                         (f"{_integrity(out, calls)}; wave floor ceil(n/c)*lat = "
                          f"{math.ceil(calls / concurrency) * lat:.1f} s")))
            if concurrency == 64:
                before = server.stats()["total"]
                again = _run(server, out, concurrency)
                rows.append(("rerun (finished run)", again, 0.0,
                             f"requests {server.stats()['total'] - before}"))

    with fault_server(latency=lat, max_concurrent=8, retry_after=1.0) as server:
        out = tmp / "limit8"
        summary = _run(server, out, 64)
        stats = server.stats()
        rows.append(("server limit 8, client c=64", summary, calls * lat / 8,
                     (f"{_integrity(out, calls)}; 429s {stats['by_status'].get('429', 0)}, "
                      f"max in flight {stats['max_in_flight']}")))

    with fault_server(latency=lat, error_rate=0.05, malformed_rate=0.05, position_bias=0.2,
                      seed=1) as server:
        out = tmp / "faults"
        summary = _run(server, out, 64)
        stats = server.stats()
        rows.append(("5% 5xx + 5% no verdict, bias 0.2", summary, calls * lat / 64,
                     f"{_integrity(out, calls)}; 5xx {stats['by_status'].get('500', 0)}"))

    print(f"\nLLMBar 5 subsets: 419 items x 2 orders = {calls} calls, protocol {PROTOCOL}, "
          f"server latency {lat:g} s\n")
    print(f"{'scenario':34} {'wall s':>7} {'floor s':>7} {'ratio':>6} {'calls/s':>7}  notes")
    for name, summary, floor, notes in rows:
        ratio = f"{summary.wall_s / floor:.3f}" if floor else "-"
        rate = summary.requests / summary.wall_s if summary.requests else 0.0
        print(f"{name:34} {summary.wall_s:7.2f} {floor:7.2f} {ratio:>6} {rate:7.1f}  {notes}")


if __name__ == "__main__":
    main()
