"""The pairwise stage over real HTTP (the fault server as a pairwise judge): both orders, the
swapped verdict mapped back, format errors kept with their raw text, faults survived, a rerun
free."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

from alignbench_utils.analysis.stats.pairwise import win_rates
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import read_records, read_records_under
from alignbench_utils.judgebench import judge_metrics
from alignbench_utils.judgebench.verdicts import map_back
from alignbench_utils.protocols import ProtocolRequest
from alignbench_utils.protocols.pairwise import PAIRWISE_PROTOCOLS
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.compare import (
    answer_pairs,
    benchmark_pairs,
    comparisons_from_records,
    pairwise_protocol,
    run_pairwise,
    verdicts_from_records,
)
from alignbench_utils.stages.judge_eval import run_judge_eval, select_items
from alignbench_utils.testing.fault_server import FaultServer, fake_verdict

ITEMS = select_items(["llmbar:Natural"], per_subset=12, seed=3)


def _endpoint(server: FaultServer, name: str = "j", **kw) -> EndpointConfig:
    kw = {"concurrency": 8, "backoff_base_s": 0.02, "max_retries": 3, "timeout_s": 5, **kw}
    return EndpointConfig(name=name, base_urls=[server.base_url], model_id=f"{name}-id", **kw)


def _run(server: FaultServer, out, protocol: str = "llmbar-vanilla-norules", **options):
    return run_pairwise(benchmark_pairs(ITEMS), _endpoint(server), out,
                        protocol=pairwise_protocol(protocol, **options), progress=False)


def test_both_orders_mapped_back_and_a_rerun_sends_nothing(fault_server, tmp_path):
    summary = _run(fault_server, tmp_path)
    assert (summary.done, summary.failed, summary.parse_failed) == (24, 0, 0)
    assert fault_server.stats["pairwise"] == 24
    path = tmp_path / "j" / "llmbar-vanilla-norules" / "llmbar__Natural.jsonl"
    records = read_records(path)
    assert Counter(r["order"] for r in records) == {"ab": 12, "ba": 12}
    by_item = {(r["item_id"], r["order"]): r for r in records}
    for item in ITEMS.itertuples():
        preferred = fake_verdict(item.output_1, item.output_2)  # the same text in both orders
        ab, ba = by_item[(item.item_id, "ab")], by_item[(item.item_id, "ba")]
        assert ab["verdict"] == ab["verdict_shown"] == preferred
        assert ba["verdict_shown"] == 3 - preferred and ba["verdict"] == preferred
        assert ab["pair_id"] == ba["pair_id"] == f"llmbar/Natural/{item.item_id}"
        assert ab["judgment"] == f"Output ({'ab'[preferred - 1]})"
        assert ab["label"] == item.label and ab["kind"] == "pairwise"
        assert ab["request"]["max_tokens"] == 50 and ab["schema_version"] == 2
    assert len(path.read_text().splitlines()) == 24
    fault_server.reset()
    again = _run(fault_server, tmp_path)
    assert (again.done, again.skipped) == (0, 24) and fault_server.stats["total"] == 0


def test_position_bias_shows_as_inconsistency(fault_server, tmp_path):
    fault_server.configure(position_bias=1.0)
    _run(fault_server, tmp_path)
    verdicts = verdicts_from_records(tmp_path)
    # always the response shown first: 1 on "ab", 2 once mapped back from "ba"
    assert verdicts.groupby("order")["verdict"].unique().map(list).to_dict() == {
        "ab": [1], "ba": [2]}
    metrics = judge_metrics(verdicts, ITEMS, n_boot=50).set_index("metric")["estimate"]
    assert metrics["consistency"] == 0 and metrics["position_bias"] == 0.5
    assert metrics["biased_first"] == 1 and metrics["correct_average"] == 0.5


def test_parse_failures_are_records_with_raw_text_never_retried(fault_server, tmp_path):
    fault_server.configure(malformed_rate=0.3, seed=2)
    summary = _run(fault_server, tmp_path)
    records = read_records_under(tmp_path)
    failed = [r for r in records if r["status"] == "parse_failed"]
    assert summary.parse_failed == len(failed) > 0 and summary.done == 24 - len(failed)
    assert all(r["verdict"] is None and r["verdict_shown"] is None and
               r["judgment"].startswith("Both responses have merits") and
               r["error"] == "no verdict under the llmbar rule" for r in failed)
    verdicts = verdicts_from_records(tmp_path)
    assert verdicts["status"].eq("parse_failed").sum() == len(failed)
    assert verdicts.loc[verdicts["status"].eq("parse_failed"), "verdict"].isna().all()
    fault_server.reset()
    assert _run(fault_server, tmp_path).skipped == 24 and fault_server.stats["total"] == 0


def test_faults_and_rate_limits_lose_nothing(fault_server, tmp_path):
    fault_server.configure(error_rate=0.5, max_concurrent=2, retry_after=0.05, latency=0.05,
                           seed=4)
    first = run_pairwise(benchmark_pairs(ITEMS), _endpoint(fault_server, max_retries=1),
                         tmp_path, protocol=pairwise_protocol("mtbench-pair-v2"),
                         progress=False)
    assert fault_server.stats["by_status"].get(429, 0) > 0
    assert first.failed > 0 and first.done + first.failed == 24
    errors = [r for r in read_records_under(tmp_path) if r["status"] == "error"]
    assert all(r["judgment"] == "" and r["error"].startswith("HTTP ") for r in errors)
    fault_server.configure(error_rate=0.0, max_concurrent=None)
    fault_server.reset()
    rerun = run_pairwise(benchmark_pairs(ITEMS), _endpoint(fault_server), tmp_path,
                         protocol=pairwise_protocol("mtbench-pair-v2"), progress=False)
    assert rerun.done == first.failed and fault_server.stats["total"] == first.failed
    final = verdicts_from_records(tmp_path)
    assert len(final) == 24 and final["status"].eq("ok").all()


@pytest.mark.parametrize("protocol", sorted(set(PAIRWISE_PROTOCOLS) - {"alignbench-pairwise"}))
def test_the_fake_judge_answers_every_protocol_in_its_format(fault_server, tmp_path, protocol):
    options = {}
    if protocol in ("autoj", "critiquellm"):  # layouts the fake judge knows (Auto-J's, ours)
        template = tmp_path / "t.txt"
        template.write_text("[BEGIN DATA]\n***\n[Query]: {task}\n***\n[Response 1]: {output_1}\n"
                            "***\n[Response 2]: {output_2}\n***\n[END DATA]\n" if protocol ==
                            "autoj" else "{task}\n[助手1的答案开始]\n{output_1}\n[助手1的答案结束]\n"
                            "[助手2的答案开始]\n{output_2}\n[助手2的答案结束]\n", encoding="utf-8")
        options["template"] = template
    pairs = benchmark_pairs(ITEMS.head(3).assign(reference="the reference"))
    judging = pairwise_protocol(protocol, **options)
    summary = run_pairwise(pairs, _endpoint(fault_server), tmp_path, protocol=judging,
                           progress=False)
    assert summary.done == 3 * len(judging.orders) and summary.parse_failed == 0
    for record in read_records_under(tmp_path):
        item = ITEMS.set_index("item_id").loc[record["item_id"]]
        assert record["verdict"] == fake_verdict(item.output_1, item.output_2)
        assert record["fallback"] is False


def test_alignbench_answers_become_the_comparisons_frame(fault_server, tmp_path, questions16):
    answers = [{**q, "model": model, "answer": f"{model} says {q['question_id']}",
                "status": "error" if (model, i) == ("x", 0) else "ok",
                "request_hash": f"{model}-{i}"}
               for model in ("x", "y", "base") for i, q in enumerate(questions16)]
    pairs = answer_pairs(answers, baseline="base")
    assert len(pairs) == 32 and {(p["model_a"], p["model_b"]) for p in pairs} == {
        ("x", "base"), ("y", "base")}
    out = RunLayout(tmp_path).comparisons_dir
    summary = run_pairwise(pairs, _endpoint(fault_server), out,
                           protocol=pairwise_protocol("alignbench-pairwise"), progress=False)
    assert (summary.done, summary.not_answered) == (62, 1)
    assert sorted(p.name for p in (out / "j" / "alignbench-pairwise").iterdir()) == [
        "x__base.jsonl", "y__base.jsonl"]
    comparisons = comparisons_from_records(out)
    assert len(comparisons) == 62 and comparisons["status"].eq("ok").all()
    row = comparisons.iloc[0]
    answer = {(a["model"], a["question_id"]): a["answer"] for a in answers}
    expected = fake_verdict(answer[(row.model_a, row.question_id)],
                            answer[(row.model_b, row.question_id)])
    assert row.winner == {1: "a", 2: "b", 0: "tie"}[map_back(expected, "ab")]
    assert row.len_a == len(answer[(row.model_a, row.question_id)])
    table = win_rates(comparisons, baseline="base", n_boot=50).set_index(["model", "metric"])
    assert int(table.loc[("x", "总分"), "n_games"]) == 15
    assert int(table.loc[("y", "总分"), "n_games"]) == 16


def test_a_missing_reference_fails_before_any_call(fault_server, tmp_path):
    from alignbench_utils.errors import InputError

    with pytest.raises(InputError, match="needs a reference answer"):
        _run(fault_server, tmp_path, "mtbench-pair-math-v1")
    assert fault_server.stats["total"] == 0


def test_judge_eval_writes_one_file_per_benchmark_subset(fault_server, tmp_path):
    summaries = run_judge_eval(["llmbar:Natural", "llmbar:Adversarial_Manual"],
                               _endpoint(fault_server), tmp_path,
                               protocol="llmbar-vanilla", per_subset=4, progress=False)
    assert [s.name for s in summaries] == ["j on llmbar:Natural",
                                           "j on llmbar:Adversarial_Manual"]
    assert [s.done for s in summaries] == [8, 8]
    files = sorted(p.name for p in (tmp_path / "j" / "llmbar-vanilla").iterdir())
    assert files == ["llmbar__Adversarial_Manual.jsonl", "llmbar__Natural.jsonl"]
    line = json.loads((tmp_path / "j" / "llmbar-vanilla" / files[1]).read_text().splitlines()[0])
    assert line["judge_model_id"] == "j-id" and line["protocol"] == "llmbar-vanilla"
    assert isinstance(pd.Timestamp(line["created_at"]), pd.Timestamp)


def test_the_pairwise_stage_reasks_as_its_protocol_says(fault_server, tmp_path):
    base = type(pairwise_protocol("mtbench-pair-v2"))

    class Reminding(base):  # type: ignore[misc, valid-type]
        def reask(self, item, first, raw):
            return ProtocolRequest([*first.messages, {"role": "assistant", "content": raw},
                                    {"role": "user", "content": "Verdict: [[A]], [[B]] or [[C]]."}],
                                   first.params)

    fault_server.configure(malformed_rate=0.5, seed=5)
    run_pairwise(benchmark_pairs(ITEMS), _endpoint(fault_server), tmp_path,
                 protocol=Reminding(), max_reasks=1, progress=False)
    records = read_records_under(tmp_path)
    reasked = [r for r in records if r.get("reasks")]
    assert len(records) == 24 and reasked
    assert all(len(r["judgment_history"]) == 1 for r in reasked)
    assert fault_server.stats["pairwise"] == 24 + len(reasked)
