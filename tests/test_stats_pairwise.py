"""Pairwise leaderboard statistics: orders combined, win rates, Bradley-Terry, length control,
ranking agreement and the synthetic generator, against hand computations, statsmodels and
scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import kendalltau

from alignbench_utils.analysis.stats import (
    bootstrap_replicates,
    bradley_terry,
    bradley_terry_replicates,
    combine_orders,
    expected_game_scores,
    kendall_tau_b,
    length_controlled_win_rates,
    mean_lengths,
    ranking_agreement,
    synthetic_comparisons,
    synthetic_frame,
    win_rates,
)
from alignbench_utils.analysis.stats.matrix import question_layout
from alignbench_utils.taxonomy import CATEGORIES, LANGUAGE, LANGUAGE_COL, OVERALL_COL, REASONING_COL

COLUMNS = ["question_id", "category", "model_a", "model_b", "order", "status", "winner"]
MATH, LOGIC = CATEGORIES[0], CATEGORIES[1]


def order_rows(qid: int, category: str, ab: tuple[str, str | None] | None,
               ba: tuple[str, str | None] | None, a: str = "x", b: str = "base") -> list[tuple]:
    """Rows of one game: each order is (status, winner) or None when absent."""
    rows = []
    for order, verdict in (("ab", ab), ("ba", ba)):
        if verdict is not None:
            rows.append((qid, category, a, b, order, verdict[0], verdict[1]))
    return rows


OK_A, OK_B, OK_TIE = ("ok", "a"), ("ok", "b"), ("ok", "tie")
FORMAT, ERROR = ("parse_failed", None), ("error", None)


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    """One challenger x against base; every kind of game once (see the expected counts)."""
    games = [
        (1, MATH, OK_A, OK_A),  # consistent win
        (2, MATH, OK_TIE, OK_TIE),  # consistent tie
        (3, MATH, OK_B, OK_B),  # consistent loss
        (4, MATH, OK_A, OK_B),  # inconsistent a / b
        (5, LOGIC, OK_A, OK_TIE),  # inconsistent a / tie
        (6, LOGIC, FORMAT, OK_A),  # incomplete: one format error
        (7, LOGIC, ERROR, FORMAT),  # incomplete: error + format error
        (8, LOGIC, OK_A, None),  # incomplete: order missing
    ]
    # one consistent game per language category: scores 1, 1, 0.5, 0, 1, 1
    for k, (cat, v) in enumerate(zip(LANGUAGE, (OK_A, OK_A, OK_TIE, OK_B, OK_A, OK_A))):
        games.append((9 + k, cat, v, v))
    rows = [r for g in games for r in order_rows(*g)]
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------- combining the two orders


@pytest.mark.parametrize("rule, q4, q5", [
    ("tie", (0, 1, 0), (0, 1, 0)),
    ("half", (0.5, 0, 0.5), (0.5, 0.5, 0)),
    ("drop", None, None),
])
def test_combine_orders_by_hand(hand, rule, q4, q5):
    games = combine_orders(hand, inconsistent=rule).set_index("question_id")
    wtl = ["win", "tie", "loss"]
    assert games.loc[1, wtl].tolist() == [1, 0, 0]
    assert games.loc[2, wtl].tolist() == [0, 1, 0]
    assert games.loc[3, wtl].tolist() == [0, 0, 1]
    for q, expected in ((4, q4), (5, q5)):
        assert not games.loc[q, "consistent"] and games.loc[q, "complete"]
        if expected is None:
            assert not games.loc[q, "used"] and games.loc[q, wtl].isna().all()
        else:
            assert games.loc[q, "used"] and games.loc[q, wtl].tolist() == list(expected)
    for q in (6, 7, 8):  # never a tie, win or loss
        assert not games.loc[q, "complete"] and not games.loc[q, "used"]
        assert pd.isna(games.loc[q, "consistent"]) and games.loc[q, wtl].isna().all()
    assert games.loc[[6, 7, 8], "n_parse_failed"].tolist() == [1, 1, 0]
    assert games.loc[[6, 7, 8], "n_error"].tolist() == [0, 1, 0]
    assert pd.isna(games.loc[6, "winner_ab"])
    assert games.loc[6, "winner_ba"] == "a"
    assert len(games) == 14 and games["used"].sum() == (14 - 3 - (rule == "drop") * 2)


@pytest.mark.parametrize("mutate, message", [
    (lambda f: f.drop(columns="order"), "lacks columns"),
    (lambda f: f.assign(order="AB"), "order = 'AB'"),
    (lambda f: f.assign(status="unreadable"), "status = 'unreadable'"),
    (lambda f: f.assign(winner=None), "winner = None"),
    (lambda f: f.assign(winner="A"), "winner = 'A'"),
    (lambda f: f.assign(model_b="x"), "model other than model_a"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "appears twice"),
    (lambda f: pd.concat([f, f.iloc[:1].assign(model_a="base", model_b="x")]), "one orientation"),
    (lambda f: f.assign(len_a=np.arange(len(f)), len_b=1), "different answer lengths"),
    (lambda f: f.assign(category="数学"), "unknown categories"),
])
def test_malformed_comparisons_are_refused(hand, mutate, message):
    with pytest.raises(ValueError, match=message):
        win_rates(mutate(hand), baseline="base", n_boot=10)


def test_unknown_rule_and_baseline_are_refused(hand):
    with pytest.raises(ValueError, match="unknown inconsistent rule"):
        combine_orders(hand, inconsistent="majority")
    with pytest.raises(ValueError, match="baseline 'gpt' is in no comparison"):
        win_rates(hand, baseline="gpt", n_boot=10)
    with pytest.raises(ValueError, match="baseline 'gpt' is in no comparison"):
        bradley_terry(hand, baseline="gpt", n_boot=10)


# ---------------------------------------------------------------- win rates


@pytest.mark.parametrize("rule, math, logic", [("tie", 0.5, 0.5), ("half", 0.5, 0.75),
                                                ("drop", 0.5, np.nan)])
def test_win_rates_by_hand(hand, rule, math, logic):
    table = win_rates(hand, baseline="base", inconsistent=rule, n_boot=50).set_index("metric")
    assert table["model"].eq("x").all() and len(table) == 11
    np.testing.assert_allclose(table.loc[[MATH, LOGIC], "win_rate"], [math, logic])
    language = (1 + 1 + 0.5 + 0 + 1 + 1) / 6
    reasoning = (math + logic) / 2
    np.testing.assert_allclose(table.loc[[REASONING_COL, LANGUAGE_COL, OVERALL_COL], "win_rate"],
                               [reasoning, language, (reasoning + language) / 2])
    logic_row = table.loc[LOGIC]
    assert logic_row[["n_incomplete", "n_parse_failed", "n_error"]].tolist() == [3, 2, 1]
    assert table.loc[MATH, "n_inconsistent"] == 1 and table.loc[OVERALL_COL, "n_inconsistent"] == 2
    games = {"tie": 5, "half": 5, "drop": 3}[rule]
    assert table.loc[REASONING_COL, "n_games"] == games
    wins, ties, losses = table.loc[REASONING_COL, ["wins", "ties", "losses"]]
    assert wins + ties + losses == games
    if rule == "tie":
        assert (wins, ties, losses) == (1, 3, 1)
    if rule == "half":
        assert (wins, ties, losses) == (2, 1.5, 1.5)
    assert table.loc[OVERALL_COL, "n_parse_failed"] == 2  # counted, never a tie


def test_parse_failures_never_move_the_win_rate(hand):
    clean = hand[~hand["question_id"].isin([6, 7, 8])]
    full = win_rates(hand, baseline="base", n_boot=200, seed=3)
    reduced = win_rates(clean, baseline="base", n_boot=200, seed=3)
    np.testing.assert_allclose(full["win_rate"], reduced["win_rate"])
    assert reduced["n_parse_failed"].sum() == 0 and full["n_parse_failed"].max() == 2


def test_win_rate_intervals_are_the_pointwise_bootstrap_of_game_scores():
    frame = synthetic_comparisons([0.0, 0.4, -0.3], {c: 9 for c in CATEGORIES},
                                  position_bias=0.4, fail_rate=0.1, seed=5)
    table = win_rates(frame, baseline="m0", n_boot=300, seed=11)
    games = combine_orders(frame)
    judged = pd.DataFrame({"model": games["model_a"], "question_id": games["question_id"],
                           "category": games["category"],
                           "status": np.where(games["used"], "ok", "failed"),
                           "score": games["win"] + games["tie"] / 2})
    result = bootstrap_replicates(judged, n_boot=300, seed=11)
    lower, upper = np.nanquantile(result.replicates, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(table["lower"], lower.ravel())
    np.testing.assert_allclose(table["upper"], upper.ravel())
    np.testing.assert_allclose(table["win_rate"], result.estimates.ravel())
    ok = games[games["used"]]
    pooled = (ok["win"] + ok["tie"] / 2).groupby([ok["model_a"], ok["category"]]).mean()
    by_cat = table[table["metric"].isin(CATEGORIES)].set_index(["model", "metric"])["win_rate"]
    np.testing.assert_allclose(by_cat.loc[pooled.index], pooled)


def test_games_listed_with_the_baseline_first_are_turned_round(hand):
    flipped = hand.assign(model_a=hand["model_b"], model_b=hand["model_a"],
                          winner=hand["winner"].map({"a": "b", "b": "a", "tie": "tie"}))
    a = win_rates(hand, baseline="base", n_boot=100, seed=1)
    b = win_rates(flipped, baseline="base", n_boot=100, seed=1)
    pd.testing.assert_frame_equal(a, b)


def test_mean_lengths_count_each_answer_once():
    frame = synthetic_comparisons([0.0, 0.2, 0.1], {MATH: 5}, mean_lengths=[300, 600, 900],
                                  seed=2)
    lengths = mean_lengths(frame)
    expected = {m: frame.loc[frame["model_a"] == m, "len_a"].iloc[:5].mean()
                for m in ("m1", "m2")} | {"m0": frame["len_b"].iloc[:5].mean()}
    assert lengths.to_dict() == pytest.approx(expected)


# ---------------------------------------------------------------- Bradley-Terry


def statsmodels_ratings(frame: pd.DataFrame, baseline: str, pseudo_ties: float) -> pd.Series:
    """BT as a plain logistic regression on pair indicators (statsmodels GLM), pseudo-ties as
    rows of score ½ with frequency weight ``pseudo_ties``."""
    games = combine_orders(frame)
    games = games[games["used"]]
    models = sorted((set(games["model_a"]) | set(games["model_b"])) - {baseline})
    x = (games["model_a"].to_numpy()[:, None] == np.array(models)).astype(float)
    x -= games["model_b"].to_numpy()[:, None] == np.array(models)
    y = (games["win"] + games["tie"] / 2).to_numpy()
    weights = np.ones(len(y))
    if pseudo_ties:
        x = np.vstack([x, np.eye(len(models))])
        y = np.r_[y, np.full(len(models), 0.5)]
        weights = np.r_[weights, np.full(len(models), pseudo_ties)]
    fit = sm.GLM(y, x, family=sm.families.Binomial(), freq_weights=weights).fit(tol=1e-12)
    return pd.Series(1000 + 400 * np.asarray(fit.params) / np.log(10), index=models)


@pytest.fixture(scope="module")
def all_pairs() -> pd.DataFrame:
    return synthetic_comparisons([0.0, 0.5, 1.0, -0.4, 0.2], {c: 12 for c in CATEGORIES},
                                 design="all", position_bias=0.3, fail_rate=0.05, seed=8)


def test_bradley_terry_matches_statsmodels_logistic_regression(all_pairs):
    result = bradley_terry_replicates(all_pairs, baseline="m0", n_boot=5)
    ours = pd.Series(result.ratings, index=result.models).drop("m0")
    expected = statsmodels_ratings(all_pairs, "m0", pseudo_ties=1.0)
    np.testing.assert_allclose(ours[expected.index], expected, atol=1e-6)
    assert result.ratings[result.models.index("m0")] == 1000.0


def test_pseudo_ties_approach_the_maximum_likelihood_fit(all_pairs):
    tiny = bradley_terry_replicates(all_pairs, baseline="m0", n_boot=5, pseudo_ties=1e-9)
    ours = pd.Series(tiny.ratings, index=tiny.models).drop("m0")
    expected = statsmodels_ratings(all_pairs, "m0", pseudo_ties=0)
    np.testing.assert_allclose(ours[expected.index], expected, atol=1e-4)
    default = bradley_terry_replicates(all_pairs, baseline="m0", n_boot=5)
    shift = np.abs(default.ratings - tiny.ratings)
    assert shift.max() < 2.0  # one pseudo-tie against ~190 games per model


def test_bootstrap_equals_refitting_each_resample(all_pairs):
    n_boot, seed = 12, 7
    result = bradley_terry_replicates(all_pairs, baseline="m0", n_boot=n_boot, seed=seed)
    qids, slices = question_layout(all_pairs)
    rng = np.random.default_rng(seed)  # the documented draw order
    draws = [qids[sl][rng.integers(0, sl.stop - sl.start, size=(n_boot, sl.stop - sl.start))]
             for sl in slices if sl.stop > sl.start]
    for b in range(n_boot):
        picked = np.concatenate([d[b] for d in draws])
        parts = [all_pairs[all_pairs["question_id"] == q].assign(question_id=k)
                 for k, q in enumerate(picked)]
        refit = bradley_terry_replicates(pd.concat(parts), baseline="m0", n_boot=1)
        expected = pd.Series(refit.ratings, index=refit.models)[list(result.models)]
        np.testing.assert_allclose(result.replicates[b], expected, atol=1e-6)


def test_bootstrap_draws_the_pointwise_resamples():
    """One category, one challenger: the rating is a closed form of its win rate, so the
    replicates must be that form of the pointwise bootstrap's replicates, resample by resample."""
    frame = synthetic_comparisons([0.0, 0.6], {MATH: 30}, tie_margin=0.8, seed=3)
    games = combine_orders(frame)
    judged = pd.DataFrame({"model": games["model_a"], "question_id": games["question_id"],
                           "category": games["category"], "status": "ok",
                           "score": games["win"] + games["tie"] / 2})
    pointwise = bootstrap_replicates(judged, n_boot=400, seed=9)
    pairwise = bradley_terry_replicates(frame, baseline="m0", n_boot=400, seed=9)
    p = pointwise.replicates[:, 0, 0]
    closed = 1000 + 400 * np.log10((30 * p + 0.5) / (30 * (1 - p) + 0.5))
    np.testing.assert_allclose(pairwise.replicates[:, pairwise.models.index("m1")], closed)


