"""Agreement metrics against scipy/statsmodels and hand-computed pairwise cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, pearsonr, spearmanr
from statsmodels.stats.inter_rater import cohens_kappa

from alignbench_utils.analysis.stats import (
    inter_judge_agreement,
    pairwise_agreement,
    pointwise_agreement,
    quadratic_kappa,
    synthetic_frame,
)
from alignbench_utils.analysis.stats import test_retest as retest
from alignbench_utils.taxonomy import CATEGORIES


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    human = rng.integers(1, 11, 120).astype(float)
    judge = np.clip(human + rng.integers(-2, 3, 120), 1, 10)
    judge[[3, 50]] = np.nan
    human[7] = np.nan
    groups = np.repeat([f"m{i}" for i in range(6)], 20)
    return judge, human, groups


def table_of(judge, human, **kw) -> pd.DataFrame:
    return pointwise_agreement(judge, human, **kw).set_index(["level", "metric"])


def test_point_values_match_scipy_and_nan_pairs_counted(scores):
    judge, human, _ = scores
    t = table_of(judge, human, n_boot=300)
    keep = ~(np.isnan(judge) | np.isnan(human))
    x, y = judge[keep], human[keep]
    assert t.loc[("sample", "pearson"), "estimate"] == pytest.approx(pearsonr(x, y)[0], abs=1e-9)
    assert t.loc[("sample", "spearman"), "estimate"] == pytest.approx(spearmanr(x, y)[0],
                                                                       abs=1e-9)
    tau = kendalltau(x, y, variant="b")[0]
    assert t.loc[("sample", "kendall"), "estimate"] == pytest.approx(tau, abs=1e-9)
    assert t.loc[("sample", "exact"), "estimate"] == pytest.approx(np.mean(x == y))
    assert t.loc[("sample", "within_1"), "estimate"] == pytest.approx(np.mean(abs(x - y) <= 1))
    assert (t["n"] == 117).all() and (t["n_dropped"] == 3).all()
    assert ((t["lower"] <= t["estimate"]) & (t["estimate"] <= t["upper"])).all()


def test_bootstrap_rows_deterministic_by_seed(scores):
    judge, human, groups = scores
    a = pointwise_agreement(judge, human, groups=groups, n_boot=200, seed=1)
    b = pointwise_agreement(judge, human, groups=groups, n_boot=200, seed=1)
    c = pointwise_agreement(judge, human, groups=groups, n_boot=200, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["lower"], c["lower"])


def test_kappa_matches_statsmodels_on_full_score_table(scores):
    judge, human, _ = scores
    keep = ~(np.isnan(judge) | np.isnan(human))
    x, y = judge[keep].astype(int), human[keep].astype(int)
    levels = range(1, 11)
    table = pd.crosstab(pd.Categorical(x, categories=levels), pd.Categorical(y, categories=levels),
                        dropna=False).to_numpy()
    ref = cohens_kappa(table, wt="quadratic").kappa
    assert quadratic_kappa(x, y) == pytest.approx(ref, abs=1e-12)
    t = table_of(judge, human, n_boot=100)
    assert t.loc[("sample", "kappa_quadratic"), "estimate"] == pytest.approx(ref, abs=1e-12)
    assert np.isnan(table_of(x + 0.5, y, n_boot=50).loc[("sample", "kappa_quadratic"),
                                                          "estimate"])


def test_system_level_correlates_group_means(scores):
    judge, human, groups = scores
    t = table_of(judge, human, groups=groups, n_boot=300)
    keep = ~(np.isnan(judge) | np.isnan(human))
    means = pd.DataFrame({"j": judge, "h": human, "g": groups})[keep].groupby("g").mean()
    assert t.loc[("system", "pearson"), "estimate"] == pytest.approx(
        pearsonr(means["j"], means["h"])[0], abs=1e-9)
    assert t.loc[("system", "kendall"), "estimate"] == pytest.approx(
        kendalltau(means["j"], means["h"])[0], abs=1e-9)
    assert t.loc[("system", "pearson"), "n"] == 6
    assert "system" not in table_of(judge, human, n_boot=50).index.get_level_values("level")


def test_pointwise_rejects_bad_shapes():
    with pytest.raises(ValueError, match="equal length"):
        pointwise_agreement([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        pointwise_agreement([1, np.nan], [1, 2])


def test_pairwise_single_order_hand_computed():
    r = pairwise_agreement(["A", "B", "tie", "B"], ["A", "tie", "tie", "A"])
    assert r == {"n": 4, "accuracy": 0.5, "agreement_both": 0.5, "consistency": None,
                 "position_bias": None, "n_inconsistent": None}


def test_pairwise_both_orders_ties_and_position_bias():
    labels = ["A", "A", "B", "B", "tie", "tie"]
    first = ["A", "A", "A", "B", "tie", "B"]
    swapped = ["A", "B", "B", "A", "tie", "A"]  # mapped back to original names
    r = pairwise_agreement(labels, first, swapped)
    # hits first: T T F T T F = 4/6; swapped: T F T F T F = 3/6
    assert r["accuracy"] == pytest.approx((4 / 6 + 3 / 6) / 2)
    assert r["agreement_both"] == pytest.approx(2 / 6)  # items 0 and 4
    assert r["consistency"] == pytest.approx(2 / 6)
    # inconsistent: 1 (A,B) first-shown twice; 2 (A,B) first-shown twice; 3 (B,A) second twice;
    # 5 (B,A) second twice → 2 of 4 favour the first position.
    assert (r["n_inconsistent"], r["position_bias"]) == (4, 0.5)


def test_pairwise_all_consistent_bias_nan_and_validation():
    r = pairwise_agreement(["A", "B"], ["A", "B"], ["A", "B"])
    assert r["consistency"] == 1.0 and np.isnan(r["position_bias"])
    with pytest.raises(ValueError, match=r"verdicts\[1\] = 'C'"):
        pairwise_agreement(["A", "B"], ["A", "C"])
    with pytest.raises(ValueError, match="labels"):
        pairwise_agreement(["a"], ["A"])
    with pytest.raises(ValueError, match="equal"):
        pairwise_agreement(["A", "B"], ["A"])


def judge_frames():
    a = synthetic_frame([5.0, 6.0, 7.0], {c: 5 for c in CATEGORIES}, sd=1.0, seed=1)
    a["score"] = a["score"].round().clip(1, 10)
    b = a.copy()
    rng = np.random.default_rng(3)
    b["score"] = (b["score"] + rng.integers(-1, 2, len(b))).clip(1, 10)
    b.loc[0, ["status", "score"]] = ["parse_failed", np.nan]
    return a, b.iloc[:-1]  # one answer unmatched


def test_inter_judge_and_test_retest():
    a, b = judge_frames()
    t = inter_judge_agreement(a, b, n_boot=200).set_index(["level", "metric"])
    merged = a.merge(b, on=["model", "question_id"]).iloc[1:]
    x, y = merged["score_x"].to_numpy(), merged["score_y"].to_numpy()
    assert (t.loc[("sample", "pearson"), "n"], t.loc[("sample", "pearson"), "n_dropped"]) == (
        len(a) - 2, 2)
    assert t.loc[("sample", "exact"), "estimate"] == pytest.approx(np.mean(x == y))
    assert t.loc[("sample", "within_1"), "estimate"] == 1.0
    assert t.loc[("sample", "pearson"), "estimate"] == pytest.approx(pearsonr(x, y)[0])
    assert t.loc[("system", "pearson"), "n"] == 3
    assert set(t["analysis"]) == {"inter-judge"}
    r = retest(a, b, n_boot=200)
    assert set(r["analysis"]) == {"test-retest"}
    np.testing.assert_allclose(r["estimate"], t["estimate"].to_numpy())
    with pytest.raises(ValueError, match="duplicated"):
        inter_judge_agreement(pd.concat([a, a]), b)
