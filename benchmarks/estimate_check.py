"""How good is ``alignbench estimate``? Two checks, each printing its figures.

1. **Against a billed run** (always): a small real run (``alignbench run``'s notebooks 01 and
   02) against the fault server gives past records; the estimate of a larger run is printed,
   the larger run is made, and the estimate is compared, per model and judge × model, with
   the tokens the server billed for it (input, expected output, total; error in % of the
   billed). The first estimate, before any record exists, is compared too: its input is
   checked, its output is only the ``max_tokens`` bound.
2. **Against a real tokenizer** (``--tokenizer``): the per-character approximation of
   :mod:`alignbench_utils.running.tokens` against the Qwen2.5 tokenizer (``/tokenize`` of the
   embedded llama-server; needs ``alignbench setup-local``) on the 683 AlignBench v1.1
   questions, their references and every 7th official judge prompt.

``python benchmarks/estimate_check.py [--tokenizer]`` (about a minute; the tokenizer check
another minute).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import urllib.request
from pathlib import Path

import pandas as pd

from alignbench_utils import build_judge_prompt, load_questions
from alignbench_utils.config import load_config
from alignbench_utils.pipeline import run_pipeline
from alignbench_utils.running.tokens import approx_tokens
from alignbench_utils.stages.estimate import billed_tokens, compare_estimate, estimate_run
from alignbench_utils.testing.fault_server import FaultServer

STAGES = ("01_generate", "02_judge")


def write_config(folder: Path, base_url: str, per_category: int) -> Path:
    """Two priced models (one through the batch backend), the reference control, one judge."""
    path = folder / f"check{per_category}.yaml"
    path.write_text(f"""\
name: check
dataset: {{source: v1.1, per_category: {per_category}, seed: 0}}
models:
  - {{name: m-http, base_url: {base_url}, model_id: fake-1, sampling: {{max_tokens: 1024}},
      price: {{prompt: 0.5, completion: 1.5}}}}
  - {{name: m-batch, base_url: {base_url}, model_id: fake-2, sampling: {{max_tokens: 1024}},
      backend: batch, batch: {{poll_s: 0.1, collect_s: 0.2}},
      price: {{prompt: 0.5, completion: 1.5}}}}
  - {{name: reference, base_url: reference}}
judges:
  - {{name: judge, base_url: {base_url}, model_id: fake-judge, max_reasks: 0,
      price: {{prompt: 2.5, completion: 10.0}}}}
concurrency: 8
output: {{run_dir: {folder / "runs" / "check"}, report_dir: {folder / "reports" / "check"}}}
""", encoding="utf-8")
    return path


def show(title: str, table: pd.DataFrame) -> None:
    """Errors in % with their sign, token counts as integers, – where there is none."""
    print(f"\n{title}")
    formats = {column: ("{:+.1f}" if column.endswith("_pct") else "{:.0f}").format
               for column in table.columns if table[column].dtype.kind == "f"}
    print(table.to_string(index=False, formatters=formats, na_rep="–"))


def billed_check() -> None:
    with tempfile.TemporaryDirectory() as tmp, FaultServer(answer_bytes=600) as server:
        folder = Path(tmp)
        first = load_config(write_config(folder, server.base_url, per_category=1))
        rows = estimate_run(first)
        before = billed_tokens(first.run_dir)
        run_pipeline(first, notebooks=STAGES, progress=False)
        table = compare_estimate(rows, before, billed_tokens(first.run_dir))
        show("1a. no past records (8 questions): output is only the max_tokens bound",
             table[["role", "name", "answers_of", "requests_estimated", "records_written",
                    "input_estimated", "input_billed", "input_error_pct"]])

        second = load_config(write_config(folder, server.base_url, per_category=6))
        rows = estimate_run(second)
        before = billed_tokens(second.run_dir)
        run_pipeline(second, notebooks=STAGES, progress=False)
        table = compare_estimate(rows, before, billed_tokens(second.run_dir))
        show("1b. with past records (48 questions; any answered before are skipped): the estimate "
             "against the billed tokens", table.drop(columns=["records_written"]))
        paid = table[table["name"] != "reference"]
        worst = paid[["input_error_pct", "output_error_pct", "total_error_pct"]].abs().max()
        print(f"\nlargest |error|: input {worst['input_error_pct']:.1f} %, output "
              f"{worst['output_error_pct']:.1f} %, total {worst['total_error_pct']:.1f} % "
              f"(bound checked by tests/test_estimate.py: 20 %)")


def tokenizer_check() -> None:
    from alignbench_utils.local.local_server import serve_local

    questions = load_questions("v1.1").to_list()
    texts = [("question", q["question"]) for q in questions]
    texts += [("reference", q["reference"]) for q in questions]
    texts += [("judge prompt", build_judge_prompt(q, q["reference"])) for q in questions[::7]]
    with serve_local("0.5b", parallel=1, ctx=4096, setup=False) as server:
        root = server.base_url.removesuffix("/v1")

        def count(text: str) -> int:
            request = urllib.request.Request(
                root + "/tokenize", data=json.dumps({"content": text}).encode(),
                headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as reply:
                return len(json.load(reply)["tokens"])

        rows = [{"kind": kind, "real": count(text), "approx": approx_tokens(text)}
                for kind, text in texts]
    frame = pd.DataFrame(rows)
    print(f"\n2. approximation against the Qwen2.5 tokenizer ({server.model_id})")
    out = []
    for kind, group in frame.groupby("kind", sort=False):
        errors = (100 * (group["approx"] - group["real"]) / group["real"]).abs()
        out.append({"texts": kind, "n": len(group), "real tokens": int(group["real"].sum()),
                    "approx tokens": int(group["approx"].sum()),
                    "total error %": 100 * (group["approx"].sum() / group["real"].sum() - 1),
                    "median |error| %": statistics.median(errors),
                    "90th pct |error| %": errors.quantile(0.9)})
    print(pd.DataFrame(out).to_string(index=False, float_format=lambda v: f"{v:.1f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", action="store_true",
                        help="also check the approximation against the Qwen2.5 tokenizer")
    args = parser.parse_args()
    billed_check()
    if args.tokenizer:
        tokenizer_check()


if __name__ == "__main__":
    main()
