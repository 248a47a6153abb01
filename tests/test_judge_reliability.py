"""Issue 23: repeated judgments, judge panels, reliability, bias, power and calibration.

Judgments come from the fault server (whose scores move with the request's seed when
``judge_noise`` is set) or from synthetic frames with planted effects."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from run_fixtures import judgment_records, write_sampled_run

from alignbench_utils.analysis.aggregate import judgments_frame, run_judgments_frame
from alignbench_utils.analysis.panels import (
    combine,
    panel_comparisons,
    reduce_samples,
    write_judging,
)
from alignbench_utils.analysis.stats.bootstrap import bootstrap_leaderboard
from alignbench_utils.analysis.stats.calibration import calibrate_judge, calibration_errors
from alignbench_utils.analysis.stats.judge_bias import length_bias, self_preference
from alignbench_utils.analysis.stats.reliability import sample_alphas, variance_components
from alignbench_utils.analysis.stats.synthetic import synthetic_judge_samples
from alignbench_utils.cli import main
from alignbench_utils.config import ConfigError, PanelSpec, load_config, parse_config
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import read_records
from alignbench_utils.pipeline import JUDGES_NOTEBOOK, notebooks_for
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.running.engine import RunSummary
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import judging_protocol, judging_tasks, run_judging
from alignbench_utils.testing.fault_server import FaultServer


def _endpoint(server: FaultServer, name: str) -> EndpointConfig:
    return EndpointConfig(name=name, base_urls=[server.base_url], model_id=f"{name}-id",
                          concurrency=8, backoff_base_s=0.02, max_retries=2, timeout_s=5)


@pytest.fixture
def sampled_run(fault_server, questions16, tmp_path) -> tuple[Path, FaultServer]:
    """Two models' answers judged 3 times each by a judge whose scores vary with the seed."""
    answers = tmp_path / "answers"
    for model in ("cand", "other"):
        run_generation(questions16, _endpoint(fault_server, model), answers / f"{model}.jsonl",
                       progress=False)
    fault_server.configure(judge_noise=2)
    fault_server.reset()
    summary = run_judging(answers, _endpoint(fault_server, "j"), tmp_path / "judgments" / "j",
                          samples=3, seed=10, progress=False)
    assert summary.done == 2 * 16 * 3 and fault_server.stats["total"] == 96
    return tmp_path, fault_server


def test_samples_are_seeded_recorded_and_resumed(sampled_run):
    run_dir, server = sampled_run
    records = [r for m in ("cand", "other")
               for r in read_records(run_dir / "judgments" / "j" / f"{m}.jsonl")]
    assert sorted({r["sample"] for r in records}) == [0, 1, 2]
    assert all(r["request"]["seed"] == 10 + r["sample"] for r in records)
    by_item = pd.DataFrame(records).groupby(["model", "question_id"])["score"].nunique()
    assert (by_item > 1).any(), "the fault server's scores should move with the seed"
    server.reset()
    again = run_judging(run_dir / "answers", _endpoint(server, "j"), run_dir / "judgments" / "j",
                        samples=4, seed=10, progress=False)
    assert (again.skipped, again.done, server.stats["total"]) == (96, 32, 32)


def test_samples_are_sent_pass_by_pass(questions16):
    """Every answer's sample 0 before any sample 1: one answer's samples share their whole
    prompt, and only one pass apart can a server's prompt cache serve the later ones. Each
    pass starts with the model the pass before ended with."""
    answers = [{**q, "model": m, "answer": "答", "status": "ok"}
               for m in ("cand", "other") for q in questions16[:4]]
    endpoint = EndpointConfig("j", ["http://127.0.0.1:9/v1"], "j-id")
    tasks = judging_tasks(answers, judging_protocol(max_tokens=512, seed=10), endpoint, Path("out"),
                          RunSummary("judge", "j"), samples=3)
    assert [t.item.get("sample", 0) for t in tasks] == [0] * 8 + [1] * 8 + [2] * 8
    sent = [(t.item["model"], t.item["question_id"]) for t in tasks]
    ids = [q["question_id"] for q in questions16[:4]]
    forward = [("cand", i) for i in ids] + [("other", i) for i in ids]
    assert sent == forward + forward[4:] + forward[:4] + forward
    assert tasks[0].request.messages == tasks[12].request.messages  # ("cand", first), pass 2


