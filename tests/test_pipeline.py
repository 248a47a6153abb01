"""`alignbench run` end to end against the fault server: notebooks in order, resume, report,
provenance, and no API key in anything written."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from alignbench_utils import __version__
from alignbench_utils.cli import main
from alignbench_utils.config import load_config
from alignbench_utils.paths import REPO_ROOT
from alignbench_utils.pipeline import (
    NOTEBOOKS,
    SecretLeakError,
    find_secret_leaks,
    notebook_parameters,
    render_only,
)
from alignbench_utils.protocols import prompts

KEY_ENV = "ALIGNBENCH_TEST_KEY"
KEY = "sk-" + "test-DUMMYSECRET1234567890"  # split: no key-like literal in the repo


def write_config(tmp_path: Path, base_url: str) -> Path:
    text = f"""\
name: e2e
dataset: {{source: v1.1, per_category: 2, seed: 0}}
models:
  - name: m1
    base_url: {base_url}
    model_id: fake-1
    api_key_env: {KEY_ENV}
    sampling: {{max_tokens: 64}}
  - name: reference
    base_url: reference
judges:
  - name: j1
    base_url: [{base_url}, {base_url}]
    model_id: fake-judge
    api_key_env: {KEY_ENV}
    max_reasks: 0
concurrency: 4
statistics: {{n_boot: 200, seed: 0}}
output: {{run_dir: {tmp_path / "runs" / "e2e"}, report_dir: {tmp_path / "reports" / "e2e"}}}
"""
    path = tmp_path / "e2e.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_run_end_to_end_resumes_and_leaks_no_key(tmp_path, fault_server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    fault_server.configure(malformed_rate=0.1, seed=1)
    config_path = write_config(tmp_path, fault_server.base_url)
    assert main(["run", str(config_path), "--no-progress"]) == 0
    first = fault_server.stats["total"]
    assert fault_server.stats["answer"] == 16 and fault_server.stats["judge"] == 32

    run_dir, report_dir = tmp_path / "runs" / "e2e", tmp_path / "reports" / "e2e"
    assert sorted(p.stem for p in (run_dir / "notebooks").glob("*.ipynb")) == list(NOTEBOOKS)
    board = pd.read_csv(run_dir / "results" / "leaderboard.csv")
    assert set(board["模型"]) == {"m1", "reference"}
    assert int(board["n_ok"].sum() + board["n_failed"].sum()) == 32
    assert (run_dir / "figures" / "radar__j1.svg").is_file()
    assert (run_dir / "figures" / "radar__j1.pdf").is_file()
    assert (run_dir / "results" / "leaderboard_ci__j1.tex").is_file()

    pages = sorted(p.name for p in report_dir.glob("*.html"))
    assert pages == sorted([f"{n}.html" for n in NOTEBOOKS] + ["index.html", "viewer.html"])
    template_hash = prompts.template_sha256()
    for page in report_dir.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert f"alignbench-utils {__version__}" in html, page.name
        assert template_hash in html and "fake-judge" in html, page.name
        assert "report rendered" in html and "run config" in html, page.name
        assert "Subset:" in html and "Smoke run" not in html, page.name
        srcs = re.findall(r'<img[^>]+src="([^"]*)"', html)
        assert all(src.startswith("data:image/") for src in srcs), page.name
        assert "<script src=" not in html, page.name
        assert "run_generation(" not in html and "leaderboard(frame" not in html  # inputs hidden
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    assert index.count('src="data:image/png;base64,') == 2  # the judge's leaderboard, failures
    assert all(f'href="{n}.html"' in index for n in NOTEBOOKS)
    assert "Failures per model" in index and re.search(r"<td[^>]*>m1</td>", index)
    assert (report_dir / "results" / "leaderboard_ci__j1.md").is_file()
    assert (report_dir / "figures" / "radar__j1.pdf").is_file()

    # no key anywhere: records, executed notebooks (parameters included), results, report
    written = [p for root in (run_dir, report_dir) for p in root.rglob("*") if p.is_file()]
    assert len(written) > 40
    leaked = [p for p in written if KEY.encode() in p.read_bytes()]
    assert not leaked, leaked
    params_cell = (run_dir / "notebooks" / "01_generate.ipynb").read_text(encoding="utf-8")
    assert KEY_ENV in params_cell

    # rerun resumes: no request repeated; report re-rendered without calling anything
    assert main(["run", str(config_path), "--no-progress"]) == 0
    assert fault_server.stats["total"] == first
    before = (report_dir / "index.html").stat().st_mtime_ns
    assert main(["report", str(config_path)]) == 0
    assert (report_dir / "index.html").stat().st_mtime_ns > before
    assert fault_server.stats["total"] == first


def test_leak_check_finds_a_planted_key(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/v1"))
    (config.run_dir / "notebooks").mkdir(parents=True)
    (config.run_dir / "notebooks" / "clean.txt").write_text("nothing here")
    assert find_secret_leaks(config, [config.run_dir]) == []
    planted = config.run_dir / "logs" / "server.log"
    planted.parent.mkdir()
    planted.write_text(f"Authorization: Bearer {KEY}")
    assert find_secret_leaks(config, [config.run_dir]) == [planted]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# 03 · Leaderboard")]
    nbformat.write(notebook, str(config.run_dir / "notebooks" / "03_aggregate.ipynb"))
    with pytest.raises(SecretLeakError) as info:
        render_only(config)
    assert KEY not in str(info.value) and "server.log" in str(info.value)


def test_failing_notebook_exits_1_and_still_renders_what_ran(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    path = write_config(tmp_path, "http://127.0.0.1:9/v1")
    (tmp_path / "broken.jsonl").write_text("not json\n", encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace(
        "source: v1.1", f"source: {tmp_path / 'broken.jsonl'}"), encoding="utf-8")
    assert main(["run", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "notebook failed: InputError" in err and "broken.jsonl, line 1" in err
    assert "01_generate.ipynb" in err
    page = tmp_path / "reports" / "e2e" / "01_generate.html"
    assert "InputError" in page.read_text(encoding="utf-8")
    assert not (tmp_path / "runs" / "e2e" / "notebooks" / "02_judge.ipynb").exists()


def test_report_needs_executed_notebooks(tmp_path, capsys):
    config_path = write_config(tmp_path, "http://127.0.0.1:9/v1")
    assert main(["report", str(config_path)]) == 2
    assert "run `alignbench run` first" in capsys.readouterr().err


def test_demo_parameters_resolve_the_local_server():
    config = load_config(REPO_ROOT / "runs" / "demo.yaml")
    server = type("Served", (), {"base_url": "http://127.0.0.1:5555/v1", "model_id": "qwen"})()
    params = notebook_parameters(config, server)
    models = params["01_generate"]["models"]
    assert models[0]["base_url"] == server.base_url and models[0]["model_id"] == "qwen"
    assert models[1]["base_url"] == "reference"
    assert params["02_judge"]["judges"][0]["structured"] == "grammar"
    assert params["02_judge"]["judges"][0]["base_url"] == server.base_url
    assert params["01_generate"]["per_category"] == 1
    assert params["02_judge"]["judges"][0]["samples"] == 2
    assert params["09_judges"]["families"] == {"qwen-0.5b": "qwen", "qwen-0.5b-judge": "qwen"}
    assert params["06_error_analysis"]["exclude_models"] == ["reference"]
    assert params["04_analysis"]["n_boot"] == config.statistics.n_boot


def test_bad_config_exits_2_with_located_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodels: []\njudges: []\nconcurency: 3\n", encoding="utf-8")
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "line 4" in err and "concurency" in err and "did you mean 'concurrency'" in err
