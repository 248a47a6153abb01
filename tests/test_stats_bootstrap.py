"""Stratified paired bootstrap of the leaderboard: formula, draws, determinism, coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from alignbench_utils.analysis.aggregate import leaderboard
from alignbench_utils.analysis.stats import (
    METRICS,
    bootstrap_leaderboard,
    bootstrap_replicates,
    interval_coverage,
    intervals,
    score_matrix,
    synthetic_frame,
)
from alignbench_utils.taxonomy import (
    CATEGORIES,
    LANGUAGE,
    LANGUAGE_COL,
    OVERALL_COL,
    REASONING,
    REASONING_COL,
)

SMALL = {c: n for c, n in zip(CATEGORIES, (4, 3, 3, 2, 3, 2, 3, 4))}


def plain_leaderboard(frame: pd.DataFrame) -> pd.DataFrame:
    """The official formula written out with pandas, failures excluded."""
    ok = frame[frame["status"] == "ok"]
    means = ok.groupby(["model", "category"])["score"].mean().unstack()[list(CATEGORIES)]
    means[REASONING_COL] = means[list(REASONING)].mean(axis=1)
    means[LANGUAGE_COL] = means[list(LANGUAGE)].mean(axis=1)
    means[OVERALL_COL] = (means[REASONING_COL] + means[LANGUAGE_COL]) / 2
    return means


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame([5.0, 6.0, 6.2], {c: 12 for c in CATEGORIES}, fail_rate=0.1, seed=3)


def test_estimate_equals_plain_formula_and_aggregate_leaderboard(frame):
    table = bootstrap_leaderboard(frame, n_boot=50, seed=0)
    wide = table.pivot(index="model", columns="metric", values="estimate")[list(METRICS)]
    expected = plain_leaderboard(frame)
    np.testing.assert_allclose(wide.to_numpy(), expected.loc[wide.index].to_numpy(), rtol=1e-12)
    official = leaderboard(frame.assign(judge="j")).set_index("模型")
    np.testing.assert_allclose(wide[list(METRICS)].to_numpy(),
                               official.loc[wide.index, list(METRICS)].to_numpy(), rtol=1e-12)


def test_failures_excluded_and_counted():
    rows = [("m", i, CATEGORIES[i % 8], "ok", 8.0) for i in range(16)]
    rows += [("m", 100, "数学计算", "parse_failed", np.nan), ("m", 101, "数学计算", "error", 1.0)]
    f = pd.DataFrame(rows, columns=["model", "question_id", "category", "status", "score"])
    table = bootstrap_leaderboard(f, n_boot=20).set_index("metric")
    assert table.loc["数学计算", "estimate"] == 8.0  # the error row's score 1.0 is ignored
    assert (table.loc["数学计算", "n_ok"], table.loc["数学计算", "n_failed"]) == (2, 2)
    assert (table.loc[OVERALL_COL, "n_ok"], table.loc[OVERALL_COL, "n_failed"]) == (16, 2)
    assert (table.loc[LANGUAGE_COL, "n_ok"], table.loc[REASONING_COL, "n_failed"]) == (12, 2)


def test_columns_and_intervals_bracket_estimate(frame):
    table = bootstrap_leaderboard(frame, n_boot=500, seed=1)
    assert list(table.columns) == ["model", "metric", "estimate", "lower", "upper", "n_ok",
                                   "n_failed"]
    assert len(table) == 3 * 11 and set(table["metric"]) == set(METRICS)
    assert (table["lower"] < table["estimate"]).all() and (table["estimate"] < table["upper"]).all()
    wide = bootstrap_leaderboard(frame, n_boot=500, seed=1, level=0.5)
    assert ((wide["upper"] - wide["lower"]) < (table["upper"] - table["lower"])).all()


def test_same_seed_identical_other_seed_different(frame):
    a = bootstrap_replicates(frame, n_boot=100, seed=7).replicates
    b = bootstrap_replicates(frame, n_boot=100, seed=7).replicates
    c = bootstrap_replicates(frame, n_boot=100, seed=8).replicates
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_vectorised_bootstrap_matches_slow_loop_with_same_draws():
    f = synthetic_frame([5.0, 7.0], SMALL, fail_rate=0.15, seed=11)
    n_boot, seed = 40, 5
    result = bootstrap_replicates(f, n_boot=n_boot, seed=seed)
    # The documented draw order: per category (official order), integers(0, n_c, (B, n_c))
    # over that category's questions sorted by question_id.
    rng = np.random.default_rng(seed)
    draws = {}
    for cat in CATEGORIES:
        qids = np.sort(f.loc[f["category"] == cat, "question_id"].unique())
        draws[cat] = qids[rng.integers(0, qids.size, size=(n_boot, qids.size))]
    ok = f[f["status"] == "ok"].set_index(["model", "question_id"])["score"]
    for b in range(n_boot):
        for m, model in enumerate(result.models):
            cat_means = []
            for cat in CATEGORIES:
                vals = [ok[(model, q)] for q in draws[cat][b] if (model, q) in ok.index]
                cat_means.append(sum(vals) / len(vals) if vals else np.nan)
            reasoning = np.mean(cat_means[:2])
            language = np.mean(cat_means[2:])
            expected = cat_means + [reasoning, language, (reasoning + language) / 2]
            np.testing.assert_allclose(result.replicates[b, m], expected, rtol=1e-12)


def test_resample_without_ok_scores_is_nan_and_ignored():
    sizes = {c: 3 for c in CATEGORIES}
    f = synthetic_frame([6.0], sizes, seed=2)
    math = f.index[f["category"] == "数学计算"][:2]  # one ok math answer left
    f.loc[math, ["status", "score"]] = ["parse_failed", np.nan]
    result = bootstrap_replicates(f, n_boot=300, seed=0)
    k = METRICS.index("数学计算")
    nan_share = np.isnan(result.replicates[:, 0, k]).mean()
    assert 0.2 < nan_share < 0.4  # P(the ok question is never drawn) = (2/3)^3 ≈ 0.30
    assert np.isnan(result.replicates[:, 0, METRICS.index(OVERALL_COL)]).mean() == nan_share
    table = bootstrap_leaderboard(result).set_index("metric")
    assert np.isfinite(table.loc[OVERALL_COL, ["lower", "upper"]].astype(float)).all()


def test_bca_matches_scipy_on_a_single_category():
    f = synthetic_frame([6.0], {"数学计算": 30}, sd=2.0, question_sd=0.0, seed=4)
    f["score"] = np.exp(f["score"] / 3)  # skewed, so BCa differs from percentile
    result = bootstrap_replicates(f, n_boot=20_000, seed=0)
    k = METRICS.index("数学计算")
    lower, upper = intervals(result, level=0.9, method="bca")
    ref = sps.bootstrap((f["score"].to_numpy(),), np.mean, n_resamples=20_000,
                        confidence_level=0.9, method="BCa", rng=np.random.default_rng(1))
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert abs(lower[0, k] - ref.confidence_interval.low) < 0.03 * width
    assert abs(upper[0, k] - ref.confidence_interval.high) < 0.03 * width
    p_lower, _ = intervals(result, level=0.9)
    assert abs(p_lower[0, k] - lower[0, k]) > 0.03 * width
    constant = bootstrap_replicates(f.assign(score=7.0), n_boot=50)
    assert intervals(constant, method="bca")[0][0, k] == 7.0


def test_percentile_interval_coverage_by_simulation():
    assert 0.93 <= interval_coverage(400, method="percentile", seed=1000) <= 0.97


def test_invalid_frames_raise_clear_errors(frame):
    with pytest.raises(ValueError, match="one judge"):
        score_matrix(pd.concat([frame, frame]))
    with pytest.raises(ValueError, match="unknown categories"):
        score_matrix(frame.assign(category="nope"))
    with pytest.raises(ValueError, match="lacks columns"):
        score_matrix(frame.drop(columns="status"))
    with pytest.raises(ValueError, match="method"):
        bootstrap_leaderboard(frame, n_boot=10, method="normal")
