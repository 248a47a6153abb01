"""Judge-human agreement in the AlignBench/CritiqueLLM conventions against scipy loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, pearsonr, spearmanr

from alignbench_utils import InputError
from alignbench_utils.analysis.stats import (
    human_scores_long,
    judge_human_agreement,
    pointwise_agreement,
)

MODELS = [f"m{i}" for i in range(8)]


def synthetic(n_questions=30, seed=0, holes=True):
    """Judge scores 1-10 and human scores 1-5 (different scales) for 8 models."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, (n_questions, len(MODELS))) + np.linspace(-1, 1, len(MODELS))
    human = np.clip(np.round(3 + quality), 1, 5)
    judge = np.clip(np.round(5.5 + 2 * quality + rng.normal(0, 1, quality.shape)), 1, 10)
    human[3] = 2.0  # a question where every model gets the same human score: no correlation
    judgments = pd.DataFrame([{"model": m, "question_id": q + 100, "status": "ok",
                               "score": judge[q, k]} for q in range(n_questions)
                              for k, m in enumerate(MODELS)])
    wide = pd.DataFrame(human, columns=MODELS).T.set_axis(
        [str(q + 100) for q in range(n_questions)], axis=1).rename_axis("model").reset_index()
    if holes:
        judgments.loc[5, ["status", "score"]] = ["parse_failed", None]
        wide.loc[2, "101"] = None
    return judgments, wide


def reference(judgments, human_long):
    """The papers' definitions, one scipy call per question / on model means."""
    ok = judgments[judgments["status"].eq("ok")]
    pairs = ok.merge(human_long, on=["question_id", "model"]).dropna(
        subset=["score", "human_score"])
    out = {}
    for name, fn in (("pearson", pearsonr), ("spearman", spearmanr), ("kendall", kendalltau)):
        values = []
        for _, q in pairs.groupby("question_id"):
            if len(q) >= 2 and q["score"].nunique() > 1 and q["human_score"].nunique() > 1:
                values.append(fn(q["score"], q["human_score"])[0])
        out[("per_question", name)] = np.mean(values)
        means = pairs.groupby("model")[["score", "human_score"]].mean()
        out[("system", name)] = fn(means["score"], means["human_score"])[0]
    return out, pairs


def test_per_question_and_system_levels_match_scipy_loops():
    judgments, wide = synthetic()
    table = judge_human_agreement(judgments, wide, n_boot=300).set_index(["level", "metric"])
    expected, pairs = reference(judgments, human_scores_long(wide))
    for key, value in expected.items():
        assert table.loc[key, "estimate"] == pytest.approx(value, abs=1e-12), key
    assert table.loc[("per_question", "pearson"), ["n", "n_dropped"]].tolist() == [29, 1]
    assert table.loc[("system", "kendall"), "n"] == 8
    pooled = pointwise_agreement(pairs["score"], pairs["human_score"], n_boot=300)
    got = table.loc["pooled"]
    np.testing.assert_allclose(got["estimate"], pooled["estimate"])
    assert set(got["n"]) == {238} and set(got["n_dropped"]) == {2}
    assert ((table["lower"] <= table["estimate"] + 1e-12)
            & (table["estimate"] <= table["upper"] + 1e-12)).all()


def critiquellm_correlation_sample(v, u, block=8):
    """CritiqueLLM eval_pointwise.py ``correlation_sample``, transcribed: consecutive blocks of
    one question's 8 answers, a block skipped when Spearman is NaN."""
    sums, count = np.zeros(3), 0
    for i in range(0, len(v) - block + 1, block):
        vs, us = v[i:i + block], u[i:i + block]
        if np.isnan(spearmanr(vs, us)[0]):
            continue
        sums += [np.corrcoef(vs, us)[0, 1], spearmanr(vs, us)[0], kendalltau(vs, us)[0]]
        count += 1
    return dict(zip(("pearson", "spearman", "kendall"), sums / count))


@pytest.mark.filterwarnings("ignore:An input array is constant")
def test_matches_critiquellm_script_on_complete_blocks():
    judgments, wide = synthetic(holes=False)
    long = human_scores_long(wide)
    pairs = judgments.merge(long, on=["question_id", "model"]).sort_values(
        ["question_id", "model"])
    official = critiquellm_correlation_sample(pairs["human_score"].to_numpy(),
                                              pairs["score"].to_numpy())
    table = judge_human_agreement(judgments, long, n_boot=50).set_index(["level", "metric"])
    for name, value in official.items():
        assert table.loc[("per_question", name), "estimate"] == pytest.approx(value, abs=1e-12)


def test_wide_and_long_inputs_agree_and_bootstrap_is_seeded():
    judgments, wide = synthetic(seed=3)
    a = judge_human_agreement(judgments, wide, n_boot=200, seed=4)
    b = judge_human_agreement(judgments, human_scores_long(wide), n_boot=200, seed=4)
    pd.testing.assert_frame_equal(a, b)
    c = judge_human_agreement(judgments, wide, n_boot=200, seed=5)
    assert not np.allclose(a["lower"], c["lower"], equal_nan=True)


@pytest.mark.filterwarnings("ignore:An input array is constant")
def test_per_question_interval_resamples_questions():
    judgments, wide = synthetic(n_questions=12, seed=7, holes=False)
    table = judge_human_agreement(judgments, wide, n_boot=400, seed=9, level=0.8)
    row = table.set_index(["level", "metric"]).loc[("per_question", "spearman")]
    grid = judgments.pivot(index="question_id", columns="model", values="score")
    human = human_scores_long(wide).pivot(index="question_id", columns="model",
                                          values="human_score")
    r = np.array([spearmanr(grid.loc[q], human.loc[q])[0] for q in grid.index])
    draws = np.random.default_rng(9).integers(0, 12, size=(400, 12))
    slow = np.array([np.nanmean(r[d]) for d in draws])
    assert [row["lower"], row["upper"]] == pytest.approx(np.nanquantile(slow, [0.1, 0.9]))


def test_human_scores_long_conversions_and_errors():
    indexed = pd.DataFrame({"q1": [3, 4], "q2": [5, None]}, index=["a", "b"])
    long = human_scores_long(indexed)
    assert long.values.tolist() == [["q1", "a", 3.0], ["q2", "a", 5.0], ["q1", "b", 4.0]]
    with pytest.raises(InputError, match="not a number: 'good'"):
        human_scores_long(pd.DataFrame({"model": ["a"], "1": ["good"]}))
    with pytest.raises(InputError, match="model 'a' has two rows"):
        human_scores_long(pd.DataFrame({"model": ["a", "a"], "1": [1, 2]}))
    with pytest.raises(InputError, match="two scores for question 1"):
        human_scores_long(pd.DataFrame({"question_id": [1, 1], "model": ["a", "a"],
                                        "human_score": [1, 2]}))