def test_alpha_equals_the_krippendorff_package_on_the_records(sampled_run):
    run_dir, _ = sampled_run
    records = [r for m in ("cand", "other")
               for r in read_records(run_dir / "judgments" / "j" / f"{m}.jsonl")]
    units = sorted({(r["model"], r["question_id"]) for r in records})
    data = np.full((3, len(units)), np.nan)
    for r in records:
        data[r["sample"], units.index((r["model"], r["question_id"]))] = r["score"]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    table = sample_alphas(run_judgments_frame(run_dir, combine=False), n_boot=200)
    row = table.set_index("judge").loc["j"]
    assert row["alpha_samples"] == pytest.approx(expected, abs=1e-12)
    assert row["samples"] == 3 and row["n_items"] == len(units)
    assert row["alpha_samples_lower"] < row["alpha_samples"] < row["alpha_samples_upper"]


def test_tables_take_the_mean_over_samples_and_count_failures():
    frame = judgments_frame([
        {"judge": "j", "model": "m", "question_id": 1, "category": "数学计算", "sample": s,
         "status": st, "score": sc}
        for s, st, sc in ((0, "ok", 4.0), (1, "ok", 9.0), (2, "parse_failed", None),
                          (3, "ok", 5.0))])
    assert len(frame) == 4  # every sample kept: the dedup key has the sample
    mean, median = reduce_samples(frame).iloc[0], reduce_samples(frame, "median").iloc[0]
    assert (mean["score"], median["score"]) == (6.0, 5.0)
    assert (mean["n_samples"], mean["n_samples_ok"]) == (4, 3)


@pytest.mark.parametrize("reduce", ["mean", "median", "majority"])
def test_panel_score_is_the_reduction_of_its_members(tmp_path, reduce):
    run_dir = write_sampled_run(tmp_path)
    write_judging(RunLayout(run_dir), panels=[PanelSpec("p", ["a", "b", "c"], reduce)])
    frame = run_judgments_frame(run_dir).set_index(["judge", "model", "question_id"])
    raw = [r for j in "abc" for f in sorted((run_dir / "judgments" / j).glob("*.jsonl"))
           for r in read_records(f)]
    member_scores: dict = {}
    for r in raw:
        if r["status"] == "ok":
            member_scores.setdefault((r["model"], r["question_id"]), {}) \
                .setdefault(r["judge"], []).append(r["score"])
    checked_failure = False
    for (model, qid), by_judge in member_scores.items():
        means = [float(np.mean(v)) for v in by_judge.values()]
        expected = {"mean": np.mean(means), "median": np.median(means)}.get(reduce)
        if reduce == "majority":
            values, counts = np.unique(np.round(means), return_counts=True)
            expected = float(np.median(values[counts == counts.max()]))
        row = frame.loc[("p", model, qid)]
        assert row["score"] == pytest.approx(expected)
        assert row["n_members_ok"] == len(by_judge)
        if len(by_judge) == 2:
            assert row["n_members_failed"] == 1 and "a failed" in row["judgment"]
            checked_failure = True
    assert checked_failure
    assert frame.loc[("a", "weak")]["n_samples"].eq(2).all()


def test_pairwise_panel_votes():
    comparisons = pd.DataFrame({
        "judge": ["x", "y", "z", "x", "y", "z"], "question_id": [1, 1, 1, 2, 2, 2],
        "category": "数学计算", "model_a": "m", "model_b": "n", "order": "ab",
        "status": ["ok", "ok", "error", "ok", "ok", "ok"], "winner": ["a", "b", None, "b", "b", "a"]})
    votes = panel_comparisons(comparisons, PanelSpec("p", ["x", "y", "z"], "majority"))
    assert votes["winner"].tolist() == ["tie", "b"]
    assert votes["n_members_failed"].tolist() == [1, 0]


def test_bootstrap_resamples_samples_within_items():
    frame = synthetic_judge_samples({"a": 5.0, "b": 6.0}, {"j": 0.0}, per_category=6,
                                    samples=4, sample_sd=2.0, question_sd=0.2)
    items = reduce_samples(frame)
    both = bootstrap_leaderboard(items, n_boot=400, seed=1)
    questions_only = bootstrap_leaderboard(items.drop(columns="sample_scores"), n_boot=400,
                                           seed=1)
    width = (both["upper"] - both["lower"]).mean()
    assert width > 1.05 * (questions_only["upper"] - questions_only["lower"]).mean()
    assert both["estimate"].tolist() == questions_only["estimate"].tolist()
    one = reduce_samples(frame[frame["sample"].eq(0)])
    assert bootstrap_leaderboard(one, n_boot=100, seed=1).equals(
        bootstrap_leaderboard(one.drop(columns="sample_scores"), n_boot=100, seed=1))