def test_a_model_that_never_loses_stays_finite():
    frame = pd.DataFrame([r for q in range(20)
                          for r in order_rows(q, MATH, OK_A, OK_A, a="top")], columns=COLUMNS)
    table = bradley_terry(frame, baseline="base", n_boot=50).set_index("model")
    assert table.loc["top", "rating"] == pytest.approx(1000 + 400 * np.log10(20.5 / 0.5))
    assert np.isfinite(table.loc["top", ["lower", "upper"]].astype(float)).all()
    with pytest.raises(ValueError, match="pseudo_ties must be > 0"):
        bradley_terry(frame, baseline="base", n_boot=10, pseudo_ties=0)


def test_models_without_games_or_link_to_the_baseline():
    rows = [r for q in range(6) for r in order_rows(q, MATH, OK_A, OK_B)]
    rows += [r for q in range(6) for r in order_rows(q, MATH, FORMAT, OK_A, a="broken")]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    table = bradley_terry(frame, baseline="base", n_boot=30)
    assert table["model"].tolist()[-1] == "broken"
    last = table.iloc[-1]
    assert np.isnan(last["rating"]) and pd.isna(last["rank"]) and last["n_games"] == 0
    island = pd.DataFrame([r for q in range(4) for r in order_rows(q, MATH, OK_A, OK_B,
                                                                   a="y", b="z")],
                          columns=COLUMNS)
    with pytest.raises(ValueError, match=r"models \['y', 'z'\] have no chain of games"):
        bradley_terry(pd.concat([frame, island]), baseline="base", n_boot=10)


