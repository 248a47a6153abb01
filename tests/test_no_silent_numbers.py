"""Issue: no silent wrong numbers. Each input path that used to give a wrong number, a leak
or an unactionable message now gives the right result or a located error."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from alignbench_utils import (
    InputError,
    judgments_frame,
    leaderboard,
    load_questions,
    official_parse,
    parse_judgment,
)
from alignbench_utils.cli import main
from alignbench_utils.config import ConfigError, load_config
from alignbench_utils.data.official import write_official_answers
from alignbench_utils.data.store import read_records
from alignbench_utils.pipeline import find_secret_leaks
from alignbench_utils.protocols.prompts import build_judge_prompt, sha256_text
from alignbench_utils.running.client import EndpointConfig, EndpointDownError
from alignbench_utils.stages.generate import StageFailedError, run_generation
from alignbench_utils.stages.judge import run_judging

PASTED = "gsk_" + "LITERALKEY1234567890abcdef"  # split: no key-like literal in the repo
FAST = ["--max-retries", "1", "--no-progress"]


def _official_judgments(questions: list[dict], model: str, failed_every: int) -> list[dict]:
    """Official judge.py records: model_id, rating, score; -1 for a failed parse."""
    rows = []
    for i, q in enumerate(questions):
        score = -1 if i % failed_every == 0 else 3 + (i * 7 + len(model)) % 8
        rows.append({"question_id": q["question_id"], "category": q["category"],
                     "subcategory": q["subcategory"], "model_id": model,
                     "question": q["question"], "answer": f"{model}的回答{i}",
                     "judgment": "评价……" + ("" if score == -1 else f"{{'综合得分': {score}}}"),
                     "rating": {} if score == -1 else {"综合得分": score}, "score": score})
    return rows


def test_official_judgments_give_the_import_leaderboard_through_every_input(questions16,
                                                                             tmp_path):
    rows = {m: _official_judgments(questions16, m, every) for m, every in (("ma", 5), ("mb", 3))}
    folder = tmp_path / "official" / "gpt-4"
    folder.mkdir(parents=True)
    for model, recs in rows.items():
        (folder / f"{model}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["import", "--judgments", *map(str, sorted(folder.glob("*.jsonl"))),
                 "--out", str(run)]) == 0
    expected = leaderboard(run / "judgments")
    assert list(expected["模型"]) == ["ma", "mb"] or list(expected["模型"]) == ["mb", "ma"]
    assert dict(zip(expected["模型"], expected["n_failed"])) == {"ma": 4, "mb": 6}
    assert expected["n_ok"].sum() == 32 - 10 and (expected["数学计算"] > 0).all()

    both = [r for recs in rows.values() for r in recs]
    one_file = tmp_path / "both.jsonl"
    one_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in both),
                        encoding="utf-8")
    for source in (pd.DataFrame(both), both, one_file, folder):
        got = leaderboard(source)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        frame = judgments_frame(source)
        assert len(frame) == 32 and (frame["legacy_score"] == -1).sum() == 10


def test_records_in_neither_format_name_the_missing_fields(tmp_path):
    with pytest.raises(InputError, match=r"lacks \['category', 'model'\]"):
        leaderboard([{"question_id": 1, "score": 7}])
    path = tmp_path / "x.jsonl"
    path.write_text('{"question_id": 1, "model": "m", "category": "数学计算"}\n'
                    '{"question_id": 2, "score": 7}\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        judgments_frame(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 2, "category")
    with pytest.raises(InputError, match="lack columns"):
        leaderboard(pd.DataFrame({"question_id": [1], "score": [7]}))


CONFIG = """\
name: leak
models:
  - name: m
    base_url: http://127.0.0.1:9/v1
    model_id: m-1
    api_key_env: {env}
judges:
  - name: j
    base_url: http://127.0.0.1:9/v1
    model_id: j-1
