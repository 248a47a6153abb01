"""Paper tables (CSV, Markdown, booktabs LaTeX from one frame) and the pages' HTML table."""

from __future__ import annotations

import pandas as pd
from run_fixtures import judgment_records

from alignbench_utils.analysis import aggregate, stats
from alignbench_utils.report.tables import (
    MISSING,
    html_table,
    leaderboard_table,
    write_table,
)
from alignbench_utils.taxonomy import CATEGORIES, OVERALL_COL


def paper(**kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = aggregate.judgments_frame(judgment_records("judge-a", per_category=3))
    boot = stats.bootstrap_replicates(frame, n_boot=200, seed=0)
    ci = stats.bootstrap_leaderboard(boot)
    return leaderboard_table(ci, stats.rank_tiers(boot), **kwargs), ci


def test_leaderboard_table_is_ranked_with_a_ci_in_every_cell():
    table, ci = paper()
    overall = ci[ci["metric"] == OVERALL_COL].set_index("model")
    assert list(table["模型"]) == list(overall["estimate"].sort_values(ascending=False).index)
    assert list(table.columns) == ["模型", "rank", "tier", OVERALL_COL, "中文推理", "中文语言",
                                   *CATEGORIES, "n_ok", "n_failed"]
    metrics = table.columns[3:-2]
    assert table[metrics].stack().str.fullmatch(r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]").all()
    row = table.iloc[0]
    est = overall.loc[row["模型"]]
    assert row[OVERALL_COL] == f"{est['estimate']:.2f} [{est['lower']:.2f}, {est['upper']:.2f}]"
    assert int(table["n_failed"].sum()) == 2 and list(table["rank"]) == [1, 2, 3]


def test_english_names_and_decimals():
    table, _ = paper(english=True, decimals=1)
    assert list(table.columns[:6]) == ["Model", "Rank", "Tier", "Overall", "Reasoning",
                                       "Language"]
    assert "Math" in table.columns and "Roleplay" in table.columns
    assert table["Overall"].str.fullmatch(r"\d+\.\d \[\d+\.\d, \d+\.\d\]").all()


def test_three_formats_from_one_table(tmp_path):
    table = pd.DataFrame({"model": ["qwen_7b", "gpt&co"], "总分": ["5.50 [5.38, 5.62]", None],
                          "p": [0.012345, float("nan")], "n": pd.array([3, None], "Int64")})
    paths = write_table(table, tmp_path / "t", caption="judge_a: 95% CI", decimals=3)
    assert [p.name for p in paths] == ["t.csv", "t.md", "t.tex"]
    csv = pd.read_csv(paths[0], dtype=str, keep_default_na=False)
    assert csv.values.tolist() == [["qwen_7b", "5.50 [5.38, 5.62]", "0.012", "3"],
                                   ["gpt&co", MISSING, MISSING, MISSING]]
    md = paths[1].read_text(encoding="utf-8").splitlines()
    assert md[0].split("|")[1].strip() == "model" and len(md) == 4
    assert "| 0.012 " in md[2] and MISSING in md[3]
    tex = paths[2].read_text(encoding="utf-8")
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    assert r"qwen\_7b" in tex and r"gpt\&co" in tex and r"\caption{judge\_a: 95\% CI}" in tex
    assert r"\begin{tabular}{lrrr}" in tex


def test_html_table_shows_every_row_without_index_and_marks_missing():
    table = pd.DataFrame({"model": [f"m{i}" for i in range(80)], "cost": 0.123456,
                          "note": ["<b>x</b>"] + [None] * 79,
                          "viewer": ["viewer.html?item=a%7Cm%7C1"] * 80})
    html = html_table(table, decimals=2, text_columns=["note"], link_columns=["viewer"]).to_html()
    assert html.count("<tr") == 81 and "m79" in html
    assert "0.12" in html and "0.123456" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and MISSING in html and "nan" not in html.lower()
    assert 'href="viewer.html?item=a%7Cm%7C1"' in html
    assert "row_heading" not in html and "blank level0" not in html  # no index column
    assert "overflow-x: auto" in html


def test_html_table_puts_intervals_under_their_estimates():
    table, _ = paper()
    html = html_table(table).to_html()
    assert ">8.08<br>[" in html or "<br>[" in html
    assert html.count("<br>[") == len(table) * 11
    assert "<br>" not in html_table(pd.DataFrame({"model": ["a [b]"]})).to_html()
