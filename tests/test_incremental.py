"""Incremental `alignbench run`: an unchanged rerun executes no notebook and re-renders no
report; a changed input re-executes exactly the notebooks that read it; `--force` re-executes;
the terminal says what ran, what was skipped and each stage's summary, without kernel noise."""

from __future__ import annotations

import json
import re
from pathlib import Path

from alignbench_utils.cli import main
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.incremental import NOTEBOOK_INPUTS, Executions
from alignbench_utils.pipeline import (
    JUDGE_EVAL_NOTEBOOK,
    JUDGES_NOTEBOOK,
    NOTEBOOK_DIR,
    NOTEBOOKS,
    PAIRWISE_NOTEBOOK,
)

DOWNSTREAM_OF_JUDGMENTS = ["02_judge", "03_aggregate", "04_analysis", "05_agreement",
                           "06_error_analysis"]


def write_config(tmp_path: Path, base_url: str) -> Path:
    text = f"""\
name: inc
dataset: {{source: v1.1, per_category: 1, seed: 0}}
models:
  - {{name: m1, base_url: {base_url}, model_id: fake-1, sampling: {{max_tokens: 64}}}}
  - {{name: reference, base_url: reference}}
judges:
  - {{name: j1, base_url: {base_url}, model_id: fake-judge, max_reasks: 0}}
concurrency: 4
statistics: {{n_boot: 100, seed: 0}}
output: {{run_dir: {tmp_path / "runs" / "inc"}, report_dir: {tmp_path / "reports" / "inc"}}}
"""
    path = tmp_path / "inc.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def executed(out: str) -> list[str]:
    return re.findall(r"^(\d\d_\w+): executed in", out, flags=re.MULTILINE)


def skipped(out: str) -> list[str]:
    return re.findall(r"^(\d\d_\w+): skipped \(unchanged since", out, flags=re.MULTILINE)


def test_rerun_skips_unchanged_and_reexecutes_downstream_of_a_change(tmp_path, fault_server,
                                                                     capfd):
    config = write_config(tmp_path, fault_server.base_url)
    run_dir, report_dir = tmp_path / "runs" / "inc", tmp_path / "reports" / "inc"
    assert main(["run", str(config), "--no-progress"]) == 0
    out, err = capfd.readouterr()
    assert executed(out) == list(NOTEBOOKS)
    assert "  generate m1: done 8, skipped (already done) 0" in out
    assert "  judge j1 on m1, reference: done 16, skipped (already done) 0" in out
    assert re.search(r"judge j1 on m1, reference: .*tokens \d+\+\d+, wall", out)
    assert out.rstrip().endswith(f"report: {report_dir / 'index.html'}")
    assert "without encryption" not in err and "KeyboardInterrupt" not in err
    requests = fault_server.stats["total"]
    stamps = {p.name: p.stat().st_mtime_ns for p in [*(run_dir / "notebooks").glob("*.ipynb"),
                                                     *report_dir.glob("*.html")]}

    # unchanged: nothing executed, nothing sent, the report not rendered again
    assert main(["run", str(config), "--no-progress"]) == 0
    out, _ = capfd.readouterr()
    assert executed(out) == [] and skipped(out) == list(NOTEBOOKS)
    assert "report: unchanged since it was rendered" in out
    assert fault_server.stats["total"] == requests
    assert stamps == {p.name: p.stat().st_mtime_ns
                      for p in [*(run_dir / "notebooks").glob("*.ipynb"),
                                *report_dir.glob("*.html")]}

    # one judgment lost: the judge re-judges it and everything reading judgments re-executes;
    # the answers did not change, so generation is skipped
    store = run_dir / "judgments" / "j1" / "m1.jsonl"
    lines = store.read_text(encoding="utf-8").splitlines(keepends=True)
    store.write_text("".join(lines[:-1]), encoding="utf-8")
    assert main(["run", str(config), "--no-progress"]) == 0
    out, _ = capfd.readouterr()
    assert skipped(out) == ["01_generate"]
    assert executed(out) == DOWNSTREAM_OF_JUDGMENTS
    assert "02_judge: executed in" in out and "(inputs changed: judgments/j1/m1.jsonl)" in out
    assert "  judge j1 on m1, reference: done 1, skipped (already done) 15" in out
    assert fault_server.stats["total"] == requests + 1
    assert (report_dir / "index.html").stat().st_mtime_ns > stamps["index.html"]

    # --force NOTEBOOK re-executes that one only; a parameter change only its notebook
    assert main(["run", str(config), "--no-progress", "--force", "03_aggregate"]) == 0
    out, _ = capfd.readouterr()
    assert executed(out) == ["03_aggregate"] and "03_aggregate: executed in" in out
    assert "(forced)" in out
    config.write_text(config.read_text(encoding="utf-8").replace(
        "n_boot: 100", "n_boot: 120"), encoding="utf-8")
    assert main(["run", str(config), "--no-progress"]) == 0
    out, _ = capfd.readouterr()
    assert executed(out) == ["04_analysis", "05_agreement"]
    assert "04_analysis: executed in" in out and "(parameters changed)" in out


