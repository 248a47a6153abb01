"""The judges compared: ranking agreement with a paired bootstrap CI, score confusion,
leaderboards side by side, disagreements linked to the viewer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from run_fixtures import judgment_records
from scipy.stats import kendalltau

from alignbench_utils.analysis import aggregate, stats
from alignbench_utils.analysis.cross_judge import (
    judge_order,
    ranking_agreement_table,
    score_confusion,
    top_disagreements,
)
from alignbench_utils.report.viewer_links import with_viewer_links

MODELS = {"a": 8.0, "b": 7.0, "c": 6.0, "d": 5.0, "reference": 4.0}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    records = (judgment_records("j1", MODELS, per_category=4, seed=0, n_failed=0)
               + judgment_records("j2/pairwise", MODELS, per_category=4, seed=1, n_failed=0))
    return aggregate.judgments_frame(records)


def test_tau_is_scipys_and_its_ci_comes_from_paired_resamples(frame):
    table = ranking_agreement_table(frame, ["j1", "j2/pairwise"], n_boot=300, seed=2)
    row = table.iloc[0]
    boards = [aggregate.leaderboard(frame, judge=j).set_index("模型")["总分"].sort_index()
              for j in ("j1", "j2/pairwise")]
    assert row["tau"] == pytest.approx(kendalltau(*boards).statistic)
    assert row["lower"] <= row["tau"] <= row["upper"] and row["n_models"] == 5
    one = frame[frame["judge"] == "j1"]
    same = ranking_agreement_table(pd.concat([one, one.assign(judge="copy")]), ["j1", "copy"],
                                   n_boot=100, seed=0)
    assert same[["tau", "lower", "upper"]].iloc[0].tolist() == [1.0, 1.0, 1.0]  # paired draws


def test_ci_narrows_with_agreeing_judges(frame):
    """Independent resamples of the two judges would give a wide CI even for one judge
    compared with itself plus tiny noise; paired resamples keep it near 1."""
    one = frame[frame["judge"] == "j1"]
    rng = np.random.default_rng(0)
    noisy = one.assign(judge="j1-noisy", score=one["score"] + rng.normal(0, 0.01, len(one)))
    table = ranking_agreement_table(pd.concat([one, noisy]), ["j1", "j1-noisy"], n_boot=200)
    assert table["lower"].iloc[0] > 0.9


def test_confusion_counts_answers_both_scored(frame):
    matrix = score_confusion(frame, ("j1", "j2/pairwise"))
    assert matrix.shape == (10, 10) and list(matrix.index) == list(range(1, 11))
    n_ok = stats.score_matrix(frame[frame["judge"] == "j1"]).ok.sum()
    assert int(matrix.to_numpy().sum()) == n_ok
    both = frame.pivot_table(index=["model", "question_id"], columns="judge", values="score")
    assert int(np.trace(matrix.to_numpy())) == int((both["j1"] == both["j2/pairwise"]).sum())


def test_disagreements_link_both_judgments(frame):
    gaps = with_viewer_links(top_disagreements(frame, ("j1", "j2/pairwise"), n=5), judge="j1",
                             side_judge="j2/pairwise")
    assert len(gaps) == 5 and gaps["gap"].is_monotonic_decreasing
    first = gaps.iloc[0]
    assert first["viewer"] == (f"viewer.html?item=j1%7C{first['model']}%7C{first['question_id']}"
                               "&side=judge%3Aj2%2Fpairwise")


def test_judge_order_puts_the_primary_first(frame):
    assert judge_order(frame, "j2/pairwise") == ["j2/pairwise", "j1"]
    assert judge_order(frame) == ["j1", "j2/pairwise"]
    with pytest.raises(ValueError, match="no judgments by judge 'x'"):
        judge_order(frame, "x")