def test_bias_statistics_recover_planted_effects():
    families = {"qa": "qwen", "qb": "qwen", "la": "llama", "judge-q": "qwen", "judge-l": "llama"}
    frame = synthetic_judge_samples(
        {"qa": 3.5, "qb": 4.5, "la": 4.0}, {"judge-q": 0.3, "judge-l": 0.0}, per_category=40,
        samples=1, length_slope={"judge-q": 0.2}, self_bonus={"judge-q": 1.5},
        families=families, sample_sd=0.8, seed=3)
    slopes = length_bias(frame).set_index("judge")
    q, other = slopes.loc["judge-q"], slopes.loc["judge-l"]
    assert q["length_slope_lower"] < 0.2 < q["length_slope_upper"]
    assert q["length_slope_lower"] > 0.1
    assert other["length_slope_lower"] < 0 < other["length_slope_upper"]
    prefs = self_preference(frame, families, n_boot=500).set_index("judge")
    q = prefs.loc["judge-q"]
    assert q["self_preference_lower"] < 1.5 < q["self_preference_upper"]
    assert q["self_preference_lower"] > 0.5  # the leniency of 0.3 is not mistaken for it
    components = variance_components(synthetic_judge_samples(
        {"a": 4.0, "b": 6.0, "c": 8.0}, {"j": 0.0, "k": 1.0}, per_category=10, samples=3,
        seed=4)).set_index("component")["variance"]
    assert components["sample (residual)"] == pytest.approx(1.0 + 1 / 12, rel=0.25)
    assert components["model"] == pytest.approx(8 / 3, rel=0.5)


def test_calibration_beats_raw_scores_on_held_out_questions():
    frame = synthetic_judge_samples({"a": 4.0, "b": 6.0, "c": 8.0}, {"new": 0.0}, samples=1,
                                    per_category=12, seed=5)
    old = frame.assign(judge="old", score=np.clip(np.round(1 + 0.6 * frame["score"]), 1, 10))
    items = pd.concat([frame, old], ignore_index=True)
    for method in ("linear", "isotonic"):
        errors = calibration_errors(calibrate_judge(items, "new", "old", method=method))
        overall = errors.set_index("category").loc["all"]
        assert overall["mae_calibrated"] < 0.5 * overall["mae_raw"]


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(
        "name: t\nmodels:\n  - {name: r, base_url: reference}\njudges:\n"
        "  - {name: a, base_url: 'http://h/v1', model_id: x, samples: 3, family: qwen}\n"
        "  - {name: b, base_url: 'http://h/v1', model_id: y}\n" + extra, encoding="utf-8")
    return path


def test_config_panels_and_samples_are_validated_with_line_and_key_path(tmp_path):
    cfg = load_config(_config(tmp_path, "panels:\n  - {name: p, judges: [a, b], reduce: median}\n"))
    assert cfg.judges[0].samples == 3 and cfg.judges[1].samples == 1
    assert cfg.panels[0].reduce == "median" and cfg.judges[0].family == "qwen"
    assert JUDGES_NOTEBOOK in notebooks_for(cfg)
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "panels:\n  - name: p\n    judges: [a, zz]\n"))
    assert err.value.line == 9 and err.value.field == "panels[0].judges[1]"
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "panels:\n  - {name: a, judges: [a, b]}\n"))
    assert err.value.field == "panels[0].name"
    with pytest.raises(ConfigError) as err:
        parse_config({"name": "t", "models": [{"name": "r", "base_url": "reference"}],
                      "judges": [{"name": "a", "base_url": "local", "samples": 2,
                                  "sampling": {"seed": None}}]})
    assert err.value.field == "judges[0].sampling.seed"
    single = parse_config({"name": "t", "models": [{"name": "r", "base_url": "reference"}],
                           "judges": [{"name": "a", "base_url": "local"}]})
    assert JUDGES_NOTEBOOK not in notebooks_for(single)


def test_cli_judge_samples(fault_server, questions16, tmp_path):
    answers = tmp_path / "answers"
    run_generation(questions16[:4], _endpoint(fault_server, "cand"), answers / "cand.jsonl",
                   progress=False)
    code = main(["judge", "--answers", str(answers), "--judge", "j", "--base-url",
                 fault_server.base_url, "--model-id", "j-id", "--out", str(tmp_path / "out"),
                 "--samples", "2", "--no-progress"])
    assert code == 0
    records = read_records(tmp_path / "out" / "j" / "cand.jsonl")
    assert sorted(r["sample"] for r in records) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert json.loads(json.dumps(records[0]))["request"]["seed"] in (0, 1)


