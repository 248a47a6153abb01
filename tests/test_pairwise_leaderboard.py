"""The pairwise AlignBench leaderboard: models judged against a baseline in both orders,
resumable, then win rates, Bradley-Terry, length control and ranking agreement; notebook 08
and `alignbench run` with a `pairwise:` section, against the fault server."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alignbench_utils.cli import main
from alignbench_utils.config import ConfigError, parse_config
from alignbench_utils.data.store import read_records_under
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import run_judging
from alignbench_utils.stages.pairwise_leaderboard import compare_with_baseline, pairwise_leaderboard


def _answers(run_dir: Path, server, questions: list[dict]) -> None:
    for name, size in (("short", 0), ("long", 3000)):
        server.configure(answer_bytes=size)
        run_generation(questions, EndpointConfig(name=name, base_urls=[server.base_url],
                                                 model_id=name), run_dir / "answers" /
                       f"{name}.jsonl", progress=False)
    server.configure(answer_bytes=0)
    run_generation(questions, EndpointConfig.reference(), run_dir / "answers" / "reference.jsonl",
                   progress=False)


def test_models_against_a_baseline_resume_and_every_table(tmp_path, fault_server, questions16):
    _answers(tmp_path, fault_server, questions16)
    judge = {"name": "pj", "base_url": fault_server.base_url, "model_id": "pj-id",
             "backoff_base_s": 0.01}
    run_judging(tmp_path / "answers", EndpointConfig(name="pointwise", base_urls=[
        fault_server.base_url], model_id="pw"), tmp_path / "judgments" / "pointwise",
        progress=False)
    fault_server.configure(malformed_rate=0.1, error_rate=0.1, position_bias=0.7, seed=4)
    fault_server.reset()
    compare_with_baseline(tmp_path, judge, baseline="reference")
    records = read_records_under(tmp_path / "comparisons")
    assert len(records) == 2 * 2 * 16  # two challengers × 16 questions × both orders
    assert {r["order"] for r in records} == {"ab", "ba"}
    assert any(r["status"] == "parse_failed" and r["judgment"] for r in records)
    first = fault_server.stats["total"]
    fault_server.configure(malformed_rate=0.0, error_rate=0.0)
    fault_server.reset()
    compare_with_baseline(tmp_path, judge, baseline="reference")
    assert fault_server.stats["total"] <= first and fault_server.stats["total"] == sum(
        r["status"] == "error" for r in records)

    board = pairwise_leaderboard(tmp_path, judge="pj", baseline="reference", n_boot=100)
    overview = board.overview().set_index("model")
    assert set(overview.index) == {"short", "long", "reference"}
    assert overview.loc["reference", "rating"] == pytest.approx(1000.0)
    assert overview.loc["long", "mean_length"] > overview.loc["short", "mean_length"]
    assert set(board.win_rates["metric"]) >= {"数学计算", "总分"}
    assert int(board.win_rates["n_parse_failed"].sum()) >= 0
    assert board.agreement is not None and -1 <= board.agreement.tau <= 1
    assert (tmp_path / "results" / "pairwise_leaderboard.csv").is_file()
    assert (tmp_path / "results" / "pairwise_win_rates.csv").is_file()


def test_config_checks_the_baseline_and_judge():
    base = {"name": "t", "models": [{"name": "a", "base_url": "reference"},
                                    {"name": "b", "base_url": "http://h/v1", "model_id": "x"}],
            "judges": [{"name": "j", "base_url": "http://h/v1", "model_id": "x"}]}
    cfg = parse_config(base | {"pairwise": {"baseline": "a"}})
    assert cfg.pairwise_judge.name == "j" and cfg.pairwise.protocol == "alignbench-pairwise"
    with pytest.raises(ConfigError, match="'c' is not one of the models"):
        parse_config(base | {"pairwise": {"baseline": "c"}})
    with pytest.raises(ConfigError, match="'k' is not one of the judges"):
        parse_config(base | {"pairwise": {"baseline": "a", "judge": "k"}})


def test_run_with_a_pairwise_section_executes_notebook_08(tmp_path, fault_server, monkeypatch):
    from test_pipeline import KEY, KEY_ENV, write_config

    monkeypatch.setenv(KEY_ENV, KEY)
    path = write_config(tmp_path, fault_server.base_url)
    path.write_text(path.read_text(encoding="utf-8") + "pairwise:\n  baseline: reference\n",
                    encoding="utf-8")
    assert main(["run", str(path), "--no-progress"]) == 0
    run_dir, report_dir = tmp_path / "runs" / "e2e", tmp_path / "reports" / "e2e"
    assert (run_dir / "notebooks" / "08_pairwise.ipynb").is_file()
    board = pd.read_csv(run_dir / "results" / "pairwise_leaderboard.csv")
    assert set(board["model"]) == {"m1", "reference"}
    assert (run_dir / "figures" / "pairwise_ratings.png").is_file()
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="08_pairwise.html"' in index and "Bradley-Terry" in index
    assert fault_server.stats["pairwise"] == 2 * 16
    before = fault_server.stats["total"]
    assert main(["run", str(path), "--no-progress", "--notebooks", "08_pairwise"]) == 0
    assert fault_server.stats["total"] == before  # a rerun costs zero calls
