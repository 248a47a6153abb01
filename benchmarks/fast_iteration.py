"""Fast iteration (issue 25): what a researcher's rerun costs.

Prints, against the fault server (its own process): the first `alignbench run` of a
16-question run, an unchanged rerun (and the ratio), a rerun after adding one model (and which
notebooks it executed), a finished rerun of `alignbench judge` against
`python -c "import openai"` (best of 3 each), and the engine's overhead against a lean aiohttp
client (:mod:`engine_overhead`). Commands run as subprocesses, as a user runs them. The
machine may be shared: run it twice, or on a quiet machine, before quoting a number.
``python benchmarks/fast_iteration.py [--engine-rounds 2]`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import best_of, fault_server
from engine_overhead import measure

ALIGNBENCH = [sys.executable, "-m", "alignbench_utils.cli"]


def timed(cmd: list[str]) -> tuple[float, str]:
    """Wall seconds of ``cmd`` and its stdout; a failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, done.stdout


def config_text(tmp: Path, base_url: str, models: list[str]) -> str:
    entries = "".join(f"  - {{name: {m}, base_url: {base_url}, model_id: {m}-id, "
                      "sampling: {max_tokens: 64}}\n" for m in models)
    return f"""\
name: bench
dataset: {{source: v1.1, per_category: 2, seed: 0}}
models:
{entries}  - {{name: reference, base_url: reference}}
judges:
  - {{name: j1, base_url: {base_url}, model_id: fake-judge, max_reasks: 0}}
concurrency: 8
statistics: {{n_boot: 1000, seed: 0}}
output: {{run_dir: {tmp / "runs" / "bench"}, report_dir: {tmp / "reports" / "bench"}}}
"""


def executed(out: str) -> list[str]:
    return re.findall(r"^(\d\d_\w+): executed in", out, flags=re.MULTILINE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine-rounds", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="alignbench-iter-"))
    config = tmp / "bench.yaml"
    rows = []
    with fault_server(latency=0.05) as server:
        config.write_text(config_text(tmp, server.base_url, ["m1"]), encoding="utf-8")
        run = [*ALIGNBENCH, "run", str(config), "--no-progress"]
        first, out = timed(run)
        rows.append(("first run", first, f"executed {len(executed(out))} notebooks"))
        again, out = timed(run)
        rows.append(("unchanged rerun", again,
                     f"{again / first:.3f} x first run; executed {executed(out) or 'none'}"))
        config.write_text(config_text(tmp, server.base_url, ["m1", "m2"]), encoding="utf-8")
        added, out = timed(run)
        rows.append(("rerun after adding a model", added,
                     f"{added / first:.3f} x first run; executed {', '.join(executed(out))}"))

        run_dir = tmp / "runs" / "bench"
        judge = [*ALIGNBENCH, "judge", "--answers", str(run_dir / "answers"), "--judge", "j1",
                 "--out", str(tmp / "cli-judgments"), "--base-url", server.base_url,
                 "--model-id", "fake-judge", "--max-reasks", "0", "--no-progress"]
        timed(judge)  # judge everything once; the timed runs below find it all done
        judge_s = best_of(3, lambda: timed(judge))
        openai_s = best_of(3, lambda: timed([sys.executable, "-c", "import openai"]))
        rows.append(("finished `alignbench judge` rerun", judge_s,
                     (f"{judge_s / openai_s:.2f} x `python -c 'import openai'` "
                      f"({openai_s:.2f} s)")))

    engine, lean, n = measure(rounds=args.engine_rounds, say=lambda line: None)
    rows.append((f"engine, {n} calls, 1 s, c=64", engine,
                 f"{engine / lean:.3f} x lean aiohttp client ({lean:.2f} s)"))
    print(f"\n{'what':36} {'wall s':>8}  notes")
    for what, wall, notes in rows:
        print(f"{what:36} {wall:8.2f}  {notes}")


if __name__ == "__main__":
    main()
