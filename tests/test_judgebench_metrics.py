"""Official meta-evaluation metrics against hand computations, bootstrap against a slow loop,
and the verdicts-frame contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alignbench_utils.judgebench import (
    check_verdicts,
    items_frame,
    judge_metrics,
    study_table,
    verdicts_frame,
)
from alignbench_utils.judgebench.table import STUDY_COLUMNS


def make_items(labels, benchmark="llmbar", subset="s", groups=None, human=None):
    rows = [{"benchmark": benchmark, "subset": subset, "item_id": i, "instruction": "",
             "input": "", "output_1": "", "output_2": "", "label": label,
             "group": None if groups is None else groups[i]}
            | ({} if human is None else {"human_labels": human[i]})
            for i, label in enumerate(labels)]
    return items_frame(rows)


def make_verdicts(pairs, benchmark="llmbar", subset="s", judge="j"):
    """``pairs``: per item (verdict ab, verdict ba), each 1/2/0, None (format error), "err"
    (API error) or "-" (no call)."""
    rows = []
    for i, pair in enumerate(pairs):
        for order, v in zip(("ab", "ba"), pair):
            if v == "-":
                continue
            status = "ok" if v in (0, 1, 2) else "error" if v == "err" else "parse_failed"
            rows.append({"judge": judge, "benchmark": benchmark, "subset": subset, "item_id": i,
                         "order": order, "verdict": v if status == "ok" else None,
                         "status": status, "raw": str(v)})
    return verdicts_frame(rows)


def estimates(verdicts, items, **kw):
    table = judge_metrics(verdicts, items, n_boot=50, **kw)
    return table[table["group"].eq("overall")].set_index("metric")["estimate"].to_dict()


def test_llmbar_official_counts_no_verdict_wrong_but_two_missing_equal():
    items = make_items([1, 1, 2, 2, 1])
    pairs = [(1, 1), (1, 2), (None, None), (2, "err"), (2, 2)]
    e = estimates(make_verdicts(pairs), items)
    # hits ab: T T F T F (3); hits ba: T F F F F (1)
    assert e["correct_ab"] == 3 / 5 and e["correct_ba"] == 1 / 5
    assert e["correct_average"] == pytest.approx(4 / 10)
    assert e["correct_both"] == 1 / 5
    assert e["equal"] == 3 / 5  # items 0, 4 and the two missing verdicts of item 2
    assert e["consistency"] == 2 / 5  # a missing verdict is never consistent
    assert e["parse_failed_rate"] == 2 / 10 and e["error_rate"] == 1 / 10


def test_common_position_metrics():
    items = make_items([1, 1, 2, 2])
    # first-shown choices: ab=1 or ba=2
    pairs = [(1, 2), (1, 1), (2, 1), (0, 2)]
    e = estimates(make_verdicts(pairs), items)
    # decisive verdicts: 7 (the tie is not); first-shown: item0 ab,ba; item1 ab; item3 ba → 4
    assert e["position_bias"] == pytest.approx(4 / 7 - 0.5)
    assert e["biased_first"] == 1 / 4 and e["biased_second"] == 1 / 4


def test_autoj_ties_are_a_class_per_group_and_overall():
    items = make_items([1, 0, 0, 2, 1, 2], benchmark="autoj",
                       groups=["Code", "Code", "Code", "NLP Tasks", "NLP Tasks", "NLP Tasks"])
    pairs = [(1, 1), (0, 0), (0, 1), (2, 2), (1, None), (1, 2)]
    table = judge_metrics(make_verdicts(pairs, benchmark="autoj"), items, n_boot=50,
                          by_group=True)
    got = table.set_index(["group", "metric"])["estimate"]
    assert got[("overall", "agreement")] == 3 / 6 and got[("overall", "consistency")] == 3 / 6
    assert got[("Code", "agreement")] == 2 / 3 and got[("NLP Tasks", "agreement")] == 1 / 3
    assert got[("Code", "consistency")] == 2 / 3 and got[("NLP Tasks", "consistency")] == 1 / 3
    counts = table.drop_duplicates("group").set_index("group")["n_items"].to_dict()
    assert counts == {"overall": 6, "Code": 3, "NLP Tasks": 3}


def official_pandalm(gold, pred):
    """PandaLM's compute_metrics.py confusion-matrix formulas, transcribed as loops."""
    cm = {g: {p: 0 for p in (0, 1, 2)} for g in (0, 1, 2)}
    for g, p in zip(gold, pred):
        cm[g][p] += 1
    out = {"accuracy": sum(cm[c][c] for c in range(3)) / len(gold)}
    per = []
    for c in range(3):
        tp = cm[c][c]
        fp = sum(cm[x][c] for x in range(3)) - tp
        fn = sum(cm[c][x] for x in range(3)) - tp
        p = tp / (tp + fp) if tp + fp else 0
        r = tp / (tp + fn) if tp + fn else 0
        per.append((p, r, 2 * p * r / (p + r) if p + r else 0))
    for k, name in enumerate(("precision", "recall", "f1")):
        out[name] = sum(x[k] for x in per) / 3
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pandalm_macro_metrics_match_the_official_formulas(seed):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 3, 60).tolist()
    pred = rng.choice([0, 1, 2], 60, p=[0.1 * seed, 0.5, 0.5 - 0.1 * seed]).tolist()
    items = make_items(gold, benchmark="pandalm")
    e = estimates(make_verdicts([(p, "-") for p in pred], benchmark="pandalm"), items)
    for name, value in official_pandalm(gold, pred).items():
        assert e[name] == pytest.approx(value, abs=1e-12), name


