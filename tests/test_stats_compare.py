"""Paired comparisons, Wilcoxon category tests, rank tiers and the mixed model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon
from statsmodels.stats.multitest import multipletests

from alignbench_utils.analysis.stats import (
    METRICS,
    bootstrap_p_value,
    bootstrap_replicates,
    category_tests,
    compare_models,
    mixed_effects,
    rank_tiers,
    synthetic_frame,
)
from alignbench_utils.taxonomy import CATEGORIES, OVERALL_COL

SIZES = {c: 15 for c in CATEGORIES}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    # m0 and m1 close, m2 far ahead; question difficulty shared, so pairing matters.
    return synthetic_frame([6.0, 6.02, 7.5], SIZES, sd=1.0, question_sd=1.5, fail_rate=0.05,
                           seed=21)


@pytest.fixture(scope="module")
def result(frame):
    return bootstrap_replicates(frame, n_boot=4000, seed=0)


def test_compare_models_diff_ci_and_p_values(result):
    table = compare_models(result, level=0.95, correction="holm")
    assert list(table.columns) == ["model_a", "model_b", "metric", "diff", "lower", "upper",
                                   "p_value", "p_adjusted", "significant"]
    assert list(zip(table["model_a"], table["model_b"])) == [("m0", "m1"), ("m0", "m2"),
                                                             ("m1", "m2")]
    k = METRICS.index(OVERALL_COL)
    for row in table.itertuples():
        i, j = result.models.index(row.model_a), result.models.index(row.model_b)
        assert row.diff == pytest.approx(result.estimates[i, k] - result.estimates[j, k])
        d = result.replicates[:, i, k] - result.replicates[:, j, k]
        assert (row.lower, row.upper) == pytest.approx(tuple(np.quantile(d, [0.025, 0.975])))
        below, above = (d <= 0).sum(), (d >= 0).sum()
        assert row.p_value == pytest.approx(min(1, 2 * min(below + 1, above + 1) / (d.size + 1)))
    reject, adjusted, _, _ = multipletests(table["p_value"], alpha=0.05, method="holm")
    np.testing.assert_allclose(table["p_adjusted"], adjusted)
    assert table["significant"].tolist() == reject.tolist() == [False, True, True]
    bh = compare_models(result, correction="fdr_bh")
    np.testing.assert_allclose(bh["p_adjusted"],
                               multipletests(bh["p_value"], method="fdr_bh")[1])


def test_paired_ci_is_narrower_than_unpaired(result):
    k = METRICS.index(OVERALL_COL)
    paired = compare_models(result).set_index(["model_a", "model_b"]).loc[("m0", "m1")]
    # Unpaired: differences of independently shuffled replicates.
    rng = np.random.default_rng(0)
    unpaired = result.replicates[:, 0, k] - rng.permutation(result.replicates[:, 1, k])
    lo, hi = np.quantile(unpaired, [0.025, 0.975])
    assert paired["upper"] - paired["lower"] < 0.7 * (hi - lo)


def test_bootstrap_p_value_identical_models_is_one():
    assert bootstrap_p_value(np.zeros(100)) == 1.0
    assert bootstrap_p_value(np.ones(99)) == pytest.approx(2 / 100)


def test_category_tests_match_scipy_wilcoxon(frame):
    table = category_tests(frame, correction="holm")
    assert len(table) == 8 * 3
    row = table[(table["category"] == "逻辑推理") & (table["model_a"] == "m0")
                & (table["model_b"] == "m2")].iloc[0]
    sub = frame[frame["category"] == "逻辑推理"].pivot(index="question_id", columns="model",
                                                     values="score")
    d = (sub["m0"] - sub["m2"]).dropna()
    ref = wilcoxon(d.to_numpy())
    assert row["n"] == d.size < 15  # failures drop their question from the pair
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert row["median_diff"] == pytest.approx(np.median(d))
    np.testing.assert_allclose(table["p_adjusted"],
                               multipletests(table["p_value"], method="holm")[1])


def test_category_tests_all_zero_differences_give_nan_p():
    f = synthetic_frame([6.0, 6.0], {"数学计算": 5, "逻辑推理": 5}, sd=0.0, seed=1)
    f.loc[f["category"] == "逻辑推理", "score"] += np.where(
        f.loc[f["category"] == "逻辑推理", "model"] == "m1", 1.0, 0.0)
    table = category_tests(f).set_index("category")
    assert np.isnan(table.loc["数学计算", "p_value"]) and not table.loc["数学计算", "significant"]
    assert table.loc["逻辑推理", "p_value"] == pytest.approx(wilcoxon(-np.ones(5)).pvalue)


def test_rank_tiers_rule(result):
    tiers = rank_tiers(result)
    k = METRICS.index(OVERALL_COL)
    order = np.argsort(-result.estimates[:, k])
    assert tiers["model"].tolist() == [result.models[i] for i in order]
    assert tiers["model"].iloc[0] == "m2"
    assert tiers["rank"].tolist() == [1, 2, 3]
    assert tiers["tier"].tolist() == [1, 2, 2]  # m0 and m1 do not separate
    top = tiers.iloc[0]
    assert top["lower"] < top["estimate"] < top["upper"]


def test_rank_tiers_new_tier_starts_from_leader_not_neighbour():
    # Neighbours m0-m1 and m1-m2 do not separate, m0-m2 does → tiers 1, 1, 2.
    f = synthetic_frame([6.25, 6.125, 6.0], {c: 40 for c in CATEGORIES}, sd=1.0,
                        question_sd=1.0, seed=4)
    result = bootstrap_replicates(f, n_boot=2000, seed=0)
    lower = compare_models(result).set_index(["model_a", "model_b"])["lower"]
    assert lower[("m0", "m1")] < 0 and lower[("m1", "m2")] < 0 < lower[("m0", "m2")]
    tiers = rank_tiers(result)
    assert tiers["model"].tolist() == ["m0", "m1", "m2"]
    assert tiers["tier"].tolist() == [1, 1, 2]


def test_rank_tiers_model_without_overall_is_listed_last_unranked(frame):
    f = frame.copy()
    no_math = (f["model"] == "m2") & (f["category"] == "数学计算")
    f.loc[no_math, ["status", "score"]] = ["parse_failed", np.nan]
    tiers = rank_tiers(f, n_boot=500, seed=0)
    assert tiers["model"].tolist()[-1] == "m2" and np.isnan(tiers["estimate"].iloc[-1])
    assert tiers["rank"].tolist()[:2] == [1, 2] and tiers["rank"].isna().tolist()[-1]
    assert tiers["tier"].isna().tolist() == [False, False, True]


def test_mixed_effects_equal_mean_differences_on_balanced_data():
    f = synthetic_frame([6.0, 6.5, 7.0], {c: 2 for c in CATEGORIES}, sd=0.5, seed=9)
    table = mixed_effects(f).set_index("model")
    means = f.groupby("model")["score"].mean()
    assert table.loc["m0", "effect"] == 0.0 and np.isnan(table.loc["m0", "lower"])
    for m in ("m1", "m2"):  # balanced, complete: GLS contrast = difference of means
        assert table.loc[m, "effect"] == pytest.approx(means[m] - means["m0"], abs=1e-6)
        assert table.loc[m, "lower"] < table.loc[m, "effect"] < table.loc[m, "upper"]
    assert table["converged"].all()
    other = mixed_effects(f, reference="m2").set_index("model")
    assert other.loc["m0", "effect"] == pytest.approx(means["m0"] - means["m2"], abs=1e-6)


def test_mixed_effects_singular_input_reports_instead_of_crashing():
    f = synthetic_frame([6.0, 6.0], {c: 2 for c in CATEGORIES}, sd=0.0, question_sd=0.0)
    table = mixed_effects(f)
    assert len(table) == 2 and table["warning"].iloc[0] != ""
    with pytest.raises(ValueError, match="reference"):
        mixed_effects(f, reference="nobody")


def test_mixed_effects_model_without_ok_rows_gets_nan():
    f = synthetic_frame([6.0, 6.5, 7.0], {c: 2 for c in CATEGORIES}, sd=0.5, seed=9)
    f.loc[f["model"] == "m1", ["status", "score"]] = ["error", np.nan]
    table = mixed_effects(f).set_index("model")
    assert np.isnan(table.loc["m1", "effect"]) and np.isfinite(table.loc["m2", "effect"])
