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
from run_fixtures import judgment_records, write_human_labels, write_run, write_sampled_run
from test_plots import pdf_facts

from alignbench_utils.analysis import aggregate
from alignbench_utils.analysis.panels import write_judging
from alignbench_utils.config import PanelSpec
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.pipeline import (
    JUDGE_EVAL_NOTEBOOK,
    JUDGES_NOTEBOOK,
    NOTEBOOK_DIR,
    NOTEBOOKS,
    PAIRWISE_NOTEBOOK,
)
from alignbench_utils.report.pages import execute_notebook

# 07 runs when a config has judge_eval:, 08 when it has pairwise:, 09 with samples or panels
ALL_NOTEBOOKS = (*NOTEBOOKS, JUDGE_EVAL_NOTEBOOK, PAIRWISE_NOTEBOOK, JUDGES_NOTEBOOK)
PATHS = [NOTEBOOK_DIR / f"{name}.ipynb" for name in ALL_NOTEBOOKS]


def outputs_text(path: Path) -> str:
    """All text outputs of an executed notebook (streams, text/plain, text/markdown and
    text/html results)."""
    nb = nbformat.read(str(path), as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            parts += [out.get("text", ""), data.get("text/plain", ""), data.get("text/markdown", ""),
                      data.get("text/html", "")]
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
    cell = next(c for c in nbformat.read(str(path), as_version=4).cells
                if "parameters" in c.metadata.get("tags", []))
    assigned = [line.split(":")[0] for line in cell.source.splitlines() if line.strip()]
    assert list(params) == assigned, "papermill could not read every parameter line"
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


def test_09_judges_reliability_bias_power_and_calibration(tmp_path):
    run_dir = write_sampled_run(tmp_path)
    write_judging(RunLayout(run_dir), panels=[PanelSpec("panel", ["a", "b", "c"], "mean")])
    families = {"a": "qwen", "b": "llama", "c": "llama", "strong": "qwen", "weak": "llama"}
    executed = run_nb(JUDGES_NOTEBOOK, run_dir, judge="panel", families=families, n_boot=100,
                      calibrate_source="b", calibrate_target="a")
    table = pd.read_csv(run_dir / "results" / "judge_reliability.csv")
    assert table["judge"].tolist() == ["a", "b", "c", "panel"]
    assert table.set_index("judge").loc[["a", "b"], "samples"].tolist() == [2, 2]
    assert table.set_index("judge").loc[["a", "b"], "alpha_samples"].between(-1, 1).all()
    assert table.set_index("judge").loc["panel", "alpha_judges_lower"] < \
        table.set_index("judge").loc["panel", "alpha_judges_upper"]
    for name in ("judge_power", "judge_calibration"):
        assert (run_dir / "figures" / f"{name}.png").is_file(), name
    text = outputs_text(executed)
    for phrase in ("agreement_with", "panel panel", "length_slope_per_100", "self_preference",
                   "example_copy_rate", "sample (residual)", "p_rank_change", "mde",
                   "mae_calibrated", "usd_per_1000", "seconds_per_judgment"):
        assert phrase in text, phrase
    assert not stderr_text(executed)


def test_03_aggregate_writes_results(run_dir):
    """Every judge is tabulated (judge column, primary first), with the official numbers."""
    executed = run_nb("03_aggregate", run_dir, judge="judge-b")
    board = pd.read_csv(run_dir / "results" / "leaderboard.csv")
    assert list(board["judge"].unique()) == ["judge-b", "judge-a"]
    for judge in ("judge-a", "judge-b"):
        expected = aggregate.leaderboard(run_dir / "judgments", judge=judge)
        own = board[board["judge"] == judge].drop(columns="judge").reset_index(drop=True)
        assert list(own.columns) == list(expected.columns)
        pd.testing.assert_frame_equal(own, expected, check_dtype=False)
        assert own["n_failed"].sum() == 2
    assert {"n_ok", "n_failed", "总分", "中文推理", "中文语言"} <= set(board.columns)
    for name in ("leaderboard.xlsx", "dimensions.csv", "failures.csv", "leaderboard_legacy.csv"):
        assert (run_dir / "results" / name).is_file(), name
    text = outputs_text(executed)
    assert "judges: judge-b, judge-a (primary: judge-b)" in text and "parse_failed" in text
    assert "NaN" not in text and "None" not in text
    assert not stderr_text(executed)


def test_04_analysis_writes_statistics_and_figures_for_every_judge(run_dir):
    """Two judges: each gets its tables (paper leaderboard with a CI for every model, in CSV,
    Markdown and booktabs LaTeX) and figures (PDF at column width) under its own name; the
    judges are compared."""
    executed = run_nb("04_analysis", run_dir, judge="judge-a", n_boot=200, seed=1,
                      figure_width="column", english=True, decimals=1)
    results, figures = run_dir / "results", run_dir / "figures"
    for judge in ("judge-a", "judge-b"):
        for name in ("leaderboard", "category_ci", "category_heatmap", "radar",
                     "score_distributions", "paired_forest", "dimension_heatmap"):
            for ext in ("pdf", "png", "svg"):
                assert (figures / f"{name}__{judge}.{ext}").stat().st_size > 1000, (name, ext)
            inches, _ = pdf_facts(figures / f"{name}__{judge}.pdf")
            assert inches <= 3.32, (name, inches)
        ci = pd.read_csv(results / f"bootstrap_ci__{judge}.csv")
        assert set(ci["model"]) == {"strong", "weak", "reference"}
        assert (ci["lower"] <= ci["estimate"] + 1e-9).all()
        assert (ci["estimate"] <= ci["upper"] + 1e-9).all()
        paper = pd.read_csv(results / f"leaderboard_ci__{judge}.csv")
        overall = ci[ci["metric"] == "总分"].set_index("model")
        assert list(paper["Model"]) == list(overall["estimate"].sort_values(ascending=False).index)
        assert {"Rank", "Tier", "Overall", "Reasoning", "Language", "Math", "Professional",
                "n_ok", "n_failed"} <= set(paper.columns)
        best = overall.loc[paper["Model"].iloc[0]]
        assert paper["Overall"].iloc[0] == (f"{best['estimate']:.1f} [{best['lower']:.1f}, "
                                            f"{best['upper']:.1f}]")
        assert paper["Overall"].str.fullmatch(r"\d+\.\d \[\d+\.\d, \d+\.\d\]").all()
        tex = (results / f"leaderboard_ci__{judge}.tex").read_text(encoding="utf-8")
        assert all(rule in tex for rule in ("\\toprule", "\\midrule", "\\bottomrule"))
        assert f"judge {judge}" in tex
        md = (results / f"leaderboard_ci__{judge}.md").read_text(encoding="utf-8")
        assert md.count("\n") == 2 + len(paper) and "| Overall" in md
        comparisons = pd.read_csv(results / f"comparisons__{judge}.csv")
        assert len(comparisons) == 3 and {"p_adjusted", "significant"} <= set(comparisons.columns)
        for name in ("category_tests", "tiers", "mixed_effects"):
            assert len(pd.read_csv(results / f"{name}__{judge}.csv")) > 0, name
    assert (figures / "failures.pdf").is_file()
    side = pd.read_csv(results / "judges_leaderboards.csv")
    assert {"总分 · judge-a", "总分 · judge-b", "rank · judge-b"} <= set(side.columns)
    agreement = pd.read_csv(results / "judges_ranking_agreement.csv")
    assert agreement[["judge_a", "judge_b"]].values.tolist() == [["judge-a", "judge-b"]]
    assert -1 <= agreement["lower"].iloc[0] <= agreement["tau"].iloc[0] <= agreement["upper"].iloc[0]
    confusion = pd.read_csv(results / "judge_confusion__judge-a__vs__judge-b.csv", index_col=0)
    assert confusion.shape == (10, 10)
    assert (figures / "judge_confusion__judge-a__vs__judge-b.pdf").is_file()
    text = outputs_text(executed)
    assert "200 bootstrap resamples" in text and "NaN" not in text
    provenance = json.loads((results / "statistics_provenance.json").read_text())
    assert provenance["settings"] == {"judges": ["judge-a", "judge-b"], "n_boot": 200,
                                      "level": 0.95, "correction": "holm", "seed": 1}
    nb = nbformat.read(str(executed), as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2 * 7 + 2
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
    """Every judge's failures and length figure; each pair's disagreements, linked to the
    viewer."""
    executed = run_nb("06_error_analysis", run_dir, judge="judge-a", n_worst=1)
    text = outputs_text(executed)
    assert "4 failed judgments" in text  # two per judge
    assert "The judge rambled" in text  # raw text of the parse failure
    assert "&lt;b&gt;要点" in text and "<b>要点" not in text  # answers shown as text, not HTML
    assert "judge-a vs judge-b" in text
    assert 'href="viewer.html?item=judge-a%7C' in text and "side=judge%3Ajudge-b" in text
    assert "spearman(score, length)" in text
    for judge in ("judge-a", "judge-b"):
        assert (run_dir / "figures" / f"score_vs_length__{judge}.pdf").is_file()


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