def test_every_notebook_declares_its_inputs():
    names = [*NOTEBOOKS, JUDGE_EVAL_NOTEBOOK, PAIRWISE_NOTEBOOK, JUDGES_NOTEBOOK]
    assert sorted(NOTEBOOK_INPUTS) == sorted(names)
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(names)


def _fake_notebook(tmp_path: Path) -> Path:
    path = tmp_path / "03_aggregate.ipynb"
    path.write_text('{"cells": []}', encoding="utf-8")
    return path


def test_decisions_follow_inputs_outputs_and_left_errors(tmp_path):
    layout = RunLayout(tmp_path / "run")
    store = layout.judgments_file("j", "m")
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps({"request_hash": "h", "status": "ok"}) + "\n", encoding="utf-8")
    notebook = _fake_notebook(tmp_path)
    state = Executions(layout)
    key = state.key("03_aggregate", notebook, {"judge": "j"})
    assert state.decide("03_aggregate", key, force=False).reason == "not executed before"
    before = state.snapshot()
    layout.table("leaderboard").parent.mkdir(parents=True)
    layout.table("leaderboard").write_text("a,b\n", encoding="utf-8")
    state.record("03_aggregate", key, before)

    again = Executions(layout)  # read back from notebooks/executions.json
    decision = again.decide("03_aggregate", again.key("03_aggregate", notebook, {"judge": "j"}),
                            force=False)
    assert not decision.run and decision.reason.startswith("unchanged since")
    assert again.decide("03_aggregate", key, force=True).reason == "forced"
    assert again.decide("03_aggregate", again.key("03_aggregate", notebook, {"judge": "k"}),
                        force=False).reason == "parameters changed"
    layout.table("leaderboard").unlink()  # a file it wrote is gone: execute again
    assert again.decide("03_aggregate", key, force=False).reason == (
        "files it wrote changed: results/leaderboard.csv")
    with store.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"request_hash": "h2", "status": "error"}) + "\n")
    assert again.decide("03_aggregate", again.key("03_aggregate", notebook, {"judge": "j"}),
                        force=False).reason == "inputs changed: judgments/j/m.jsonl"


def test_a_stage_with_errors_left_runs_again(tmp_path):
    layout = RunLayout(tmp_path / "run")
    notebook = _fake_notebook(tmp_path)
    state = Executions(layout)
    key = state.key("02_judge", notebook, {})
    before = state.snapshot()
    store = layout.judgments_file("j", "m")
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps({"request_hash": "h", "status": "error"}) + "\n",
                     encoding="utf-8")
    state.record("02_judge", key, before)
    decision = state.decide("02_judge", state.key("02_judge", notebook, {}), force=False)
    assert decision.run and decision.reason == "errors to retry in judgments/j/m.jsonl"


def test_force_names_a_notebook_of_the_run(tmp_path, capsys):
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    assert main(["run", str(config), "--no-progress", "--force", "07_judge_eval"]) == 2
    err = capsys.readouterr().err
    assert "unknown notebooks ['07_judge_eval']" in err and "06_error_analysis" in err