def test_pandalm_missing_verdict_is_wrong_and_swap_rule():
    items = make_items([1, 2, 0, 1], benchmark="pandalm")
    e = estimates(make_verdicts([(1, "-"), (None, "-"), (0, "-"), (2, "-")],
                                benchmark="pandalm"), items)
    assert e["accuracy"] == 2 / 4
    # class 1: tp 1, predicted 1, gold 2; class 2: tp 0, predicted 1, gold 1; class 0: 1/1/1
    assert e["precision"] == pytest.approx((1 + 0 + 1) / 3)
    assert e["recall"] == pytest.approx((1 + 0.5 + 0) / 3)
    pairs = [(1, 1), (2, 1), (0, 2), (1, None)]  # keep, conflict→tie, tie→tie, missing
    swapped = estimates(make_verdicts(pairs, benchmark="pandalm"), items, swap_rule=True)
    assert swapped["accuracy"] == 2 / 4  # items 0 (1) and 2 (tie)
    # without the rule only the order shown first ("ab") counts: all four right
    assert estimates(make_verdicts(pairs, benchmark="pandalm"), items)["accuracy"] == 1.0
    with pytest.raises(ValueError, match="need both orders"):
        estimates(make_verdicts([(1, "-")] * 4, benchmark="pandalm"), items, swap_rule=True)


def test_mtbench_agreement_counts_every_human_vote():
    human = [(1, 1, 0), (2,), (0, 2), (1, 2)]
    items = make_items([1, 2, 0, 1], benchmark="mtbench-human", human=human)
    pairs = [(1, 1), (1, 2), (0, 0), (None, 1)]  # votes: 1, tie (disagree), tie, none
    e = estimates(make_verdicts(pairs, benchmark="mtbench-human"), items)
    # with ties: item0 1,1 agree, 0 no; item1 2 no; item2 0 agree, 2 no; item3 no, no → 3/8
    assert e["agreement_with_ties"] == 3 / 8
    # without ties: drop human ties and judge ties: item0 (1,1) both agree; item3 (1,2): 0 → 2/4
    assert e["agreement_without_ties"] == 2 / 4


def test_bootstrap_replicates_equal_a_slow_loop_and_are_paired_across_judges():
    rng = np.random.default_rng(5)
    labels = rng.integers(1, 3, 40).tolist()
    pairs = [tuple(int(x) for x in rng.integers(1, 3, 2)) for _ in labels]
    items = make_items(labels)
    both = pd.concat([make_verdicts(pairs, judge="a"), make_verdicts(pairs, judge="b")])
    table = judge_metrics(both, items, n_boot=300, seed=11, level=0.9)
    row = table.set_index(["judge", "metric"]).loc[("a", "correct_average")]
    draws = np.random.default_rng(11).integers(0, 40, size=(300, 40))
    hits = np.array([(p[0] == lab) + (p[1] == lab) for p, lab in zip(pairs, labels)])
    slow = np.array([hits[d].sum() / 80 for d in draws])
    assert [row["lower"], row["upper"]] == pytest.approx(np.quantile(slow, [0.05, 0.95]))
    a, b = (table[table["judge"].eq(j)].reset_index(drop=True) for j in "ab")
    pd.testing.assert_frame_equal(a.drop(columns="judge"), b.drop(columns="judge"))
    again = judge_metrics(both, items, n_boot=300, seed=11, level=0.9)
    pd.testing.assert_frame_equal(table, again)
    other = judge_metrics(both, items, n_boot=300, seed=12, level=0.9)
    assert not np.allclose(table["lower"], other["lower"], equal_nan=True)


