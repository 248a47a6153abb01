"""Where the user meets the judge meta-evaluation: ``alignbench judge-eval``, the run YAML's
``judge_eval:`` section, notebook 07 and ``alignbench run`` with it."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest
from test_notebooks import outputs_text, stderr_text
from test_viewer import item_keys
from test_viewer_links import LINK

from alignbench_utils.cli import main
from alignbench_utils.config import ConfigError, load_config
from alignbench_utils.data.store import read_records_under
from alignbench_utils.pipeline import (
    JUDGE_EVAL_NOTEBOOK,
    NOTEBOOK_DIR,
    NOTEBOOKS,
    notebook_parameters,
    notebooks_for,
    run_pipeline,
)
from alignbench_utils.report.pages import execute_notebook
from alignbench_utils.report.viewer import page_data
from alignbench_utils.stages.judge_eval import select_items

FAST = ["--max-retries", "1", "--no-progress", "--n-boot", "100"]


def _cli(server, out: Path, *extra: str, benchmarks=("llmbar:Natural",)) -> list[str]:
    return ["judge-eval", *[a for b in benchmarks for a in ("--benchmark", b)],
            "--judge", "fake", "--base-url", server.base_url, "--model-id", "fake-id",
            "--out", str(out), *extra]


def test_cli_prints_a_line_per_benchmark_and_the_study_table(fault_server, tmp_path, capsys):
    fault_server.configure(malformed_rate=0.1, position_bias=0.3, seed=5)
    args = _cli(fault_server, tmp_path, "--protocol", "llmbar-vanilla-norules",
                "--per-subset", "10", *FAST,
                benchmarks=("llmbar:Natural", "llmbar:Adversarial_GPTOut"))
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "judge-eval fake on llmbar:Natural: done" in out
    assert "judge-eval fake on llmbar:Adversarial_GPTOut: done" in out
    assert "ChatGPT Vanilla_NoRules (published)" in out and "correct_average" in out
    table = pd.read_csv(tmp_path / "study_table.csv")
    assert set(table["judge"]) == {"fake", "ChatGPT Vanilla_NoRules (published)"}
    assert (table["n_items"] == 10).all() and set(table["n_calls"]) == {20}
    fake = table[table["judge"].eq("fake")]
    assert (fake["parse_failed_rate"] > 0).any() and (fake["position_bias"] > 0).all()
    records = read_records_under(tmp_path / "fake")
    assert len(records) == 40 and {r["status"] for r in records} == {"ok", "parse_failed"}
    fault_server.reset()
    assert main(args) == 0  # a rerun costs zero calls
    assert "skipped (already done) 20" in capsys.readouterr().out
    assert fault_server.stats["total"] == 0


@pytest.mark.parametrize("extra, words", [
    (["--protocol", "llmbar-vanilla", "--benchmark", "llmbar:Nat"],
     "field 'benchmark': unknown LLMBar subset 'Nat'"),
    (["--protocol", "nope"], "field 'protocol': unknown judging protocol 'nope'"),
    (["--protocol", "pointwise_alignbench"], "is pointwise, not pairwise"),
    (["--protocol", "critiquellm"], "field 'template': this protocol reads the user's template"),
    (["--protocol", "autoj", "--template", "missing.txt"],
     "missing.txt, field 'template': no such template file"),
    (["--protocol", "mtbench-pair-math-v1"],
     "item llmbar/Natural/0, field 'reference': this protocol needs a reference answer"),
])
def test_cli_bad_input_exits_2_with_a_located_error(fault_server, tmp_path, capsys, extra,
                                                    words):
    assert main(_cli(fault_server, tmp_path, *extra, *FAST)) == 2
    assert words in capsys.readouterr().err
    assert fault_server.stats["total"] == 0


def test_cli_exits_1_when_the_judge_is_unreachable(tmp_path, capsys):
    args = ["judge-eval", "--benchmark", "llmbar:Natural", "--protocol", "llmbar-vanilla",
            "--judge", "down", "--base-url", "http://127.0.0.1:9/v1", "--model-id", "x",
            "--out", str(tmp_path), "--backoff-base-s", "0.01", *FAST]
    assert main(args) == 1
    assert "'down' at http://127.0.0.1:9/v1" in capsys.readouterr().err


JUDGE_EVAL = """\
judge_eval:
  benchmarks: [llmbar:Natural]
  per_subset: 6