def test_bradley_terry_table_seed_level_and_order(all_pairs):
    a = bradley_terry(all_pairs, baseline="m0", n_boot=300, seed=1)
    b = bradley_terry(all_pairs, baseline="m0", n_boot=300, seed=1)
    pd.testing.assert_frame_equal(a, b)
    c = bradley_terry(all_pairs, baseline="m0", n_boot=300, seed=2)
    assert not np.allclose(a["lower"], c["lower"])
    wide = bradley_terry(all_pairs, baseline="m0", n_boot=300, seed=1, level=0.99)
    assert ((wide["upper"] - wide["lower"]) >= (a["upper"] - a["lower"]) - 1e-9).all()
    assert a["rating"].is_monotonic_decreasing and a["rank"].tolist() == [1, 2, 3, 4, 5]
    assert (a["lower"] <= a["rating"]).all() and (a["rating"] <= a["upper"]).all()
    base = a[a["is_baseline"]].iloc[0]
    assert (base["rating"], base["lower"], base["upper"]) == (1000, 1000, 1000)
    assert list(a.columns) == ["model", "rating", "lower", "upper", "rank", "n_games",
                               "is_baseline"]


def test_bradley_terry_recovers_known_strengths():
    """Star design: the rating targets 1000 + 400·log10(odds of the expected game score).
    (Coverage of the 95% interval over many data sets is printed by the benchmark: ~0.94.)"""
    strengths = [0.0, 0.8, -0.6, 0.35, 1.4, -0.3]
    frame = synthetic_comparisons(strengths, {c: 40 for c in CATEGORIES}, position_bias=0.4,
                                  seed=12)
    table = bradley_terry(frame, baseline="m0", n_boot=500, seed=0).set_index("model")
    truth = expected_game_scores(strengths, position_bias=0.4)[:, 0]
    target = pd.Series(1000 + 400 * np.log10(truth / (1 - truth)),
                       index=[f"m{i}" for i in range(len(strengths))])[table.index]
    error = (table["rating"] - target).abs()
    assert (error <= 0.75 * (table["upper"] - table["lower"])).all()  # within ~3 SE
    assert error.max() < 40
    assert table.index.tolist() == target.sort_values(ascending=False).index.tolist()