"""


def test_a_pasted_key_is_rejected_without_echo(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(CONFIG.format(env=PASTED), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.line, info.value.field) == (6, "models[0].api_key_env")
    assert PASTED not in str(info.value) and "looks like an API key" in str(info.value)
    assert main(["run", str(path), "--no-progress"]) == 2
    out = capsys.readouterr()
    assert PASTED not in out.out + out.err and "line 6" in out.err
    assert not (tmp_path / "runs").exists() and not Path("runs/leak").exists()
    assert main(["generate", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                 "--model-id", "x", "--api-key-env", PASTED, "--out", str(tmp_path)]) == 2
    assert PASTED not in capsys.readouterr().err


def test_an_unset_key_variable_is_a_located_error_before_the_run(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(CONFIG.format(env="ALIGNBENCH_UNSET_TEST_VAR"), encoding="utf-8")
    load_config(path)  # the report and validation alone need no key
    with pytest.raises(ConfigError, match="ALIGNBENCH_UNSET_TEST_VAR is not set") as info:
        load_config(path, check_env=True)
    assert info.value.line == 6
    assert main(["run", str(path), "--no-progress"]) == 2
    assert "line 6, field 'models[0].api_key_env'" in capsys.readouterr().err


def test_the_leak_scan_checks_the_api_key_env_strings_themselves(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(CONFIG.format(env="SOME_KEY_VAR"), encoding="utf-8")
    config = load_config(path)
    config.models[0].api_key_env = PASTED  # as if validation had been bypassed
    page = tmp_path / "page.html"
    page.write_text(f"<pre>api_key_env: {PASTED}</pre>", encoding="utf-8")
    (tmp_path / "clean.html").write_text("api_key_env: SOME_KEY_VAR", encoding="utf-8")
    assert find_secret_leaks(config, [tmp_path]) == [page]


def test_unknown_question_source_fails_at_once_with_the_allowed_values(capsys, monkeypatch):
    import datasets

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub must not be asked")

    monkeypatch.setattr(datasets, "load_dataset", no_hub)
    for source in ("v1.2", "questions.txt"):
        with pytest.raises(InputError) as info:
            load_questions(source)
        assert all(word in str(info.value) for word in ("'v1.0'", "'v1.1'", "JSONL", "hf:ORG/NAME"))
    started = time.monotonic()
    assert main(["generate", "--questions", "v1.2", "--model", "reference", "--out", "x"]) == 2
    assert time.monotonic() - started < 10 and "hf:ORG/NAME" in capsys.readouterr().err
    with pytest.raises(AssertionError, match="hub must not"):
        load_questions("hf:THUDM/AlignBench")


def test_bom_is_accepted_and_a_json_array_says_jsonl_is_expected(tmp_path, questions16):
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(
        json.dumps(q, ensure_ascii=False) + "\n" for q in questions16[:3]).encode())
    assert len(load_questions(path)) == 3
    path.write_text(json.dumps(questions16[:3], ensure_ascii=False, indent=1), encoding="utf-8")
    with pytest.raises(InputError, match=r"JSON array; JSONL \(one JSON object per line\)"):
        load_questions(path)


def test_empty_imported_answers_are_failed_never_judged(questions16, tmp_path, fault_server):
    answers = [{**q, "model": "gpt", "answer": "   \n" if i < 3 else f"答案{i}"}
               for i, q in enumerate(questions16)]
    write_official_answers(answers, tmp_path / "gpt.jsonl")
    run = tmp_path / "run"
    assert main(["import", "--answers", str(tmp_path / "gpt.jsonl"), "--out", str(run)]) == 0
    imported = read_records(run / "answers" / "gpt.jsonl")
    assert sum(r["status"] == "error" for r in imported) == 3
    judge = EndpointConfig(name="j", base_urls=[fault_server.base_url], model_id="j-id")
    summary = run_judging(run / "answers", judge, run / "judgments" / "j", progress=False)
    assert (summary.done, summary.not_answered) == (13, 3)
    assert fault_server.stats["judge"] == 13
    board = leaderboard(judgments_frame(run / "judgments", answers=run / "answers"))
    assert (int(board.loc[0, "n_ok"]), int(board.loc[0, "n_failed"])) == (13, 3)


def test_judge_takes_official_answer_files_and_names_the_real_file_and_line(questions16,
                                                                            tmp_path,
                                                                            fault_server):
    folder = tmp_path / "answers"
    official = [{**q, "model": m, "answer": f"{m}答{q['question_id']}"}
                for m in ("a", "b") for q in questions16[:4]]
    write_official_answers(official[:4], folder / "a.jsonl")
    write_official_answers(official[4:], folder / "b.jsonl")
    args = ["judge", "--answers", str(folder), "--judge", "j", "--base-url",
            fault_server.base_url, "--model-id", "j-id", "--out", str(tmp_path / "j"), *FAST]
    assert main(args) == 0
    assert len(read_records(tmp_path / "j" / "j" / "b.jsonl")) == 4
    lines = (folder / "b.jsonl").read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[1])
    del bad["category"]
    lines[1] = json.dumps(bad, ensure_ascii=False)
    (folder / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        run_judging(folder, EndpointConfig(name="j", base_urls=[fault_server.base_url],
                                           model_id="j-id"), tmp_path / "k", progress=False)
    assert (info.value.path, info.value.line, info.value.field) == (
        str(folder / "b.jsonl"), 2, "category")


def test_import_judgments_in_their_own_folder_needs_a_judge_name(questions16, tmp_path,
                                                                 monkeypatch, capsys):
    (tmp_path / "m.jsonl").write_text("".join(
        json.dumps(r, ensure_ascii=False) + "\n"
        for r in _official_judgments(questions16, "m", 4)), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--judgments", "m.jsonl", "--out", "run"]) == 2
    assert "--judge" in capsys.readouterr().err and not Path("run").exists()
    assert main(["import", "--judgments", "m.jsonl", "--judge", "gpt-4", "--out", "run"]) == 0
    assert len(read_records(Path("run/judgments/gpt-4/m.jsonl"))) == 16


def test_an_unreachable_endpoint_stops_early_with_the_url_and_cause(questions16, tmp_path,
                                                                    capsys):
    dead = "http://127.0.0.1:9/v1"
    endpoint = EndpointConfig(name="m", base_urls=[dead], model_id="x", backoff_base_s=0.01)
    started = time.monotonic()
    with pytest.raises(EndpointDownError, match=r"'m' at http://127.0.0.1:9/v1: 10 requests "
                                                r"failed and none succeeded.*connection error"):
        run_generation(questions16 * 40, endpoint, tmp_path / "m.jsonl", progress=False)
    assert time.monotonic() - started < 30
    args = ["generate", "--model", "m", "--base-url", dead, "--model-id", "x",
            "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 1
    assert "none succeeded" in capsys.readouterr().err


def test_a_path_typo_stops_the_stage_naming_the_model_url_and_status(questions16, tmp_path,
                                                                     fault_server):
    typo = fault_server.base_url[:-1]  # .../v
    endpoint = EndpointConfig(name="m", base_urls=[typo], model_id="x",
                              max_failures_without_success=0)
    with pytest.raises(StageFailedError, match=rf"'m' at {typo}: all 16 requests failed; most "
                                               r"common error: HTTP 404"):
        run_generation(questions16, endpoint, tmp_path / "m.jsonl", progress=False)
    answers = [{**q, "model": "ok", "answer": "答", "status": "ok"} for q in questions16]
    judge = EndpointConfig(name="fm", base_urls=[typo], model_id="x")
    with pytest.raises(EndpointDownError, match=rf"'fm' at {typo}: .*HTTP 404"):
        run_judging(answers, judge, tmp_path / "j", progress=False)


@pytest.mark.parametrize("form", ["think_tags", "reasoning_content"])
def test_reasoning_is_kept_apart_from_answers_and_verdicts(form, questions16, tmp_path,
                                                           fault_server):
    fault_server.configure(reasoning=form)
    endpoint = EndpointConfig(name="r1", base_urls=[fault_server.base_url], model_id="r1")
    run_generation(questions16[:4], endpoint, tmp_path / "r1.jsonl", progress=False)
    answers = read_records(tmp_path / "r1.jsonl")
    for rec in answers:
        assert "<think>" not in rec["answer"] and "草稿" not in rec["answer"]
        assert "草稿" in rec["reasoning"] and rec["reasoning_chars"] == len(rec["reasoning"])
    run_judging(tmp_path / "r1.jsonl", endpoint, tmp_path / "j", progress=False, max_reasks=0)
    by_id = {rec["question_id"]: rec for rec in answers}
    for judged in read_records(tmp_path / "j" / "r1.jsonl"):
        rec = by_id[judged["question_id"]]
        assert judged["prompt_sha256"] == sha256_text(build_judge_prompt(rec, rec["answer"]))
        assert "草稿" not in judged["judgment"] and "草稿" in judged["judge_reasoning"]
        # the thinking holds a stray {'综合得分': 1}; only the final dict counts
        assert judged["status"] == "ok" and judged["score"] == parse_judgment(
            judged["judgment"]).score


def test_grammar_output_reads_like_an_official_judgment(questions16, tmp_path, fault_server):
    answers = [{**q, "model": "a", "answer": "答", "status": "ok"} for q in questions16[:4]]
    judge = EndpointConfig(name="j", base_urls=[fault_server.base_url], model_id="x")
    run_judging(answers, judge, tmp_path / "j", structured="grammar", progress=False)
    for rec in read_records(tmp_path / "j" / "a.jsonl"):
        critique, _, scores = rec["judgment"].rpartition("\n")
        assert len(critique) >= 20 and scores.startswith("{'")
        assert official_parse(rec["judgment"])[1] == rec["score"]



def test_run_with_a_model_url_typo_exits_1_naming_model_url_and_status(tmp_path, fault_server,
                                                                       monkeypatch, capsys):
    from test_pipeline import KEY, KEY_ENV, write_config

    monkeypatch.setenv(KEY_ENV, KEY)
    path = write_config(tmp_path, fault_server.base_url)
    typo = fault_server.base_url[:-1]
    path.write_text(path.read_text(encoding="utf-8").replace(
        f"base_url: {fault_server.base_url}", f"base_url: {typo}", 1), encoding="utf-8")
    assert main(["run", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "'m1'" in err and typo in err and "HTTP 404" in err
    assert not (tmp_path / "runs" / "e2e" / "notebooks" / "02_judge.ipynb").exists()


def test_a_model_with_some_failed_answers_stays_in_every_table(tmp_path, fault_server,
                                                               monkeypatch):
    from test_pipeline import KEY, KEY_ENV, write_config

    monkeypatch.setenv(KEY_ENV, KEY)
    fault_server.configure(error_rate=0.3, seed=2)
    path = write_config(tmp_path, fault_server.base_url)
    text = path.read_text(encoding="utf-8").replace(
        "    model_id: fake-1\n", "    model_id: fake-1\n    max_retries: 0\n").replace(
        "    model_id: fake-judge\n", "    model_id: fake-judge\n    max_retries: 8\n"
        "    backoff_base_s: 0.01\n")
    path.write_text(text, encoding="utf-8")
    assert main(["run", str(path), "--no-progress", "--notebooks", "01_generate", "02_judge",
                 "03_aggregate"]) == 0
    run_dir = tmp_path / "runs" / "e2e"
    failed_answers = sum(r["status"] == "error"
                         for r in read_records(run_dir / "answers" / "m1.jsonl"))
    assert 0 < failed_answers < 16
    board = pd.read_csv(run_dir / "results" / "leaderboard.csv").set_index("模型")
    assert int(board.loc["m1", "n_failed"]) >= failed_answers
    assert int(board.loc["m1", "n_ok"] + board.loc["m1", "n_failed"]) == 16
    index = (tmp_path / "reports" / "e2e" / "index.html").read_text(encoding="utf-8")
    assert "Failures per model" in index and re.search(r"<td[^>]*>m1</td>", index)