def test_counts_missing_items_and_misuse():
    items = make_items([1, 2, 1])
    verdicts = make_verdicts([(1, 1), ("-", "-"), (2, None)])
    table = judge_metrics(verdicts, items, n_boot=20)
    assert set(table["n_items"]) == {2} and set(table["n_missing"]) == {1}
    assert set(table["n_calls"]) == {4}
    with pytest.raises(ValueError, match="need both orders"):
        judge_metrics(make_verdicts([(1, "-"), (1, 1), (1, 1)]), items, n_boot=20)
    with pytest.raises(ValueError, match="not in the items frame"):
        judge_metrics(make_verdicts([(1, 1)] * 4), items, n_boot=20)
    with pytest.raises(ValueError, match="subsets with no items"):
        judge_metrics(make_verdicts([(1, 1)], subset="t"), items, n_boot=20)
    odd = make_items([1], benchmark="mine")
    with pytest.raises(ValueError, match="pass families"):
        judge_metrics(make_verdicts([(1, 1)], benchmark="mine"), odd, n_boot=20)
    e = estimates(make_verdicts([(1, 1)], benchmark="mine"), odd, families={"mine": "autoj"})
    assert e["agreement"] == 1.0
    with pytest.raises(ValueError, match="n_boot"):
        judge_metrics(verdicts, items, n_boot=0)


def test_study_table_has_one_headline_row_per_judge_and_subset():
    llmbar = make_items([1, 2], subset="Natural")
    pandalm = make_items([0, 1], benchmark="pandalm", subset="testset-v1")
    verdicts = pd.concat([
        make_verdicts([(1, 1), (1, None)], subset="Natural"),
        make_verdicts([(0, "-"), (2, "-")], benchmark="pandalm", subset="testset-v1"),
        make_verdicts([(2, 2), (2, 2)], subset="Natural", judge="k")])
    table = study_table(verdicts, pd.concat([llmbar, pandalm]), n_boot=50)
    assert list(table.columns) == STUDY_COLUMNS
    assert table[["judge", "subset", "metric"]].values.tolist() == [
        ["j", "Natural", "correct_average"], ["k", "Natural", "correct_average"],
        ["j", "testset-v1", "accuracy"]]
    assert table["estimate"].tolist() == [0.5, 0.5, 0.5]
    assert table["parse_failed_rate"].tolist() == [0.25, 0.0, 0.0]
    assert table["n_calls"].tolist() == [4, 4, 2]


BASE = {"judge": "j", "benchmark": "b", "subset": "s", "item_id": "1", "order": "ab",
        "verdict": 1, "status": "ok", "raw": "x"}
BAD_FRAMES = {
    "order": ([BASE | {"order": "AB"}], "order must be one of"),
    "status": ([BASE | {"status": "unreadable"}], "status must be one of"),
    "ok_without_verdict": ([BASE | {"verdict": None}], "needs a verdict"),
    "verdict_out_of_range": ([BASE | {"verdict": 3}], "needs a verdict in"),
    "error_with_verdict": ([BASE | {"status": "parse_failed"}], "must have no verdict"),
    "duplicate": ([BASE, BASE | {"raw": "y"}], r"row 1 \(j/b/s/1/ab\): repeats"),
    "text_verdict": ([BASE | {"verdict": "A"}], "verdict must be 0, 1, 2 or missing"),
    "fractional_verdict": ([BASE | {"verdict": 1.5}], "verdict must be 0, 1, 2 or missing"),
}


@pytest.mark.parametrize("case", BAD_FRAMES, ids=list(BAD_FRAMES))
def test_verdicts_frame_contract(case):
    rows, message = BAD_FRAMES[case]
    with pytest.raises(ValueError, match=message):
        verdicts_frame(rows)
    with pytest.raises(ValueError, match="lacks column 'raw'"):
        verdicts_frame([{k: v for k, v in BASE.items() if k != "raw"}])
    check_verdicts(verdicts_frame([BASE]))
