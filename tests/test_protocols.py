"""Protocols first class: MT-Bench single-answer grading shipped byte for byte, chosen by name
in the run YAML and the CLI, and part of a judgment's identity (storage, frame, tables,
viewer): one judge under two protocols is two judges, never one overwriting the other."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from alignbench_utils.analysis.aggregate import judgments_frame, leaderboard
from alignbench_utils.cli import main
from alignbench_utils.config import ConfigError, parse_config
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.questions import load_questions
from alignbench_utils.data.records import upgrade_record
from alignbench_utils.data.store import read_records
from alignbench_utils.paths import judgebench_dir
from alignbench_utils.protocols import DEFAULT_PROTOCOL, PROTOCOLS, get_protocol
from alignbench_utils.report.viewer import page_data
from alignbench_utils.stages.judge import judging_protocol

KEY_ENV = "ALIGNBENCH_TEST_KEY"


def _fastchat_entries() -> dict[str, dict]:
    lines = (judgebench_dir() / "mtbench" / "judge_prompts.jsonl").read_text(encoding="utf-8")
    return {e["name"]: e for e in map(json.loads, lines.splitlines())}


def test_mtbench_single_sends_fastchat_prompts_byte_for_byte():
    entries = _fastchat_entries()
    protocol = judging_protocol("mtbench-single", max_tokens=2048)
    questions = load_questions("v1.1", per_category=2, seed=0)
    for q in questions:
        request = protocol.request({**q, "model": "m", "answer": "答：2。"})
        math = q["category"] in ("数学计算", "逻辑推理")
        entry = entries["single-math-v1" if math else "single-v1"]
        fill = {"question": q["question"], "answer": "答：2。",
                **({"ref_answer_1": q["reference"]} if math else {})}
        assert request.messages == [
            {"role": "system", "content": entry["system_prompt"]},
            {"role": "user", "content": entry["prompt_template"].format(**fill)}]
        assert request.params == {"temperature": 0, "max_tokens": 2048}
        assert request.record_fields["judge_prompt"] == entry["name"]


def test_protocol_names_are_kebab_case_and_old_names_are_aliases():
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in PROTOCOLS)
    assert get_protocol("pointwise_alignbench") is get_protocol(DEFAULT_PROTOCOL)
    old = upgrade_record({"schema_version": 2, "judge": "j", "protocol": "pointwise_alignbench"})
    assert old["protocol"] == DEFAULT_PROTOCOL


def test_protocol_settings_refuse_options_the_protocol_lacks():
    with pytest.raises(Exception, match="mtbench-single takes no option 'structured'"):
        judging_protocol("mtbench-single", max_tokens=64, structured="json_schema")
    with pytest.raises(Exception, match="is pairwise"):
        judging_protocol("llmbar-vanilla", max_tokens=64)


def _config(judges: list[dict]) -> dict:
    return {"name": "t", "models": [{"name": "ref", "base_url": "reference"}],
            "judges": judges}


@pytest.mark.parametrize(("judge", "field", "message"), [
    ({"protocol": "nope"}, "judges[0].protocol", "is not a judging protocol"),
    ({"protocol": "llmbar-vanilla"}, "judges[0].protocol", "is pairwise"),
    ({"protocol": "mtbench-single", "structured": "json_schema"}, "judges[0].structured",
     "takes no structured option"),
])
def test_yaml_protocol_is_validated_with_its_key_path(judge, field, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(_config([{"name": "j", "base_url": "local", **judge}]))
    assert info.value.field == field


def test_yaml_protocol_error_names_the_line(tmp_path):
    from alignbench_utils.config import load_config

    path = tmp_path / "run.yaml"
    path.write_text("name: t\nmodels:\n  - {name: ref, base_url: reference}\njudges:\n"
                    "  - name: j\n    base_url: local\n    protocol: pairwise-nope\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == 7 and info.value.field == "judges[0].protocol"


def test_yaml_one_judge_under_two_protocols():
    cfg = parse_config(_config([{"name": "j", "base_url": "local"},
                                {"name": "j", "base_url": "local", "protocol": "mtbench-single"}]))
    assert [j.protocol for j in cfg.judges] == [DEFAULT_PROTOCOL, "mtbench-single"]
    assert cfg.primary_judge == f"j/{DEFAULT_PROTOCOL}" and cfg.second_judge == "j/mtbench-single"
    with pytest.raises(ConfigError, match="duplicate name 'j' under protocol mtbench-single"):
        parse_config(_config([{"name": "j", "base_url": "local", "protocol": "mtbench-single"}] * 2))
    alias = parse_config(_config([{"name": "j", "base_url": "local",
                                   "protocol": "pointwise_alignbench"}]))
    assert alias.judges[0].protocol == DEFAULT_PROTOCOL and alias.primary_judge == "j"


def test_frame_keeps_both_protocols_of_one_judge():
    rows = [{"model": "m", "question_id": 1, "category": "数学计算", "judge": "j",
             "protocol": p, "status": "ok", "score": s}
            for p, s in ((DEFAULT_PROTOCOL, 6), ("mtbench-single", 8), ("pointwise_alignbench", 7))]
    frame = judgments_frame(rows)
    assert sorted(frame["judge"]) == [f"j/{DEFAULT_PROTOCOL}", "j/mtbench-single"]
    assert frame.set_index("judge")["score"].to_dict() == {f"j/{DEFAULT_PROTOCOL}": 7.0,
                                                           "j/mtbench-single": 8.0}
    assert set(frame["judge_name"]) == {"j"} and set(frame["sample"]) == {0}
    assert judgments_frame(frame)["judge"].tolist() == frame["judge"].tolist()
    with pytest.raises(ValueError, match="several protocols"):
        leaderboard(frame, judge="j")
    alone = judgments_frame(rows[1:2])
    assert alone["judge"].tolist() == ["j"] and alone["protocol"].tolist() == ["mtbench-single"]


def test_cli_judge_protocol_writes_its_own_folder(fault_server, tmp_path):
    run = tmp_path / "run"
    assert main(["generate", "--model", "reference", "--per-category", "1",
                 "--out", str(run / "answers"), "--no-progress"]) == 0
    for protocol in (DEFAULT_PROTOCOL, "mtbench-single"):
        assert main(["judge", "--answers", str(run / "answers"), "--judge", "j",
                     "--base-url", fault_server.base_url, "--model-id", "j-id",
                     "--out", str(run / "judgments"), "--protocol", protocol,
                     "--no-progress"]) == 0
    official = read_records(run / "judgments" / "j" / "reference.jsonl")
    single = read_records(run / "judgments" / "j" / "mtbench-single" / "reference.jsonl")
    assert len(official) == len(single) == 8
    assert {r["protocol"] for r in single} == {"mtbench-single"}
    assert all(r["status"] == "ok" and 1 <= r["score"] <= 10 for r in single)
    assert {r["parse_method"] for r in single} == {"rating"}
    frame = judgments_frame(run / "judgments")
    assert frame.groupby("judge").size().to_dict() == {f"j/{DEFAULT_PROTOCOL}": 8,
                                                       "j/mtbench-single": 8}


def test_mtbench_single_reasks_an_unreadable_reply(fault_server, tmp_path):
    run = tmp_path / "run"
    assert main(["generate", "--model", "reference", "--per-category", "2",
                 "--out", str(run / "answers"), "--no-progress"]) == 0
    fault_server.configure(malformed_rate=0.5, seed=3)
    assert main(["judge", "--answers", str(run / "answers"), "--judge", "j",
                 "--base-url", fault_server.base_url, "--model-id", "j-id",
                 "--out", str(run / "judgments"), "--protocol", "mtbench-single",
                 "--max-reasks", "1", "--no-progress"]) == 0
    records = read_records(run / "judgments" / "j" / "mtbench-single" / "reference.jsonl")
    reasked = [r for r in records if r["reasks"]]
    assert reasked and all(len(r["judgment_history"]) == r["reasks"] for r in reasked)
    failed = [r for r in records if r["status"] == "parse_failed"]
    assert all(r["score"] is None and "no rating" in r["error"] for r in failed)
    assert fault_server.stats["judge"] == 16 + len(reasked)


def test_run_judges_one_judge_under_both_protocols_end_to_end(tmp_path, fault_server,
                                                              monkeypatch):
    monkeypatch.setenv(KEY_ENV, "unused-key")
    url = fault_server.base_url
    run_dir, report_dir = tmp_path / "runs" / "two", tmp_path / "reports" / "two"
    config = tmp_path / "two.yaml"
    config.write_text(f"""\
