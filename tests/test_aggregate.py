"""Leaderboard: the official formula, the published table, legacy mode, exports."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignbench_utils import dimension_means, leaderboard
from alignbench_utils.analysis.aggregate import (
    OFFICIAL_COLUMNS,
    export_results,
    failure_table,
    summarize_category_means,
)
from alignbench_utils.taxonomy import CATEGORIES, CATEGORY_EN, LANGUAGE, REASONING

PUBLISHED = pd.read_csv(Path(__file__).parent / "data" / "leaderboard_v1.0_gpt4_judge.csv")
ZH = {en: zh for zh, en in CATEGORY_EN.items()}


def test_published_table_rebuilt_from_category_columns():
    table = PUBLISHED.rename(columns=ZH)
    rebuilt = summarize_category_means(table[list(CATEGORIES)])
    for zh in ("中文推理", "中文语言", "总分"):
        err = (rebuilt[zh] - table[zh]).abs()
        assert (err <= 0.01).sum() == 17, (zh, err.max())


def test_published_table_through_leaderboard():
    """One judgment per category whose score is the published mean → same summaries."""
    rows = [{"model": r["model"], "question_id": i, "category": zh, "status": "ok",
             "score": r[CATEGORY_EN[zh]]}
            for _, r in PUBLISHED.iterrows() for i, zh in enumerate(CATEGORIES)]
    lb = leaderboard(rows).set_index("模型").loc[PUBLISHED["model"]]
    for en in ("reasoning", "language", "overall"):
        np.testing.assert_allclose(lb[ZH[en]].to_numpy(), PUBLISHED[en].to_numpy(), atol=0.01)


def official_show_result(rows):
    """Straight transcription of the official show_result.py loop (the reference)."""
    splits = sorted({r["category"] for r in rows})
    total = {}
    for r in rows:
        total.setdefault(r["model"], {s: [] for s in splits})[r["category"]].append(r["score"])
    out = {}
    for model, cats in total.items():
        reasoning = np.mean([np.mean(cats[c]) for c in REASONING])
        language = np.mean([np.mean(cats[c]) for c in LANGUAGE])
        out[model] = {**{s: np.mean(cats[s]) for s in splits}, "中文推理": reasoning,
                      "中文语言": language, "总分": (reasoning + language) / 2}
    return out


def synthetic(seed=0, n_models=3, per_cat=5, fail_rate=0.1):
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(n_models):
        for c_i, cat in enumerate(CATEGORIES):
            for k in range(per_cat):
                failed = rng.random() < fail_rate
                rows.append({"model": f"m{m}", "question_id": c_i * 100 + k, "category": cat,
                             "status": "parse_failed" if failed else "ok",
                             "score": None if failed else float(rng.integers(1, 11)),
                             "dimensions": {"事实正确性": float(rng.integers(1, 11))}})
    return rows


def test_legacy_mode_equals_official_script():
    rows = synthetic()
    official = official_show_result(
        [r | {"score": -1 if r["status"] != "ok" else r["score"]} for r in rows])
    lb = leaderboard(rows, legacy=True).set_index("模型")
    for model, expected in official.items():
        for col, value in expected.items():
            assert lb.loc[model, col] == pytest.approx(value, abs=1e-12)


def test_failures_never_averaged_in():
    rows = synthetic(fail_rate=0.2)
    lb = leaderboard(rows).set_index("模型")
    ok = [r for r in rows if r["status"] == "ok"]
    expected = official_show_result(ok)
    for model in expected:
        assert lb.loc[model, "总分"] == pytest.approx(expected[model]["总分"])
        n_failed = sum(r["status"] != "ok" for r in rows if r["model"] == model)
        assert lb.loc[model, "n_failed"] == n_failed
        assert lb.loc[model, "n_ok"] + n_failed == len(CATEGORIES) * 5
    assert list(lb.reset_index().columns) == [*OFFICIAL_COLUMNS, "n_ok", "n_failed"]
    assert lb["总分"].is_monotonic_decreasing


def test_last_record_wins_and_category_without_ok_is_nan():
    rows = [{"model": "m", "question_id": 1, "category": "数学计算", "status": "error"},
            {"model": "m", "question_id": 1, "category": "数学计算", "status": "ok", "score": 9}]
    lb = leaderboard(rows)
    assert lb.loc[0, "数学计算"] == 9 and lb.loc[0, "n_failed"] == 0
    assert math.isnan(lb.loc[0, "总分"])  # other categories are missing: no silent number


def test_several_judges_need_a_choice():
    rows = synthetic()
    both = [r | {"judge": "a"} for r in rows] + [r | {"judge": "b"} for r in rows]
    with pytest.raises(ValueError, match="several judges"):
        leaderboard(both)
    assert len(leaderboard(both, judge="a")) == 3


def test_dimension_means_and_failure_table():
    rows = synthetic()
    dims = dimension_means(rows)
    ok = [r for r in rows if r["status"] == "ok" and r["model"] == "m0"]
    got = dims.set_index(["model", "dimension"]).loc[("m0", "事实正确性")]
    assert got["n"] == len(ok)
    assert got["mean"] == pytest.approx(np.mean([r["dimensions"]["事实正确性"] for r in ok]))
    fails = failure_table(rows)
    assert fails["total"].sum() == len(rows)
    assert fails["parse_failed"].sum() == sum(r["status"] == "parse_failed" for r in rows)


def test_export_writes_csv_and_xlsx(tmp_path):
    paths = export_results(synthetic(), tmp_path / "results")
    csv = pd.read_csv(paths["leaderboard"])
    assert list(csv.columns)[:12] == list(OFFICIAL_COLUMNS)
    xlsx = pd.read_excel(paths["leaderboard_xlsx"], sheet_name=None)
    assert set(xlsx) == {"leaderboard", "leaderboard_legacy", "dimensions", "failures"}
    assert len(xlsx["leaderboard"]) == 3
    provenance = json.loads(paths["provenance"].read_text(encoding="utf-8"))
    assert provenance["records"]["n_records"] == len(synthetic())
    assert provenance["written_by"].startswith("alignbench-utils ")
