"""Money and data safety (issue 20): spend, budget and estimate over every stage, one writer per
run folder, every request ends as a record, errors a user can act on. Against the fault server
over real HTTP, and real processes where two of them meet."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import psutil
import pytest
from run_fixtures import cand_and_judge_config

from alignbench_utils.analysis.aggregate import export_results, run_judgments_frame
from alignbench_utils.cli import main
from alignbench_utils.config import ConfigError, load_config, parse_config
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.questions import load_questions, write_official_answers
from alignbench_utils.data.store import read_records, read_records_under
from alignbench_utils.report.pages import provenance, render_index
from alignbench_utils.running.accounting import run_spend, spend_frame
from alignbench_utils.running.budget import BudgetExceededError
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.running.engine import StageFailedError
from alignbench_utils.running.runlock import lock_holder, run_lock
from alignbench_utils.stages.estimate import estimate_run
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import run_judging
from alignbench_utils.stages.judge_eval import run_judge_eval, run_judge_eval_stage
from alignbench_utils.stages.pairwise_leaderboard import compare_with_baseline

PRICE = {"prompt": 2000.0, "completion": 2000.0}  # dollars per million: a few cents a request


def _two_models(run: RunLayout, server, questions: list[dict]) -> None:
    run_generation(questions, EndpointConfig("cand", [server.base_url], "cand-id"),
                   run.answers_file("cand"), progress=False)
    run_generation(questions, EndpointConfig.reference(), run.answers_file("reference"),
                   progress=False)


def _judge(server, **extra) -> dict:
    return {"name": "j", "base_url": server.base_url, "model_id": "j-id", "price": PRICE,
            "backoff_base_s": 0.01, **extra}


def _cost(records: list[dict], judge: str = "j") -> float:
    return sum(r.get("cost_usd") or 0.0 for r in records if r.get("judge") == judge)


def test_the_budget_counts_every_stage_and_stops_the_one_that_would_pass_it(
        fault_server, questions16, tmp_path):
    run = RunLayout(tmp_path / "run")
    _two_models(run, fault_server, questions16[:4])
    judge = EndpointConfig.from_dict({**_judge(fault_server), "base_url": fault_server.base_url})
    run_judging(run.answers_dir, judge, run.judge_dir("j"), progress=False)
    pointwise = _cost(read_records_under(run.judgments_dir))
    assert pointwise > 0
    # The pairwise stage: its budget is the whole run's, so what pointwise judging spent counts.
    budget = pointwise + 0.05
    fault_server.reset()
    with pytest.raises(BudgetExceededError, match=rf"budget_usd {budget:g} of 'j' reached: "
                                                  r"\$\d+\.\d{4} spent"):
        compare_with_baseline(run.run_dir, _judge(fault_server, budget_usd=budget),
                              baseline="reference")
    compared = read_records_under(run.comparisons_dir)
    assert len(compared) == fault_server.stats["total"] < 8  # stopped before passing it
    assert pointwise + _cost(compared) <= budget
    # judge-eval counts against the same budget: spend so far already exceeds what is left.
    spent = pointwise + _cost(compared)
    fault_server.reset()
    judge.budget_usd = spent + 0.01
    with pytest.raises(BudgetExceededError, match="of 'j' reached"):
        run_judge_eval(["llmbar:Natural"], judge, run.judge_eval_dir,
                       protocol="llmbar-vanilla-norules", per_subset=4, progress=False)
    assert fault_server.stats["total"] == 0


def test_every_spend_figure_sums_every_stage_with_a_breakdown(fault_server, questions16,
                                                              tmp_path):
    run = RunLayout(tmp_path / "run")
    _two_models(run, fault_server, questions16[:4])
    judge = EndpointConfig.from_dict({**_judge(fault_server), "base_url": fault_server.base_url})
    run_judging(run.answers_dir, judge, run.judge_dir("j"), progress=False)
    compare_with_baseline(run.run_dir, _judge(fault_server), baseline="reference")
    run_judge_eval(["llmbar:Natural"], judge, run.judge_eval_dir,
                   protocol="llmbar-vanilla-norules", per_subset=2, progress=False)
    stages = {stage: _cost(read_records_under(folder))
              for stage, folder in run.stage_dirs.items() if stage != "generate"}
    assert all(cost > 0 for cost in stages.values())
    total = sum(stages.values())

    spend = run_spend(run.run_dir)["judges"]["j"]
    assert spend["cost_usd"] == pytest.approx(total)
    assert {s: t["cost_usd"] for s, t in spend["stages"].items()} == pytest.approx(stages)
    frame = spend_frame(run_spend(run.run_dir)).set_index("name")
    assert frame.loc["j", "cost_usd pairwise"] == pytest.approx(stages["pairwise"])

    paths = export_results(run_judgments_frame(run.run_dir), run.results_dir)
    written = json.loads(paths["provenance"].read_text(encoding="utf-8"))["spend"]
    assert written["judges"]["j"]["cost_usd"] == pytest.approx(total)
    config = parse_config(cand_and_judge_config(run.run_dir, tmp_path / "report",
                                                fault_server.base_url))
    html = render_index(config, [], provenance(config)).read_text(encoding="utf-8")
    assert f"${total:.4f}" in html and "cost_usd judge_eval" in html
    assert f"${stages['judge_eval']:.4f}" in html


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "alignbench_utils.cli", *args]


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_writer_per_run_folder_and_a_dead_holder_is_taken_over(fault_server, tmp_path):
    fault_server.configure(latency=3.0)  # the holder is still at work when the second starts
    out = tmp_path / "run" / "answers"
    args = _cli("generate", "--per-category", "2", "--model", "cand", "--base-url",
                fault_server.base_url, "--model-id", "cand-id", "--out", str(out),
                "--concurrency", "1", "--no-progress")
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: lock_holder(tmp_path / "run").get("pid") == first.pid)
        _wait_for(lambda: fault_server.stats["total"] >= 1)
        second = subprocess.run(args, check=False, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        started = lock_holder(tmp_path / "run")["started"]
        assert f"PID {first.pid}" in second.stderr and f"started {started}" in second.stderr
        assert "one writer per run folder" in second.stderr
        assert first.poll() is None  # the holder goes on
        first.kill()  # kill -9: the kernel drops its lock; the lock file stays
    finally:
        first.kill()
        first.wait(timeout=30)
        first.stdout.close()
        first.stderr.close()
    kept = read_records_under(out)
    fault_server.configure(latency=0.0)
    third = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert lock_holder(tmp_path / "run")["pid"] != first.pid  # taken over, nothing deleted
    records = read_records_under(out)
    assert len(records) == 16 and {r["request_hash"] for r in kept} <= {
        r["request_hash"] for r in records}
    lines = (out / "cand.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len({json.loads(line)["request_hash"] for line in lines})


def test_alignbench_run_takes_the_run_folder_lock(tmp_path, capsys):
    config = _run_yaml(tmp_path, "http://127.0.0.1:9/v1")
    with run_lock(tmp_path / "run", command="alignbench run other"):
        assert main(["run", str(config), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"PID {os.getpid()}" in err and "alignbench run other" in err


def test_alignbench_report_waits_for_no_writer(tmp_path, capsys):
    config = _run_yaml(tmp_path, "http://127.0.0.1:9/v1")
    (tmp_path / "run" / "notebooks").mkdir(parents=True)
    (tmp_path / "run" / "notebooks" / "01_generate.ipynb").write_text("{}", encoding="utf-8")
    with run_lock(tmp_path / "run", command="alignbench run r.yaml"):
        assert main(["report", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"PID {os.getpid()}" in err and "alignbench run r.yaml" in err


def test_a_200_with_a_cut_off_json_body_is_retried_then_recorded_as_an_error(
        fault_server, questions16, tmp_path):
    target = tmp_path / "answers" / "cand.jsonl"
    cand = EndpointConfig("cand", [fault_server.base_url], "cand-id", max_retries=1,
                          backoff_base_s=0.01)
    fault_server.configure(truncated_rate=1.0)
    with pytest.raises(StageFailedError, match="body is not complete JSON"):
        run_generation(questions16[:3], cand, target, progress=False)
    records = read_records(target)
    assert len(records) == 3 and {r["status"] for r in records} == {"error"}
    assert all('it began: {"id": "chatcmpl-' in r["error"] and r["attempts"] == 2
               for r in records)
    fault_server.configure(truncated_rate=0.5, seed=3)
    cand.max_retries = 8
    summary = run_generation(questions16[:8], cand, target, progress=False)
    assert summary.done == 8 and summary.requests > 8  # some were cut off, then retried
    assert {r["status"] for r in read_records(target)} == {"ok"}


def test_a_stage_whose_every_reply_is_unreadable_stops_or_warns(fault_server, questions16,
                                                                tmp_path, capsys):
    run = RunLayout(tmp_path / "run")
    _two_models(run, fault_server, questions16[:3])
    fault_server.configure(malformed_rate=1.0)
    judge = {"name": "j", "base_url": fault_server.base_url, "model_id": "j-id"}
    with pytest.raises(StageFailedError, match=r"all 6 replies of judge 'j' under protocol "
                                               r"'alignbench-pairwise' are unreadable.*"
                                               r"most common reply \(6×\): 'Both responses"):
        compare_with_baseline(run.run_dir, judge, baseline="reference")
    args = ["judge-eval", "--benchmark", "llmbar:Natural", "--per-subset", "3", "--protocol",
            "llmbar-vanilla-norules", "--judge", "j", "--base-url", fault_server.base_url,
            "--model-id", "j-id", "--out", str(run.judge_eval_dir), "--no-progress",
            "--n-boot", "50"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert ("WARNING: judge-eval 'j on llmbar:Natural': all 6 replies of judge 'j' under "
            "protocol 'llmbar-vanilla-norules' are unreadable") in out
    with pytest.raises(StageFailedError, match="are unreadable"):  # a rerun: the same records
        compare_with_baseline(run.run_dir, judge, baseline="reference")


def _yaml(tmp_path, body: str) -> str:
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nmodels:\n  - {name: reference, base_url: reference}\n"
                    "  - {name: cand, base_url: 'http://127.0.0.1:9/v1', model_id: c}\n"
                    "judges:\n  - {name: j, base_url: 'http://127.0.0.1:9/v1', model_id: x}\n"
                    + body, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("body, where, words", [
    ("dataset: {source: v2.0}\n", "line 7, field 'dataset.source'",
     "unknown question source 'v2.0'"),
    ("dataset: {source: missing.jsonl}\n", "line 7, field 'dataset.source'",
     "no such question file 'missing.jsonl'"),
    ("pairwise:\n  baseline: reference\n  protocol: alignbench-pairwse\n",
     "line 9, field 'pairwise.protocol'", "unknown pairwise protocol 'alignbench-pairwse'"),
    ("pairwise:\n  baseline: reference\n  protocol: pointwise_alignbench\n",
     "line 9, field 'pairwise.protocol'", "(pointwise_alignbench is pointwise)"),
    ("pairwise:\n  baseline: reference\n  protocol: autoj\n",
     "line 9, field 'pairwise.protocol'", "needs the user's template"),
    ("judge_eval: {benchmarks: [llmbar], protocol: pointwise_alignbench}\n",
     "line 7, field 'judge_eval.protocol'", "unknown pairwise protocol"),
    ("agreement: {human_labels: missing.csv}\n", "line 7, field 'agreement.human_labels'",
     "missing.csv: no such file"),
])
def test_registry_names_and_sources_are_checked_at_validation(tmp_path, capsys, body, where,
                                                              words):
    config = _yaml(tmp_path, body)
    assert main(["estimate", config]) == 2
    err = capsys.readouterr().err
    assert f"{config}, {where}" in err and words in err


def test_a_negative_price_is_refused_in_the_yaml_and_on_the_command_line(tmp_path, capsys):
    path = Path(_yaml(tmp_path, ""))
    path.write_text(path.read_text(encoding="utf-8").replace(
        "model_id: x}", "model_id: x, price: {prompt: 1.0, completion: -2.0}}"), encoding="utf-8")
    assert main(["estimate", str(path)]) == 2
    assert (f"{path}, line 6, field 'judges[0].price.completion': must be >= 0"
            in capsys.readouterr().err)
    assert main(["generate", "--model", "m", "--out", str(tmp_path), "--base-url",
                 "http://127.0.0.1:9/v1", "--model-id", "x", "--price", "1", "-2"]) == 2
    assert "field '--price': must be >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("extra, words", [
    (["--per-subset", "-2"], "argument --per-subset: must be >= 1, got -2"),
    (["--n-boot", "0"], "argument --n-boot: must be >= 1, got 0"),
    (["--concurrency", "0"], "argument --concurrency: must be >= 1, got 0"),
    (["--timeout", "0"], "field '--timeout': must be > 0 seconds"),
    (["--max-retries", "-1"], "field '--max-retries': must be >= 0"),
    (["--max-tokens", "0"], "field '--max-tokens': must be >= 1"),
    (["--budget-usd", "-1", "--price", "1", "1"], "field '--budget-usd': must be > 0"),
])
def test_every_cli_option_is_checked_like_its_yaml_twin(tmp_path, capsys, extra, words):
    args = ["judge-eval", "--benchmark", "llmbar:Natural", "--protocol", "llmbar-vanilla",
            "--judge", "j", "--base-url", "http://127.0.0.1:9/v1", "--model-id", "x", "--out",
            str(tmp_path), *extra]
    assert _exit_code(args) == 2
    assert words in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before anything ran


def _exit_code(args: list[str]) -> int:
    """``main``'s return code, or argparse's exit code when it refused an option."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_human_labels_are_checked_against_the_run_at_validation(tmp_path, capsys):
    labels = tmp_path / "human.csv"
    labels.write_text("question_id,model,human_score\n1,other,3\n2,other,4\n", encoding="utf-8")
    config = _yaml(tmp_path, f"agreement: {{human_labels: {labels}}}\n")
    assert main(["estimate", config]) == 2
    err = capsys.readouterr().err
    assert f"line 7, field 'agreement.human_labels': {labels}: 0 of its 2 rows match" in err
    assert "models in the file: other; in the run: cand, reference" in err
    labels.write_text("question_id,model,human_score\n1,cand,3\n2,other,4\n", encoding="utf-8")
    assert load_config(config).agreement.human_labels == str(labels)
    labels.write_text("question_id,score\n1,3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"human_labels': .*human.csv: expected columns"):
        load_config(config)


def test_a_huge_question_is_loaded_with_a_warning(tmp_path):
    rows = [{"question_id": i, "category": "基本任务", "subcategory": "信息抽取",
             "question": "问" * size, "reference": "答"} for i, size in ((1, 10), (2, 100_001))]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    with pytest.warns(UserWarning, match=r"q.jsonl: 1 question\(s\) longer than 100,000 "
                                         r"characters \(line 2: 100,001 characters\)"):
        assert len(load_questions(str(path))) == 2


def test_import_refuses_two_answers_to_one_question(questions16, tmp_path, capsys):
    official = [{**q, "model": "gpt", "answer": f"答案{q['question_id']}"}
                for q in [*questions16[:3], questions16[1]]]
    write_official_answers(official, tmp_path / "gpt.jsonl")
    assert main(["import", "--answers", str(tmp_path / "gpt.jsonl"), "--out",
                 str(tmp_path / "run")]) == 2
    qid = questions16[1]["question_id"]
    assert (f"gpt.jsonl, line 4, field 'question_id': duplicate answer of model 'gpt' to "
            f"question_id {qid} (first on line 2 of") in capsys.readouterr().err
    assert not (tmp_path / "run" / "answers").exists()  # nothing imported


def test_estimate_has_rows_for_the_pairwise_and_judge_eval_stages(fault_server, tmp_path,
                                                                  questions16, capsys):
    url = fault_server.base_url
    path = tmp_path / "r.yaml"
    path.write_text(
        f"name: r\noutput: {{run_dir: {tmp_path / 'run'}}}\ndataset: {{per_category: 1}}\n"
        "models:\n  - {name: reference, base_url: reference}\n"
        f"  - {{name: cand, base_url: '{url}', model_id: c}}\n"
        f"judges:\n  - {{name: j, base_url: '{url}', model_id: x, price: {PRICE}}}\n"
        "pairwise: {baseline: reference}\n"
        "judge_eval: {benchmarks: ['llmbar:Natural'], per_subset: 3}\n", encoding="utf-8")
    config = load_config(path)
    before = {(r.role, r.answers_of): r for r in estimate_run(config)}
    pairwise = before[("pairwise", "cand vs reference")]
    judge_eval = before[("judge_eval", "llmbar:Natural")]
    assert pairwise.requests == 2 * 8 and judge_eval.requests == 2 * 3
    assert pairwise.cost_bound_usd > 0 and judge_eval.cost_bound_usd > 0

    run = config.layout
    questions = load_questions("v1.1", per_category=1).to_list()
    run_generation(questions, EndpointConfig("cand", [url], "c"), run.answers_file("cand"),
                   progress=False)
    run_generation(questions, EndpointConfig.reference(), run.answers_file("reference"),
                   progress=False)
    judge = asdict(config.judges[0])
    compare_with_baseline(run.run_dir, judge, baseline="reference")
    run_judge_eval_stage(run.run_dir, [judge], benchmarks=["llmbar:Natural"],
                         protocol="llmbar-vanilla-norules", per_subset=3)
    assert len(read_records_under(run.comparisons_dir)) == pairwise.requests
    assert len(read_records_under(run.judge_eval_dir)) == judge_eval.requests
    after = {(r.role, r.answers_of): r for r in estimate_run(config)}
    assert after[("pairwise", "cand vs reference")].requests == 0
    assert after[("judge_eval", "llmbar:Natural")].recorded == 6
    spent = _cost(read_records_under(run.comparisons_dir) + read_records_under(
        run.judge_eval_dir))
    assert after[("judge_eval", "llmbar:Natural")].spent_usd == pytest.approx(spent)
    assert main(["estimate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "pairwise j on cand vs reference: input the alignbench-pairwise prompts" in out


def _full_disk_at(size: int):
    """A child process whose files cannot grow past ``size`` bytes (EFBIG, as a full disk
    gives ENOSPC): it works for any user, where a read-only folder does not stop root."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_a_full_disk_gives_one_line_and_a_rerun_repairs_the_store(fault_server, tmp_path):
    fault_server.configure(answer_bytes=3000)
    out = tmp_path / "run" / "answers"
    args = _cli("generate", "--per-category", "2", "--model", "cand", "--base-url",
                fault_server.base_url, "--model-id", "cand-id", "--out", str(out),
                "--concurrency", "2", "--no-progress")
    full = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300,
                          preexec_fn=_full_disk_at(20_000))
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    assert (f"alignbench generate: {out / 'cand.jsonl'}: File too large; make room or fix "
            "permissions, then rerun the same command") in full.stderr
    assert 0 < (out / "cand.jsonl").stat().st_size <= 20_000
    rerun = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    lines = (out / "cand.jsonl").read_text(encoding="utf-8").splitlines()
    assert len({json.loads(line)["question_id"] for line in lines}) == 16  # none torn


def _kernels(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True)
            if any("ipykernel" in part for part in p.cmdline())]


def _run_yaml(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    """A run YAML: model ``cand`` judged by ``j`` at ``base_url``, 2 questions per category."""
    config = tmp_path / "r.yaml"
    config.write_text(
        f"name: r\noutput: {{run_dir: {tmp_path / 'run'}, report_dir: {tmp_path / 'rep'}}}\n"
        f"dataset: {{per_category: 2}}\n{extra}"
        f"models: [{{name: cand, base_url: '{base_url}', model_id: c}}]\n"
        f"judges: [{{name: j, base_url: '{base_url}', model_id: x}}]\n", encoding="utf-8")
    return config


def test_ctrl_c_prints_one_line_exits_130_and_leaves_no_kernel(fault_server, tmp_path):
    fault_server.configure(latency=1.0)
    config = _run_yaml(tmp_path, fault_server.base_url, "concurrency: 1\n")
    proc = subprocess.Popen(_cli("run", str(config), "--no-progress"), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kernels: list[psutil.Process] = []
    try:
        _wait_for(lambda: fault_server.stats["total"] >= 2, timeout=180)
        kernels = _kernels(proc.pid)
        assert kernels
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("alignbench run: interrupted; rerun the same "
                                            "command to resume")
    assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kernels)


def test_a_full_disk_under_alignbench_run_gives_one_line(fault_server, tmp_path):
    fault_server.configure(answer_bytes=3000)
    config = _run_yaml(tmp_path, fault_server.base_url)
    full = subprocess.run(_cli("run", str(config), "--no-progress"), check=False,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=_full_disk_at(40_000))
    assert full.returncode == 1, full.stderr
    last = full.stderr.strip().splitlines()[-1]
    assert "Traceback" not in full.stderr and last.startswith("alignbench run: ")
    assert "File too large" in last and str(tmp_path / "run") in last
    assert last.endswith("rerun the same command (records written so far are kept)")
