"""Links from report tables to the viewer (alignbench_utils.report.viewer_links): notebook 06's worst
answers and disagreements link every row, each link names an item the run's viewer page holds,
and a link opened in headless Chromium shows that item (a second judge beside it)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest
from browser import Browser, Tab, need_chromium
from run_fixtures import write_run
from test_notebooks import outputs_text, run_nb
from test_viewer import item_keys

from alignbench_utils.analysis.aggregate import judgments_frame
from alignbench_utils.analysis.error_analysis import judge_disagreements, worst_answers
from alignbench_utils.data.records import pairwise_record
from alignbench_utils.report.viewer import encode_records, page_data, pairwise_rows, write_viewer
from alignbench_utils.report.viewer_links import link_table, viewer_links

LINK = re.compile(r'href="viewer\.html\?([^"]+)"')


def opened(query: str) -> tuple[str, str | None]:
    """The item and side a link's query (as written in HTML) opens."""
    params = parse_qs(html.unescape(query))
    return params["item"][0], params.get("side", [None])[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("links")
    write_run(root, judges=("judge-a", "judge-b"))
    return root


def test_notebook_06_links_every_listed_item_to_the_viewer(run):
    executed = outputs_text(run_nb("06_error_analysis", run, judge="judge-a", n_worst=1))
    links = [opened(q) for q in LINK.findall(executed)]
    frame = judgments_frame(run / "judgments")
    expected = []
    for judge in ("judge-a", "judge-b"):  # the primary judge first
        worst = worst_answers(frame[frame["judge"] == judge], n_worst=1,
                              exclude_models=["reference"])
        assert len(worst) >= 2
        expected += [(f"{judge}|{m}|{q}", None) for m, q in zip(worst["model"], worst["question_id"])]
    gaps = judge_disagreements(frame[frame["judge"] == "judge-a"],
                               frame[frame["judge"] == "judge-b"]).head(10)
    expected += [(f"judge-a|{m}|{q}", "judge:judge-b")
                 for m, q in zip(gaps["model"], gaps["question_id"])]
    assert links == expected and len(gaps) == 10
    page = write_viewer(run, run / "viewer.html")
    assert {item for item, _ in links} <= item_keys(page_data(page.read_text(encoding="utf-8")))


def test_judge_eval_rows_link_to_the_pair_in_the_viewer():
    pair = {"pair_id": "llmbar/Natural/7", "benchmark": "llmbar", "subset": "Natural",
            "item_id": "7", "label": 1, "instruction": "写一首诗", "output_1": "甲",
            "output_2": "乙"}
    records = [pairwise_record(pair, order=order, judge="gpt", protocol="llmbar-vanilla",
                               judgment="Output (a)", status="ok", verdict_shown=1,
                               verdict=1 if order == "ab" else 2, request={},
                               request_hash=f"h{order}", prompt_sha256="p", template_sha256="t")
               for order in ("ab", "ba")]
    rows = pd.DataFrame({"judge": ["gpt", "gpt/llmbar-vanilla"], "benchmark": "llmbar",
                         "subset": "Natural", "item_id": "7", "status_ab": "ok",
                         "status_ba": "ok", "raw_ab": "x"})
    links = [opened(url.split("?", 1)[1]) for url in viewer_links(rows, protocol="llmbar-vanilla")]
    assert links == [("gpt|llmbar-vanilla|llmbar/Natural/7|ab", "order:gpt / llmbar-vanilla / ba")] * 2
    assert links[0][0] in item_keys(encode_records([], pairwise=pairwise_rows(records)))
    with pytest.raises(ValueError, match="protocol="):
        viewer_links(rows.iloc[:1])
    shown = link_table(rows, protocol="llmbar-vanilla").to_html()
    assert "raw_ab" not in shown and shown.count(">open in the viewer</a>") == 2


def test_a_link_opens_its_item_with_the_second_judge_beside_it(run, tmp_path):
    need_chromium()
    page = write_viewer(run, tmp_path / "viewer.html")
    frame = judgments_frame(run / "judgments")
    gaps = judge_disagreements(frame[frame["judge"] == "judge-a"],
                               frame[frame["judge"] == "judge-b"], names=("judge-a", "judge-b"))
    top = gaps.head(2)
    browser = Browser(tmp_path / "profile")
    try:
        for url, (_, row) in zip(viewer_links(top, judge="judge-a", side_judge="judge-b"),
                                 top.iterrows()):
            tab = Tab(browser, f"{page.as_uri()}?{url.split('?', 1)[1]}")
            tab.wait_until("window.__viewerReady")
            heads = tab.evaluate("[...document.querySelectorAll('#detail .card > .card-head')]"
                                 ".map(h => h.textContent)")
            assert heads == [f"{row['model']} · judged by judge-a · ok · score {row['judge-a']:g}",
                             f"{row['model']} · judged by judge-b · ok · score {row['judge-b']:g}"]
            assert tab.evaluate("document.getElementById('detail-title').textContent"
                                ).startswith(f"question {row['question_id']} ")
            assert not tab.errors, tab.errors
            tab.close()
    finally:
        browser.close()