# ---------------------------------------------------------------- ranking agreement


def test_kendall_tau_b_rows_equal_scipy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(50, 7)).astype(float)
    y = rng.integers(0, 4, size=(50, 7)).astype(float)
    ours = kendall_tau_b(x, y)
    expected = [kendalltau(a, b, variant="b").statistic for a, b in zip(x, y)]
    np.testing.assert_allclose(ours, expected, equal_nan=True)


@pytest.fixture(scope="module")
def two_views():
    sizes = {c: 25 for c in CATEGORIES}
    judgments = synthetic_frame([5.0, 6.0, 7.0, 7.3], sizes, sd=1.0, seed=1)
    # pairwise swaps m2 and m3 clearly
    comparisons = synthetic_comparisons([0.0, 0.8, 2.0, 1.4], sizes, seed=1)
    return judgments, comparisons


def test_ranking_agreement_tau_ci_and_discordant_pairs(two_views):
    judgments, comparisons = two_views
    agreement = ranking_agreement(judgments, comparisons, baseline="m0", n_boot=300, seed=4)
    pointwise = bootstrap_replicates(judgments, n_boot=10).estimates[:, -1]
    ratings = bradley_terry_replicates(comparisons, baseline="m0", n_boot=10)
    rated = pd.Series(ratings.ratings, index=ratings.models)[list(agreement.models)]
    assert agreement.tau == pytest.approx(kendalltau(pointwise, rated).statistic)
    assert agreement.tau == pytest.approx(4 / 6)
    assert agreement.lower <= agreement.tau <= agreement.upper
    assert agreement.replicates.shape == (300,)
    pairs = agreement.discordant
    assert pairs[["model_a", "model_b"]].values.tolist() == [["m3", "m2"]]
    assert pairs["share_discordant"].iloc[0] > 0.9
    assert pairs["pointwise_a"].iloc[0] > pairs["pointwise_b"].iloc[0]
    assert pairs["rating_a"].iloc[0] < pairs["rating_b"].iloc[0]


