"""Every notebook: clean as committed, documented parameters, and executed with papermill on
tiny inputs (synthetic judgment records; the fault server for 01/02), checking what it wrote."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from run_fixtures import judgment_records, write_human_labels, write_run

from alignbench_utils.analysis import aggregate
from alignbench_utils.pipeline import (
    JUDGE_EVAL_NOTEBOOK,
    NOTEBOOK_DIR,
    NOTEBOOKS,
    PAIRWISE_NOTEBOOK,
)
from alignbench_utils.report.pages import execute_notebook

# 07 runs when a config has judge_eval:, 08 when it has pairwise:
ALL_NOTEBOOKS = (*NOTEBOOKS, JUDGE_EVAL_NOTEBOOK, PAIRWISE_NOTEBOOK)
PATHS = [NOTEBOOK_DIR / f"{name}.ipynb" for name in ALL_NOTEBOOKS]


def outputs_text(path: Path) -> str:
    """All text outputs of an executed notebook (streams, text/plain and text/html results)."""
    nb = nbformat.read(str(path), as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            parts += [out.get("text", ""), data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


def stderr_text(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return "\n".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
                     if out.get("name") == "stderr")


@pytest.mark.parametrize("path", PATHS, ids=ALL_NOTEBOOKS)
def test_committed_notebook_is_clean(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit without outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for cell in code:
        tree = ast.parse(cell.source)
        banned = [type(n).__name__ for n in ast.walk(tree)
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                    ast.Lambda))]
        assert not banned, f"{path.name}: {banned} in a notebook cell"


@pytest.mark.parametrize("path", PATHS, ids=ALL_NOTEBOOKS)
def test_parameters_are_typed_and_documented(path):
    params = papermill.inspect_notebook(str(path))
    assert params
    for name, info in params.items():
        assert info["inferred_type_name"] in {"str", "int", "float", "bool", "list", "dict"}, name
        assert len(info["help"]) > 10, f"{path.name}: parameter {name} lacks a # help comment"
        assert "key" not in name or name == "api_key_env", f"{name}: keys never are parameters"
    assert "run_dir" in params


def test_kernel_runs_the_venv_interpreter(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)")]
    source = tmp_path / "probe.ipynb"
    nbformat.write(nb, str(source))
    executed = execute_notebook(source, tmp_path / "out.ipynb", {})
    assert outputs_text(executed).strip() == sys.prefix


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """Two judges over three models (2 per category), with a few failures and human labels."""
    root = tmp_path_factory.mktemp("run")
    write_run(root, judges=("judge-a", "judge-b"))
    write_human_labels(root / "human.csv", judgment_records("judge-a"))
    labels = pd.DataFrame({"question_id": [r["question_id"] for r in judgment_records("judge-a")
                                           if r["model"] == "strong"][:10],
                           "model_a": "strong", "model_b": "weak", "label": "A"})
    labels.to_json(root / "pairs.jsonl", orient="records", lines=True)
    return root


def run_nb(name: str, run_dir: Path, **params) -> Path:
    out = run_dir / "executed" / f"{name}-{len(list(run_dir.glob('executed/*')))}.ipynb"
    return execute_notebook(NOTEBOOK_DIR / f"{name}.ipynb", out, {"run_dir": str(run_dir), **params})


def test_03_aggregate_writes_results(run_dir):
    executed = run_nb("03_aggregate", run_dir, judge="judge-a")
    board = pd.read_csv(run_dir / "results" / "leaderboard.csv")
    expected = aggregate.leaderboard(run_dir / "judgments", judge="judge-a")
    assert list(board.columns) == list(expected.columns)
    assert {"n_ok", "n_failed", "总分", "中文推理", "中文语言"} <= set(board.columns)
    pd.testing.assert_frame_equal(board, expected, check_dtype=False)
    assert board["n_failed"].sum() == 2
    for name in ("leaderboard.xlsx", "dimensions.csv", "failures.csv", "leaderboard_legacy.csv"):
        assert (run_dir / "results" / name).is_file(), name
    text = outputs_text(executed)
    assert "leaderboard by judge-a" in text and "parse_failed" in text
    assert not stderr_text(executed)


def test_04_analysis_writes_statistics_and_figures(run_dir):
    executed = run_nb("04_analysis", run_dir, judge="judge-a", n_boot=200, seed=1)
    for name in ("leaderboard", "category_heatmap", "radar", "score_distributions",
                 "paired_forest", "dimension_heatmap", "failures"):
        for ext in ("png", "svg"):
            assert (run_dir / "figures" / f"{name}.{ext}").stat().st_size > 1000, (name, ext)
    ci = pd.read_csv(run_dir / "results" / "bootstrap_ci.csv")
    assert set(ci["model"]) == {"strong", "weak", "reference"}
    assert (ci["lower"] <= ci["estimate"] + 1e-9).all() and (ci["estimate"] <= ci["upper"] + 1e-9).all()
    comparisons = pd.read_csv(run_dir / "results" / "comparisons.csv")
    assert len(comparisons) == 3 and {"p_adjusted", "significant"} <= set(comparisons.columns)
    for name in ("category_tests.csv", "tiers.csv", "mixed_effects.csv"):
        assert len(pd.read_csv(run_dir / "results" / name)) > 0, name
    assert "200 bootstrap resamples" in outputs_text(executed)
    provenance = json.loads((run_dir / "results" / "statistics_provenance.json").read_text())
    assert provenance["settings"] == {"judge": "judge-a", "n_boot": 200, "level": 0.95,
                                      "correction": "holm", "seed": 1}
    nb = nbformat.read(str(executed), as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 7
    assert not stderr_text(executed)


def test_05_agreement_with_human_scores_and_second_judge(run_dir):
    executed = run_nb("05_agreement", run_dir, judge="judge-a", second_judge="judge-b",
                      human_labels=str(run_dir / "human.csv"), n_boot=200)
    human = pd.read_csv(run_dir / "results" / "agreement_human.csv")
    spearman = human[(human["level"] == "sample") & (human["metric"] == "spearman")]
    assert float(spearman["estimate"].iloc[0]) > 0.5  # labels are the judge's scores ± 1
    judges = pd.read_csv(run_dir / "results" / "agreement_judges.csv")
    assert (judges["analysis"] == "inter-judge").all()
    assert "No human labels" not in outputs_text(executed)


def test_05_agreement_pairwise_labels(run_dir):
    executed = run_nb("05_agreement", run_dir, judge="judge-a",
                      human_labels=str(run_dir / "pairs.jsonl"), n_boot=100)
    pairwise = pd.read_csv(run_dir / "results" / "agreement_pairwise.csv", index_col=0)
    assert 0 <= float(pairwise.loc["accuracy", "value"]) <= 1
    assert "labelled pairs" in outputs_text(executed)


def test_05_agreement_says_so_plainly_without_inputs(tmp_path):
    write_run(tmp_path)
    executed = run_nb("05_agreement", tmp_path, n_boot=100)
    text = outputs_text(executed)
    assert "No human labels given" in text and "No second judge given" in text
    assert not list((tmp_path / "results").glob("agreement_*"))


def test_06_error_analysis(run_dir):
    executed = run_nb("06_error_analysis", run_dir, judge="judge-a", second_judge="judge-b",
                      n_worst=1)
    text = outputs_text(executed)
    assert "2 failed judgments" in text
    assert "The judge rambled" in text  # raw text of the parse failure
    assert "&lt;b&gt;要点" in text and "<b>要点" not in text  # answers shown as text, not HTML
    assert "answers scored ok by both judges" in text
    assert "spearman(score, length)" in text
    assert (run_dir / "figures" / "score_vs_length.png").is_file()


def test_01_and_02_against_the_fault_server(tmp_path, fault_server):
    fault_server.configure(malformed_rate=0.2, seed=3)
    models = [{"name": "m1", "base_url": fault_server.base_url, "model_id": "fake-1",
               "sampling": {"temperature": None, "max_tokens": 64, "system_prompt": None}},
              {"name": "reference", "base_url": "reference"}]
    judges = [{"name": "j1", "base_url": fault_server.base_url, "model_id": "fake-judge",
               "structured": "none", "max_reasks": 0, "template": None,
               "sampling": {"max_tokens": 256}}]
    generated = run_nb("01_generate", tmp_path, models=models, per_category=1, concurrency=4)
    assert not stderr_text(generated)
    answers = [json.loads(line) for line in
               (tmp_path / "answers" / "m1.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(answers) == 8 and all(a["status"] == "ok" for a in answers)
    assert (tmp_path / "answers" / "reference.jsonl").is_file()
    executed = run_nb("02_judge", tmp_path, judges=judges, models=["m1", "reference"],
                      concurrency=4)
    frame = aggregate.judgments_frame(tmp_path / "judgments")
    assert len(frame) == 16 and set(frame["judge"]) == {"j1"}
    assert frame["status"].isin(["ok", "parse_failed"]).all()
    assert "judge j1 on m1, reference: done" in outputs_text(executed)
    assert not stderr_text(executed)  # e.g. no progress-bar warning in the report
