"""Parse rate and output length of the embedded 0.5B judge per structured-output mode.

Judges the 16 demo questions' reference answers (2 per category, seed 0) with the local
model, with no re-ask, once per mode, and prints for each mode: judgments parsed on the
first try, the median length of the judge's output and of its critique (written before the
scores), in characters. Needs `alignbench setup-local` (cached).

    .venv/bin/python benchmarks/structured_judge.py [--modes none json_schema grammar]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from alignbench_utils import load_questions
from alignbench_utils.data.store import read_records
from alignbench_utils.local.local_server import serve_local
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.judge import run_judging


def critique_chars(judgment: str) -> int:
    """Characters of critique: the 评价 field of a JSON judgment, else the text before the
    last score dict."""
    try:
        return len(str(json.loads(judgment).get("评价", "")))
    except (ValueError, AttributeError):
        return len(judgment.rpartition("{")[0].strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["json_schema", "grammar"])
    parser.add_argument("--max-tokens", type=int, default=1024)
    args = parser.parse_args()
    questions = load_questions("v1.1", per_category=2, seed=0).to_list()
    answers = [{**q, "model": "reference", "answer": q["reference"], "status": "ok",
                "request_hash": f"ref-{q['question_id']}"} for q in questions]
    with tempfile.TemporaryDirectory() as tmp, serve_local("0.5b", parallel=4,
                                                           log_dir=Path(tmp) / "logs") as server:
        for mode in args.modes:
            judge = EndpointConfig(name=f"judge-{mode}", base_urls=[server.base_url],
                                   model_id=server.model_id, concurrency=4, timeout_s=900)
            out = Path(tmp) / mode
            started = time.monotonic()
            run_judging(answers, judge, out, structured=mode, max_reasks=0,
                        max_tokens=args.max_tokens, seed=0, progress=False)
            wall = time.monotonic() - started
            records = read_records(out / "reference.jsonl")
            ok = sum(r["status"] == "ok" for r in records)
            lengths = [len(r["judgment"] or "") for r in records]
            critiques = [critique_chars(r["judgment"] or "") for r in records]
            print(f"{mode:12s} parsed {ok}/{len(records)} on the first try, median output "
                  f"{statistics.median(lengths):.0f} chars, median critique "
                  f"{statistics.median(critiques):.0f} chars, wall {wall:.0f} s", flush=True)


if __name__ == "__main__":
    main()