def test_combine_without_samples_or_panels_keeps_the_frame():
    frame = judgments_frame(judgment_records("j"))
    combined = combine(frame)
    assert combined[["model", "question_id", "status"]].equals(frame[["model", "question_id",
                                                                      "status"]])
    assert combined["score"].equals(frame["score"])


def test_viewer_shows_panels_like_any_judge(tmp_path):
    from test_viewer import decode

    from alignbench_utils.report.viewer import page_data, write_viewer

    run_dir = write_sampled_run(tmp_path / "run")
    write_judging(RunLayout(run_dir), panels=[PanelSpec("p", ["a", "b", "c"], "median")])
    page = write_viewer(run_dir, tmp_path / "viewer.html")
    rows = decode(page_data(page.read_text(encoding="utf-8")))
    panel = [r for r in rows if r["judge"] == "p"]
    expected = run_judgments_frame(run_dir).query("judge == 'p'")
    assert len(panel) == len(expected) > 0
    by_item = expected.set_index(["model", "question_id"])["score"]
    assert all(r["score"] == pytest.approx(by_item[(r["model"], r["question_id"])])
               for r in panel)
    assert all(r["judgment"].startswith("panel p (median of 3 judges)") for r in panel)
    assert sum(r["judge"] == "a" for r in rows) == 2 * len(panel)  # every sample shown


def test_estimate_counts_samples(tmp_path, fault_server):
    from test_estimate import write_config

    from alignbench_utils.stages.estimate import estimate_run

    path = write_config(tmp_path, fault_server.base_url, per_category=1)
    single = {(r.role, r.name, r.answers_of): r for r in estimate_run(path)}
    path.write_text(path.read_text(encoding="utf-8").replace(
        "max_reasks: 0", "max_reasks: 0\n    samples: 3"), encoding="utf-8")
    sampled = {(r.role, r.name, r.answers_of): r for r in estimate_run(path)}
    for key in [("judge", "j1", "m1"), ("judge", "j1", "reference")]:
        assert sampled[key].requests == 3 * single[key].requests == 24
        assert sampled[key].input_tokens == 3 * single[key].input_tokens
        assert sampled[key].output_tokens_bound == 3 * single[key].output_tokens_bound
    assert fault_server.stats["total"] == 0


def test_notebook_judges_take_samples_and_family_from_the_yaml_entry(fault_server, questions16,
                                                                      tmp_path):
    from alignbench_utils.stages.judge import judge_models

    run_dir = tmp_path / "run"
    run_generation(questions16[:3], _endpoint(fault_server, "cand"),
                   RunLayout(run_dir).answers_file("cand"), progress=False)
    judge_models([{"name": "j", "base_url": fault_server.base_url, "model_id": "j-id",
                   "samples": 2, "family": "qwen"}], run_dir)
    records = read_records(RunLayout(run_dir).judgments_file("j", "cand"))
    assert sorted(r["sample"] for r in records) == [0, 0, 0, 1, 1, 1]


def test_run_with_samples_and_a_panel_writes_the_judges_report(tmp_path, fault_server):
    fault_server.configure(judge_noise=2)
    url = fault_server.base_url
    path = tmp_path / "rel.yaml"
    path.write_text(f"""\
name: rel
dataset: {{source: v1.1, per_category: 1, seed: 0}}
models:
  - {{name: m1, base_url: {url}, model_id: fake-1, family: fake, sampling: {{max_tokens: 64}}}}
  - {{name: reference, base_url: reference}}
judges:
  - {{name: j1, base_url: {url}, model_id: judge-1, max_reasks: 0, samples: 3, family: fake}}
  - {{name: j2, base_url: {url}, model_id: judge-2, max_reasks: 0, family: other}}
panels:
  - {{name: jury, judges: [j1, j2], reduce: median}}
statistics: {{n_boot: 100, seed: 0}}
output: {{run_dir: {tmp_path / "runs"}, report_dir: {tmp_path / "report"}}}
""", encoding="utf-8")
    assert main(["run", str(path), "--no-progress"]) == 0
    assert fault_server.stats["judge"] == 16 * 3 + 16
    table = pd.read_csv(tmp_path / "runs" / "results" / "judge_reliability.csv")
    assert table["judge"].tolist() == ["j1", "j2", "jury"]
    assert table["samples"].tolist() == [3, 1, 1] and not np.isnan(table.loc[0, "alpha_samples"])
    failures = pd.read_csv(tmp_path / "runs" / "results" / "failures.csv")
    assert set(failures["judge"]) == {"j1", "j2", "jury"}  # the panel is a judge in the tables
    assert (tmp_path / "report" / f"{JUDGES_NOTEBOOK}.html").is_file()
    index = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert f"{JUDGES_NOTEBOOK}.html" in index
