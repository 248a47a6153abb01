"""Tokens and cost so far (stage summaries, provenance.json, the report's index) and
``budget_usd`` stopping a stage cleanly, over HTTP against the fault server."""

from __future__ import annotations

import json

import pytest
from run_fixtures import cand_and_judge_config

from alignbench_utils.analysis.aggregate import export_results, run_judgments_frame
from alignbench_utils.cli import main
from alignbench_utils.config import parse_config
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import read_records
from alignbench_utils.report.pages import provenance, render_index
from alignbench_utils.running.budget import BudgetExceededError
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import run_judging

PRICE = {"prompt": 2000.0, "completion": 2000.0}  # dollars per million: a few cents a request


def test_a_budget_stops_the_stage_cleanly_and_a_higher_one_continues(fault_server,
                                                                      questions16, tmp_path):
    target = tmp_path / "answers" / "cand.jsonl"
    cand = EndpointConfig("cand", [fault_server.base_url], "cand-id", concurrency=2,
                          price=PRICE, budget_usd=0.6)
    with pytest.raises(BudgetExceededError, match=r"budget_usd 0.6 of 'cand' reached.*rerun "
                                                  r"with a higher budget_usd"):
        run_generation(questions16, cand, target, max_tokens=64, progress=False)
    written = read_records(target)
    assert 0 < len(written) < 16 and all(r["status"] == "ok" for r in written)
    assert sum(r["cost_usd"] for r in written) <= 0.6
    assert fault_server.stats["total"] == len(written)  # nothing sent and not recorded

    cand.budget_usd = 100.0
    summary = run_generation(questions16, cand, target, max_tokens=64, progress=False)
    assert summary.skipped == len(written) and summary.done == 16 - len(written)
    assert fault_server.stats["total"] == 16
    spent = sum(r["cost_usd"] for r in read_records(target))
    assert summary.spent_usd == pytest.approx(spent)
    assert f"spent so far ${spent:.4f} of budget $100.00" in summary.one_line()


def test_cli_budget_exits_1_naming_it_and_needs_a_price(fault_server, tmp_path, capsys):
    args = ["generate", "--per-category", "2", "--model", "cand", "--base-url",
            fault_server.base_url, "--model-id", "cand-id", "--out", str(tmp_path),
            "--max-tokens", "64", "--no-progress", "--price", "2000", "2000"]
    assert main([*args, "--budget-usd", "0.3"]) == 1
    assert "budget_usd 0.3 of 'cand' reached" in capsys.readouterr().err
    assert main([*args, "--budget-usd", "50"]) == 0
    assert "of budget $50.00" in capsys.readouterr().out
    assert main([*args[:-3], "--budget-usd", "50"]) == 2
    assert "needs a price table" in capsys.readouterr().err


def test_provenance_and_the_report_index_show_tokens_and_cost_per_model_and_judge(
        fault_server, questions16, tmp_path):
    run = RunLayout(tmp_path / "run")
    cand = EndpointConfig("cand", [fault_server.base_url], "cand-id", price=PRICE)
    judge = EndpointConfig("j", [fault_server.base_url], "j-id", backend="batch",
                           batch={"poll_s": 0.05, "collect_s": 0.05},
                           price={**PRICE, "batch_discount": 0.5})
    answered = run_generation(questions16, cand, run.answers_file("cand"), progress=False)
    judged = run_judging(run.answers_dir, judge, run.judge_dir("j"), progress=False)
    assert answered.cost_usd and "cost $" in judged.one_line()

    paths = export_results(run_judgments_frame(run.run_dir), run.results_dir)
    spend = json.loads(paths["provenance"].read_text(encoding="utf-8"))["spend"]
    assert spend["models"]["cand"]["cost_usd"] == pytest.approx(answered.cost_usd)
    assert spend["judges"]["j"]["cost_usd"] == pytest.approx(judged.cost_usd)
    assert spend["judges"]["j"]["prompt_tokens"] == judged.prompt_tokens
    one = read_records(run.judgments_file("j", "cand"))[0]
    assert one["cost_usd"] == pytest.approx(  # the batch price: half
        (one["usage"]["prompt_tokens"] + one["usage"]["completion_tokens"]) * 2000 / 1e6 / 2)

    config = parse_config(cand_and_judge_config(run.run_dir, tmp_path / "report",
                                                fault_server.base_url))
    html = render_index(config, [], provenance(config)).read_text(encoding="utf-8")
    assert "Tokens and cost so far" in html
    assert f"${judged.cost_usd:.4f}" in html and f"${answered.cost_usd:.4f}" in html


def test_a_judges_budget_counts_its_spend_under_every_protocol(fault_server, questions16,
                                                                tmp_path):
    run = RunLayout(tmp_path / "run")
    run_generation(questions16, EndpointConfig.reference(), run.answers_file("reference"),
                   progress=False)
    judge = EndpointConfig("j", [fault_server.base_url], "j-id", concurrency=2, price=PRICE)
    first = run_judging(run.answers_dir, judge, run.judge_dir("j"), max_tokens=64,
                        progress=False)
    assert first.cost_usd
    judge.budget_usd = first.cost_usd * 1.01  # the official protocol spent nearly all of it
    sent = fault_server.stats["total"]
    with pytest.raises(BudgetExceededError):
        run_judging(run.answers_dir, judge, run.judge_dir("j", "mtbench-single"),
                    protocol="mtbench-single", max_tokens=64, progress=False)
    assert fault_server.stats["total"] - sent < 16