def test_ranking_agreement_uses_shared_questions_only(two_views):
    judgments, comparisons = two_views
    extra = comparisons[comparisons["question_id"] < 10].assign(
        question_id=lambda f: f["question_id"] + 10_000)
    base = ranking_agreement(judgments, comparisons, baseline="m0", n_boot=100, seed=2)
    more = ranking_agreement(judgments, pd.concat([comparisons, extra]), baseline="m0",
                             n_boot=100, seed=2)
    np.testing.assert_array_equal(base.replicates, more.replicates)
    moved = comparisons.assign(category=comparisons["category"].map(
        dict(zip(CATEGORIES, CATEGORIES[1:] + CATEGORIES[:1]))))
    with pytest.raises(ValueError, match="several categories"):
        ranking_agreement(judgments, moved, baseline="m0", n_boot=10)


def test_identical_rankings_have_no_discordant_pair():
    sizes = {c: 20 for c in CATEGORIES}
    judgments = synthetic_frame([5.0, 6.0, 7.0], sizes, sd=0.5, seed=3)
    comparisons = synthetic_comparisons([0.0, 1.0, 2.0], sizes, seed=3)
    agreement = ranking_agreement(judgments, comparisons, baseline="m0", n_boot=100)
    assert agreement.tau == 1.0 and agreement.discordant.empty