name: two
dataset: {{source: v1.1, per_category: 1, seed: 0}}
models:
  - {{name: m1, base_url: {url}, model_id: fake-1, sampling: {{max_tokens: 64}}}}
  - {{name: reference, base_url: reference}}
judges:
  - {{name: j1, base_url: {url}, model_id: fake-judge, max_reasks: 0, protocol: mtbench-single}}
  - {{name: j1, base_url: {url}, model_id: fake-judge, max_reasks: 0}}
concurrency: 4
statistics: {{n_boot: 50, seed: 0}}
output: {{run_dir: {run_dir}, report_dir: {report_dir}}}
""", encoding="utf-8")
    assert main(["estimate", str(config)]) == 0
    assert main(["run", str(config), "--no-progress"]) == 0
    assert fault_server.stats["judge"] == 32  # 2 models x 8 questions x 2 protocols
    assert len(list((run_dir / "judgments" / "j1").glob("*.jsonl"))) == 2
    assert len(list((run_dir / "judgments" / "j1" / "mtbench-single").glob("*.jsonl"))) == 2
    frame = judgments_frame(run_dir / "judgments")
    identities = {"j1/mtbench-single", f"j1/{DEFAULT_PROTOCOL}"}
    assert frame.groupby("judge").size().to_dict() == dict.fromkeys(identities, 16)
    board = pd.read_csv(run_dir / "results" / "leaderboard.csv")  # every judge identity
    assert set(board["judge"]) == {"j1/alignbench-pointwise", "j1/mtbench-single"}
    for _, rows in board.groupby("judge"):
        assert set(rows["模型"]) == {"m1", "reference"} and int(rows["n_ok"].sum()) == 16
    for identity in identities:
        assert len(leaderboard(frame, judge=identity)) == 2
    layout = RunLayout(run_dir)
    for identity in identities:  # every judge identity has its own figures
        assert layout.figure(layout.judge_figure_name("radar", identity), "svg").is_file()
    data = page_data((report_dir / "viewer.html").read_text(encoding="utf-8"))
    assert set(data["columns"]["judge"]["values"]) == identities
    assert set(data["columns"]["protocol"]["values"]) == {"mtbench-single", DEFAULT_PROTOCOL}


def test_one_status_for_unreadable_replies_and_old_pairwise_records_read_as_it(tmp_path):
    from alignbench_utils.data.records import pairwise_record
    from alignbench_utils.stages.compare import comparisons_from_records, pairwise_protocol

    assert pairwise_protocol("mtbench-pair-v2").read("no verdict").status == "parse_failed"
    assert judging_protocol("mtbench-single", max_tokens=8).read("no rating").status == \
        "parse_failed"
    old = pairwise_record({"pair_id": "1:x:y", "question_id": 1, "category": "写作能力",
                           "model_a": "x", "model_b": "y", "len_a": 1, "len_b": 1},
                          order="ab", judge="j", judgment="?", status="format_error",
                          protocol="mtbench-pair-v2")
    path = tmp_path / "x__y.jsonl"
    path.write_text(json.dumps(old, ensure_ascii=False) + "\n", encoding="utf-8")
    assert comparisons_from_records(tmp_path)["status"].tolist() == ["parse_failed"]


def test_pairwise_verdicts_name_a_judge_under_two_protocols_as_the_frame_does():
    from alignbench_utils.data.records import pairwise_record
    from alignbench_utils.stages.compare import verdicts_from_records

    pair = {"pair_id": "llmbar/Natural/0", "benchmark": "llmbar", "subset": "Natural",
            "item_id": 0, "label": 1}
    records = [pairwise_record(pair, order="ab", judge="j", judgment="Output (a)", status="ok",
                               protocol=p, verdict_shown=1, verdict=1)
               for p in ("llmbar-vanilla", "llmbar-vanilla-norules")]
    assert sorted(verdicts_from_records(records)["judge"]) == [
        "j/llmbar-vanilla", "j/llmbar-vanilla-norules"]
