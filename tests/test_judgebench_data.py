"""Judge meta-evaluation data: shipped files intact, every loader's mapping, every located error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from alignbench_utils import InputError
from alignbench_utils.judgebench import (
    BENCHMARK_NAMES,
    ITEM_COLUMNS,
    LLMBAR_PROCESSED,
    LLMBAR_SUBSETS,
    load_autoj,
    load_benchmark,
    load_critiquellm_pairwise,
    load_critiquellm_pointwise,
    load_llmbar,
    load_pandalm,
    mtbench_human_items,
)
from alignbench_utils.judgebench.user_formats import autoj_scenario_groups
from alignbench_utils.paths import REPO_ROOT, judgebench_dir


def test_shipped_files_match_their_source_checksums():
    folder = judgebench_dir()
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert len(lines) == 35
    for line in lines:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    for licence in ("llmbar/LICENSE", "pandalm/LICENSE", "mtbench/LICENSE"):
        assert (folder / licence).stat().st_size > 1000
    assert "| `pandalm/` | WeOpenML/PandaLM @3871806" in (folder / "README.md").read_text()


def test_package_never_reads_the_shared_folder():
    sources = (REPO_ROOT / "alignbench_utils").rglob("*.py")
    assert not [p for p in sources if "shared" in p.read_text() and "judgebench" in str(p)]


@pytest.mark.parametrize("subset,n", [("Natural", 100), ("Adversarial_Neighbor", 134),
                                      ("Adversarial_GPTInst", 92), ("Adversarial_GPTOut", 47),
                                      ("Adversarial_Manual", 46), ("Processed_MT-Bench", 200),
                                      ("Processed_FairEval", 66), ("Processed_LLMEval2", 200)])
def test_llmbar_subsets(subset, n):
    items = load_llmbar(subset)
    raw = json.loads((judgebench_dir() / "llmbar" / "data" / f"{subset}.json").read_text())
    assert list(items.columns[:len(ITEM_COLUMNS)]) == list(ITEM_COLUMNS) and len(items) == n
    assert items["item_id"].tolist() == [str(i) for i in range(n)]
    assert items["instruction"].tolist() == [r["input"] for r in raw]
    assert items["label"].tolist() == [r["label"] for r in raw]
    assert set(items["input"]) == {""} and set(items["subset"]) == {subset}


def test_pandalm_gold_is_the_annotator_majority():
    items = load_pandalm()
    raw = json.loads((judgebench_dir() / "pandalm" / "testset-v1.json").read_text())
    assert len(items) == 999 and items["item_id"].tolist() == [str(r["idx"]) for r in raw]
    assert items["label"].value_counts().to_dict() == {0: 105, 1: 422, 2: 472}
    for item, r in zip(items.itertuples(), raw):
        votes = (r["annotator1"], r["annotator2"], r["annotator3"])
        assert item.human_labels == votes
        assert item.label == max(set(votes), key=votes.count)  # never a three-way split
    assert items.loc[157, "output_1"] == "True"  # stored as JSON true
    assert items["group"].nunique() == 50 and (items["input"] == "").sum() == 167


def test_registry_names_and_unknown_names():
    assert len(load_benchmark("llmbar")) == 419
    assert set(load_benchmark("llmbar")["subset"]) == set(LLMBAR_SUBSETS)
    for subset in LLMBAR_SUBSETS + LLMBAR_PROCESSED:
        assert f"llmbar:{subset}" in BENCHMARK_NAMES
        assert len(load_benchmark(f"llmbar:{subset}")) == len(load_llmbar(subset))
    assert len(load_benchmark("pandalm")) == 999
    for bad in ("llmbarx", "pandalm:x", "autoj", "critiquellm:", "mtbench-human:x"):
        with pytest.raises(InputError, match="known: llmbar, llmbar:Adversarial") as info:
            load_benchmark(bad)
        assert info.value.field == "benchmark"


def jsonl(tmp_path: Path, records: list, name: str = "set.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)
                              for r in records) + "\n", encoding="utf-8")
    return path


AUTOJ = {"scenario": "code_generation", "label": 0, "prompt": "p", "response 1": "a",
         "response 2": "b"}


def test_autoj_labels_map_to_common_and_groups_come_from_scenarios(tmp_path):
    path = jsonl(tmp_path, [AUTOJ, AUTOJ | {"label": 1, "scenario": "chitchat"},
                            AUTOJ | {"label": 2, "scenario": "ranking"}], "testdata_pairwise.jsonl")
    items = load_benchmark(f"autoj:{path}")
    assert items["label"].tolist() == [1, 2, 0]
    assert items["group"].tolist() == ["Code", "General Communication", "NLP Tasks"]
    assert items["scenario"].tolist() == ["code_generation", "chitchat", "ranking"]
    assert items.loc[0, ["subset", "item_id", "instruction", "output_1", "output_2"]].tolist() == [
        "testdata_pairwise", "0", "p", "a", "b"]
    groups = autoj_scenario_groups()
    assert len(groups) == 58 and len(set(groups.values())) == 8


CRITIQUE = {"id": 3, "category": "数学计算", "question": "q", "reference": "r",
            "response_1": "a", "response_2": "b", "human_score_1": 4, "human_score_2": 2.0,
            "label": 0}


def test_critiquellm_pairwise(tmp_path):
    path = jsonl(tmp_path, [CRITIQUE, CRITIQUE | {"id": 4, "label": 2},
                            {k: v for k, v in CRITIQUE.items() if k != "reference"}
                            | {"id": 5, "label": 1}])
    items = load_critiquellm_pairwise(path)
    assert items["item_id"].tolist() == ["3", "4", "5"] and items["label"].tolist() == [1, 0, 2]
    assert items["reference"].tolist()[:2] == ["r", "r"] and items["reference"].isna().tolist()[2]
    assert items["group"].tolist() == ["数学计算"] * 3 and items["human_score_2"].tolist()[0] == 2


POINT = {"id": 0, "category": "专业能力", "question": "q1", "response": "a", "model": "m1",
         "human_score": 3}


def test_critiquellm_pointwise_derives_question_ids(tmp_path):
    path = jsonl(tmp_path, [POINT, POINT | {"id": 1, "question": "q2"},
                            POINT | {"id": 2, "model": "m2", "human_score": 4.5}])
    frame = load_critiquellm_pointwise(path)
    assert frame["question_id"].tolist() == [0, 1, 0]
    assert frame["human_score"].tolist() == [3.0, 3.0, 4.5]
    explicit = load_critiquellm_pointwise(jsonl(tmp_path, [POINT | {"question_id": 7}], "e.jsonl"))
    assert explicit["question_id"].tolist() == [7]


def conversation(answer_1: str, answer_2: str) -> list[dict]:
    return [{"role": "user", "content": "q1"}, {"role": "assistant", "content": answer_1},
            {"role": "user", "content": "q2"}, {"role": "assistant", "content": answer_2}]


def test_mtbench_human_records_become_items_with_every_vote():
    vote = {"question_id": 81, "model_a": "gpt-4", "model_b": "alpaca-13b", "winner": "model_a",
            "judge": "expert_0", "turn": 2, "conversation_a": conversation("g1", "g2"),
            "conversation_b": conversation("a1", "a2")}
    records = [vote, vote | {"judge": "expert_1", "winner": "tie (bothbad)"},
               vote | {"model_a": "alpaca-13b", "model_b": "gpt-4", "winner": "model_b",
                       "conversation_a": vote["conversation_b"],
                       "conversation_b": vote["conversation_a"], "judge": "author_2"},
               vote | {"turn": 1}]
    items = mtbench_human_items(records).set_index("item_id")
    turn2 = items.loc["81:alpaca-13b:gpt-4:2"]
    # sorted model names: alpaca-13b is output_1, so "gpt-4 wins" is label 2 every time
    assert turn2["human_labels"] == (2, 0, 2) and turn2["label"] == 2
    assert turn2["annotators"] == ("expert_0", "expert_1", "author_2")
    assert (turn2["instruction"], turn2["output_1"], turn2["output_2"]) == ("q2", "a2", "g2")
    assert turn2["group"] == "turn 2" and turn2["conversation_2"][1]["content"] == "g1"
    assert items.loc["81:alpaca-13b:gpt-4:1", "output_2"] == "g1"


def write_json(tmp_path: Path, content: str | bytes, name: str = "set.json") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


LLMBAR_ITEM = {"input": "i", "output_1": "a", "output_2": "b", "label": 1}
PANDALM_ITEM = {"idx": 0, "motivation_app": "app", "cmp_key": "x_y", "instruction": "i",
                "input": "", "response1": "a", "response2": "b", "annotator1": 1,
                "annotator2": "2", "annotator3": 1}

# case: (loader, file content, expected line, item, field, message)
JSON_CASES = {
    "malformed": (load_llmbar, '[{"input": "i",\n  "label": }]', 2, None, None, "malformed JSON"),
    "not_an_array": (load_llmbar, json.dumps(LLMBAR_ITEM), None, None, None,
                     "expected a JSON array"),
    "item_not_object": (load_llmbar, json.dumps([LLMBAR_ITEM, [1]]), None, 1, None,
                        "expected a JSON object"),
    "missing_output": (load_llmbar, json.dumps([{"input": "i", "output_1": "a", "label": 1}]),
                       None, 0, "output_2", "missing required field"),
    "mistyped_output": (load_llmbar, json.dumps([LLMBAR_ITEM | {"output_1": 3}]), None, 0,
                        "output_1", "expected str, got int"),
    "tie_in_llmbar": (load_llmbar, json.dumps([LLMBAR_ITEM, LLMBAR_ITEM | {"label": 0}]), None,
                      1, "label", "unknown label 0; allowed: 1, 2"),
    "bool_label": (load_llmbar, json.dumps([LLMBAR_ITEM | {"label": True}]), None, 0, "label",
                   "unknown label True"),
    "empty": (load_llmbar, "[]", None, None, None, "no items"),
    "non_utf8": (load_llmbar, "[{\"input\": \"你好\"}]".encode("gbk"), None, None, None, "UTF-8"),
    "bad_annotator": (load_pandalm, json.dumps([PANDALM_ITEM | {"annotator3": 3}]), None, 0,
                      "annotator3", "unknown label 3; allowed: 0, 1, 2"),
    "duplicate_idx": (load_pandalm, json.dumps([PANDALM_ITEM, PANDALM_ITEM]), None, 1, "idx",
                      "first seen at item 0"),
    "mistyped_idx": (load_pandalm, json.dumps([PANDALM_ITEM | {"idx": "0"}]), None, 0, "idx",
                     "expected int"),
}


@pytest.mark.parametrize("case", JSON_CASES, ids=list(JSON_CASES))
def test_json_array_files_fail_located(tmp_path, case):
    loader, content, line, item, field, message = JSON_CASES[case]
    path = write_json(tmp_path, content)
    with pytest.raises(InputError, match=message) as info:
        loader(path=path) if loader is load_llmbar else loader(path)
    assert (info.value.path, info.value.line, info.value.item, info.value.field) == (
        str(path), line, item, field)


# case: (loader, records, expected line, field, message)
JSONL_CASES = {
    "autoj_malformed": (load_autoj, [AUTOJ, '{"scenario": '], 2, None, "malformed JSON"),
    "autoj_unknown_scenario": (load_autoj, [AUTOJ | {"scenario": "poetry"}], 1, "scenario",
                               "not one of Auto-J's 58 scenarios"),
    "autoj_bad_label": (load_autoj, [AUTOJ, AUTOJ | {"label": "0"}], 2, "label",
                        "unknown label '0'"),
    "autoj_missing_response": (load_autoj, [{k: v for k, v in AUTOJ.items()
                                             if k != "response 2"}], 1, "response 2",
                               "missing required field"),
    "autoj_empty": (load_autoj, [""], None, None, "no items"),
    "critique_duplicate_id": (load_critiquellm_pairwise, [CRITIQUE, CRITIQUE], 2, "id",
                              "first seen on line 1"),
    "critique_bad_label": (load_critiquellm_pairwise, [CRITIQUE | {"label": 3}], 1, "label",
                           "allowed: 0, 1, 2"),
    "critique_bad_score": (load_critiquellm_pairwise, [CRITIQUE | {"human_score_1": "4"}], 1,
                           "human_score_1", "expected int or float"),
    "critique_bad_reference": (load_critiquellm_pairwise, [CRITIQUE | {"reference": None}], 1,
                               "reference", "expected str"),
    "point_twice": (load_critiquellm_pointwise, [POINT, POINT | {"id": 1}], 2, "model",
                    "answers question 0 twice"),
    "point_bad_score": (load_critiquellm_pointwise, [POINT | {"human_score": None}], 1,
                        "human_score", "expected int or float"),
    "point_missing_model": (load_critiquellm_pointwise,
                            [{k: v for k, v in POINT.items() if k != "model"}], 1, "model",
                            "missing required field"),
}


@pytest.mark.parametrize("case", JSONL_CASES, ids=list(JSONL_CASES))
def test_jsonl_files_fail_located(tmp_path, case):
    loader, records, line, field, message = JSONL_CASES[case]
    path = jsonl(tmp_path, records)
    with pytest.raises(InputError, match=message) as info:
        loader(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), line, field)


def test_missing_file_and_mtbench_bad_winner(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_benchmark(f"autoj:{tmp_path / 'absent.jsonl'}")
    vote = {"question_id": 1, "model_a": "a", "model_b": "b", "winner": "model_c",
            "judge": "expert_0", "turn": 1, "conversation_a": [], "conversation_b": []}
    with pytest.raises(InputError, match="unknown label 'model_c'") as info:
        mtbench_human_items([vote], source="hub")
    assert (info.value.path, info.value.item, info.value.field) == ("hub", 0, "winner")
    with pytest.raises(InputError, match="expected list"):
        mtbench_human_items([vote | {"winner": "tie", "conversation_b": "x"}])


def test_items_frame_contract():
    items = load_benchmark("llmbar:Natural")
    assert isinstance(items, pd.DataFrame) and str(items["label"].dtype) == "Int64"
    assert items["item_id"].map(type).eq(str).all() and items["group"].isna().all()