# ---------------------------------------------------------------- length control

STRENGTHS = [0.0, 0.3, 0.3, -0.2, 0.6, 0.0]
LENGTHS = [400, 900, 250, 700, 400, 400]
LC_SIZES = {c: 80 for c in CATEGORIES}


def test_length_control_removes_a_planted_length_effect():
    frame = synthetic_comparisons(STRENGTHS, LC_SIZES, mean_lengths=LENGTHS, length_effect=1.0,
                                  position_bias=0.3, seed=1)
    result = length_controlled_win_rates(frame, baseline="m0")
    table = result.table.set_index("model")
    truth = pd.Series(expected_game_scores(STRENGTHS, position_bias=0.3)[:, 0],
                      index=[f"m{i}" for i in range(6)])
    challengers = table.index[~table["is_baseline"]]
    raw_error = (table.loc[challengers, "win_rate"] - truth[challengers]).abs()
    lc_error = (table.loc[challengers, "lc_win_rate"] - truth[challengers]).abs()
    assert raw_error[["m1", "m2", "m3"]].min() > 0.03  # verbose and terse models are off
    assert lc_error.max() < 0.015
    assert result.length_lower > 0
    assert (table.loc[challengers, "lc_lower"] <= truth[challengers]).all()
    assert (truth[challengers] <= table.loc[challengers, "lc_upper"]).all()
    np.testing.assert_allclose(table["mean_length"], mean_lengths(frame)[table.index])


def test_length_control_changes_nothing_without_a_length_effect():
    frame = synthetic_comparisons(STRENGTHS, LC_SIZES, mean_lengths=LENGTHS, seed=1)
    result = length_controlled_win_rates(frame, baseline="m0")
    table = result.table[~result.table["is_baseline"]]
    assert result.length_lower < 0 < result.length_upper
    np.testing.assert_allclose(table["lc_win_rate"], table["win_rate"], atol=0.01)


def test_length_control_matches_its_glm_and_ignores_the_length_unit():
    frame = synthetic_comparisons([0.0, 0.4, -0.3], {c: 20 for c in CATEGORIES},
                                  mean_lengths=[300, 600, 300], length_effect=0.8, seed=4)
    result = length_controlled_win_rates(frame, baseline="m0")
    games = combine_orders(frame)
    games = games[games["used"]]
    delta = games["len_a"] - games["len_b"]
    x = np.column_stack([games["model_a"].eq("m1"), games["model_a"].eq("m2"),
                         np.tanh(delta / delta.std())]).astype(float)
    fit = sm.GLM((games["win"] + games["tie"] / 2).to_numpy(), x,
                 family=sm.families.Binomial()).fit()
    table = result.table.set_index("model")
    np.testing.assert_allclose(table.loc[["m1", "m2"], "lc_win_rate"], expit(fit.params[:2]))
    assert result.length_coef == pytest.approx(fit.params[2])
    tripled = frame.assign(len_a=frame["len_a"] * 3, len_b=frame["len_b"] * 3)
    again = length_controlled_win_rates(tripled, baseline="m0").table
    np.testing.assert_allclose(again["lc_win_rate"], result.table["lc_win_rate"])
    np.testing.assert_allclose(again["mean_length"], result.table["mean_length"] * 3)