"""


def write_config(tmp_path: Path, url: str, judge_eval: str = JUDGE_EVAL) -> Path:
    path = tmp_path / "je.yaml"
    path.write_text(f"""\
name: je
models:
  - {{name: reference, base_url: reference}}
judges:
  - {{name: j1, base_url: {url}, model_id: fake-judge, max_reasks: 0}}
statistics: {{n_boot: 100, seed: 0}}
output: {{run_dir: {tmp_path / "runs" / "je"}, report_dir: {tmp_path / "reports" / "je"}}}
{judge_eval}""", encoding="utf-8")
    return path


def test_config_judge_eval_defaults_and_notebook_parameters(tmp_path):
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/v1"))
    spec = config.judge_eval
    assert (spec.protocol, spec.per_subset, spec.published) == ("llmbar-vanilla-norules", 6, True)
    assert [j.name for j in config.judge_eval_judges] == ["j1"]
    assert notebooks_for(config) == (*NOTEBOOKS, JUDGE_EVAL_NOTEBOOK)
    params = notebook_parameters(config)[JUDGE_EVAL_NOTEBOOK]
    assert params["judges"][0]["model_id"] == "fake-judge" and params["per_subset"] == 6
    assert params["benchmarks"] == ["llmbar:Natural"] and params["template"] == ""
    without = load_config(write_config(tmp_path, "http://127.0.0.1:9/v1", ""))
    assert notebooks_for(without) == NOTEBOOKS and JUDGE_EVAL_NOTEBOOK not in \
        notebook_parameters(without)
    own = load_config(write_config(tmp_path, "http://127.0.0.1:9/v1", JUDGE_EVAL + (
        "  judges: [j1]\n  extra_judges:\n    - {name: j2, base_url: local}\n")))
    assert [j.name for j in own.judge_eval_judges] == ["j1", "j2"] and own.uses_local


@pytest.mark.parametrize("extra, field, words", [
    ("  judges: [nobody]\n", "judge_eval.judges[0]", "'nobody' is not one of the judges"),
    ("  protocol: pointwise_alignbench\n", "judge_eval.protocol", "unknown pairwise protocol"),
    ("  protocol: autoj\n", "judge_eval.template", "protocol autoj needs a template file"),
    ("  template: t.txt\n", "judge_eval.template", "sends its official prompt"),
    ("  per_subset: 0\n", "judge_eval.per_subset", "must be >= 1"),
    ("  extra_judges:\n    - {name: j1, base_url: local}\n", "judge_eval.extra_judges[0].name",
     "duplicate name 'j1'"),
    ("  orders: twice\n", "judge_eval.orders", "expected one of 'both', 'single' or null"),
])
def test_config_judge_eval_errors_are_located(tmp_path, extra, field, words):
    path = write_config(tmp_path, "http://127.0.0.1:9/v1", JUDGE_EVAL + extra)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == field and words in str(info.value), str(info.value)
    assert info.value.line is not None and str(path) in str(info.value)


def test_config_bad_benchmark_is_located(tmp_path):
    path = write_config(tmp_path, "http://127.0.0.1:9/v1",
                        JUDGE_EVAL.replace("llmbar:Natural", "llmbar:Natural, autoj"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "judge_eval.benchmarks[1]" and info.value.line == 9
    assert "autoj:PATH" in str(info.value)


def test_notebook_07_on_a_tiny_input(tmp_path, fault_server):
    fault_server.configure(malformed_rate=0.15, position_bias=0.4, seed=1)
    judges = [{"name": "fake", "base_url": fault_server.base_url, "model_id": "fake-id",
               "sampling": {"seed": 0}}]
    params = {"run_dir": str(tmp_path), "judges": judges,
              "benchmarks": ["llmbar:Natural", "pandalm"], "per_subset": 8, "n_boot": 100,
              "concurrency": 4, "n_worst": 2}
    executed = execute_notebook(NOTEBOOK_DIR / f"{JUDGE_EVAL_NOTEBOOK}.ipynb",
                                tmp_path / "executed.ipynb", params)
    text = outputs_text(executed)
    assert "judge-eval fake on llmbar:Natural: done" in text
    assert "judge-eval fake on pandalm: done" in text
    table = pd.read_csv(tmp_path / "results" / "judge_eval.csv")
    assert set(table["judge"]) == {"fake", "ChatGPT Vanilla_NoRules (published)",
                                   "gpt-3.5-turbo (published)", "PandaLM-7B (published)"}
    assert (table["n_items"] == 8).all()
    tex = (tmp_path / "results" / "judge_eval.tex").read_text(encoding="utf-8")
    assert r"\toprule" in tex and r"\bottomrule" in tex and "PandaLM-7B (published)" in tex
    md = (tmp_path / "results" / "judge_eval.md").read_text(encoding="utf-8")
    assert len(md.splitlines()) == 2 + len(table) and "nan" not in md.lower()
    for name in ("judge_position_bias", "judge_consistency"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 1000
    assert "parse_failed" in text and "orders_wrong" in text
    assert "Both responses have merits" in text or "Output (" in text  # raw replies shown
    assert not stderr_text(executed)
    items = select_items(["llmbar:Natural", "pandalm"], per_subset=8)
    assert len(read_records_under(tmp_path / "judge_eval")) == 2 * len(items)


def test_alignbench_run_with_judge_eval(tmp_path, fault_server):
    fault_server.configure(malformed_rate=0.1, seed=2)
    config = write_config(tmp_path, fault_server.base_url)
    (tmp_path / "other").mkdir()
    without = write_config(tmp_path / "other", fault_server.base_url, "")
    with pytest.raises(ValueError, match="unknown notebooks \\['07_judge_eval'\\]"):
        run_pipeline(without, notebooks=[JUDGE_EVAL_NOTEBOOK], progress=False)
    pages = run_pipeline(config, notebooks=[JUDGE_EVAL_NOTEBOOK], progress=False)
    assert fault_server.stats["pairwise"] == 12
    run_dir, report_dir = tmp_path / "runs" / "je", tmp_path / "reports" / "je"
    assert (run_dir / "notebooks" / f"{JUDGE_EVAL_NOTEBOOK}.ipynb").is_file()
    assert (run_dir / "results" / "judge_eval.csv").is_file()
    assert report_dir / f"{JUDGE_EVAL_NOTEBOOK}.html" in pages
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    assert f'href="{JUDGE_EVAL_NOTEBOOK}.html"' in index
    page = (report_dir / f"{JUDGE_EVAL_NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "Judge-eval subset:</strong> 6 items per benchmark subset" in page
    viewer = page_data((report_dir / "viewer.html").read_text(encoding="utf-8"))
    links = [parse_qs(html.unescape(q))["item"][0] for q in LINK.findall(page)]
    assert links and set(links) <= item_keys(viewer)  # worst disagreements open in the viewer
    fault_server.reset()
    assert main(["run", str(config), "--notebooks", JUDGE_EVAL_NOTEBOOK, "--no-progress"]) == 0
    assert fault_server.stats["total"] == 0  # the rerun resumes


def test_a_pairwise_protocol_is_refused_by_the_pointwise_judge(fault_server, tmp_path, capsys):
    answers = tmp_path / "answers.jsonl"
    answers.write_text("", encoding="utf-8")
    code = main(["judge", "--answers", str(answers), "--judge", "j", "--protocol",
                 "llmbar-vanilla", "--base-url", fault_server.base_url, "--model-id", "x",
                 "--out", str(tmp_path)])
    assert code == 2 and "use `alignbench judge-eval`" in capsys.readouterr().err


def test_no_verdicts_give_empty_tables_not_errors():
    from alignbench_utils.stages.judge_eval import (
        judge_eval_table,
        judge_eval_verdicts,
        worst_disagreements,
    )

    items = select_items(["llmbar:Natural"], per_subset=3)
    verdicts = judge_eval_verdicts("/nonexistent", items, published=False)
    assert verdicts.empty and judge_eval_table(verdicts, items, n_boot=10).empty
    assert worst_disagreements(verdicts, items).empty
