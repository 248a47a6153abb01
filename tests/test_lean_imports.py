"""Lean commands: `alignbench generate / judge / estimate` load no part of the science stack
(pandas, scipy, statsmodels, matplotlib, seaborn, papermill), and `judge-eval` only what its
table needs; checked in a fresh interpreter after each command ran for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCIENCE = ("pandas", "scipy", "statsmodels", "matplotlib", "seaborn", "papermill")

PROBE = """
import json, sys
from alignbench_utils.cli import main
rc = main(json.loads(sys.argv[1]))
print(json.dumps({"rc": rc, "loaded": [m for m in json.loads(sys.argv[2]) if m in sys.modules]}))
"""


def run_probe(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(SCIENCE)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_commands_import_only_what_they_use(tmp_path: Path, fault_server):
    url = fault_server.base_url
    endpoint = ["--base-url", url, "--no-progress"]
    generate = ["generate", "--model", "m1", "--out", str(tmp_path / "answers"),
                "--per-category", "1", "--model-id", "fake-1", "--max-tokens", "32", *endpoint]
    judge = ["judge", "--answers", str(tmp_path / "answers"), "--judge", "j1",
             "--out", str(tmp_path / "judgments"), "--model-id", "fake-judge",
             "--max-reasks", "0", *endpoint]
    for argv in (generate, judge):
        first = run_probe(argv)
        assert first == {"rc": 0, "loaded": []}, (argv[0], first)
        requests = fault_server.stats["total"]
        assert run_probe(argv) == {"rc": 0, "loaded": []}  # the finished rerun
        assert fault_server.stats["total"] == requests

    config = tmp_path / "run.yaml"
    config.write_text(f"""\
name: lean
dataset: {{source: v1.1, per_category: 1}}
models: [{{name: m1, base_url: {url}, model_id: fake-1}}]
judges: [{{name: j1, base_url: {url}, model_id: fake-judge}}]
output: {{run_dir: {tmp_path / "run"}}}
""", encoding="utf-8")
    assert run_probe(["estimate", str(config)]) == {"rc": 0, "loaded": []}

    judge_eval = ["judge-eval", "--benchmark", "llmbar:Natural", "--protocol",
                  "llmbar-vanilla-norules", "--judge", "j1", "--out", str(tmp_path / "je"),
                  "--per-subset", "4", "--n-boot", "50", "--model-id", "fake-judge", *endpoint]
    result = run_probe(judge_eval)
    assert result["rc"] == 0
    assert not {"matplotlib", "seaborn", "papermill"} & set(result["loaded"]), result