def test_length_control_in_an_all_pairs_design():
    frame = synthetic_comparisons(STRENGTHS, {c: 40 for c in CATEGORIES}, design="all",
                                  mean_lengths=LENGTHS, length_effect=1.0, seed=6)
    table = length_controlled_win_rates(frame, baseline="m0").table.set_index("model")
    truth = expected_game_scores(STRENGTHS)[:, 0]
    for i in range(1, 6):
        assert table.loc[f"m{i}", "lc_win_rate"] == pytest.approx(truth[i], abs=0.03)


def test_length_control_needs_varying_lengths(hand):
    with pytest.raises(ValueError, match="lacks answer lengths"):
        length_controlled_win_rates(hand, baseline="base")
    with pytest.raises(ValueError, match="do not vary"):
        length_controlled_win_rates(hand.assign(len_a=500, len_b=400), baseline="base")


# ---------------------------------------------------------------- the synthetic generator


def test_expected_game_scores_by_hand():
    pi, tau = 0.3, 0.5
    # order ab: a is first with edge 1 + pi; order ba: b is first with edge -1 + pi
    ab = [expit(1 + pi - tau), expit(-1 - pi - tau)]
    ba = [expit(1 - pi - tau), expit(-1 + pi - tau)]  # [P(a wins), P(b wins)]
    ab.insert(1, 1 - sum(ab))
    ba.insert(1, 1 - sum(ba))
    consistent = ab[0] * ba[0] * 1 + ab[1] * ba[1] * 0.5
    p_consistent = sum(ab[k] * ba[k] for k in range(3))
    tie_rule = consistent + (1 - p_consistent) * 0.5
    half = sum(ab[i] * ba[j] * ((1, 0.5, 0)[i] + (1, 0.5, 0)[j]) / 2
               for i in range(3) for j in range(3))
    for rule, expected in (("tie", tie_rule), ("half", half),
                           ("drop", consistent / p_consistent)):
        got = expected_game_scores([0.0, 1.0], position_bias=pi, tie_margin=tau,
                                   inconsistent=rule)
        assert got[1, 0] == pytest.approx(expected)
        assert got[0, 1] == pytest.approx(1 - expected)


@pytest.mark.parametrize("rule", ["tie", "half", "drop"])
def test_generator_matches_its_expected_scores(rule):
    strengths = [0.0, 0.7, -0.4]
    frame = synthetic_comparisons(strengths, {c: 500 for c in CATEGORIES}, position_bias=0.5,
                                  seed=21)
    games = combine_orders(frame, inconsistent=rule)
    games = games[games["used"]]
    score = (games["win"] + games["tie"] / 2).groupby(games["model_a"])
    truth = expected_game_scores(strengths, position_bias=0.5, inconsistent=rule)[:, 0]
    for m, mean in score.mean().items():
        se = score.std()[m] / np.sqrt(score.size()[m])
        assert abs(mean - truth[int(m[1:])]) < 4 * se


def test_generator_plants_position_bias_failures_and_is_seeded():
    sizes = {c: 100 for c in CATEGORIES}
    frame = synthetic_comparisons([0.0, 0.0], sizes, position_bias=0.8, fail_rate=0.1, seed=2)
    ok = frame[frame["status"] == "ok"]
    first = np.where(ok["order"] == "ab", ok["winner"] == "a", ok["winner"] == "b")
    assert first.mean() > 0.55  # the answer shown first wins more often
    assert abs((frame["status"] == "parse_failed").mean() - 0.1) < 0.02
    assert frame.loc[frame["status"] != "ok", "winner"].isna().all()
    fair = synthetic_comparisons([0.0, 0.0], sizes, seed=2)
    fair_first = np.where(fair["order"] == "ab", fair["winner"] == "a", fair["winner"] == "b")
    assert abs(fair_first.mean() - (fair["winner"] != "tie").mean() / 2) < 0.03
    pd.testing.assert_frame_equal(frame, synthetic_comparisons(
        [0.0, 0.0], sizes, position_bias=0.8, fail_rate=0.1, seed=2))
    assert not frame.equals(synthetic_comparisons([0.0, 0.0], sizes, position_bias=0.8,
                                                  fail_rate=0.1, seed=3))
    with pytest.raises(ValueError, match="unknown design"):
        synthetic_comparisons([0.0, 1.0], sizes, design="swiss")
