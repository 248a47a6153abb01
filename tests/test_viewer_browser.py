"""The judgment viewer (reports/<run>/viewer.html) driven in headless Chromium
(tests/browser.py): clean load from file:// (also when copied elsewhere), deep links that show
exactly the rows a pandas filter of the same records gives (the gap to a second judge too),
facet counts that follow the filters, the export of the rows on screen, search, an opened item
with its critique, raw outputs and a second judge side by side, CJK text, markup in records
shown as text, pairwise rows that name the winning model."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import pytest
from browser import Browser, Tab, need_chromium
from run_fixtures import shared_answer_records
from test_viewer import pairwise_fixture

from alignbench_utils.analysis.aggregate import judgments_frame
from alignbench_utils.config import parse_config
from alignbench_utils.data.layout import RunLayout, pairwise_file
from alignbench_utils.data.questions import write_jsonl
from alignbench_utils.report.pages import VIEWER_PAGE, render_report
from alignbench_utils.report.viewer import write_viewer

HOSTILE = '</script><img src=x onerror="window.__pwned = 1"><b>粗体</b>'
DIM = "事实正确性"
LONG_MODEL = "Qwen2.5-72B-Instruct-GPTQ-Int4-with-a-long-fine-tune-name-v2"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A rendered report (no notebooks needed) of two judges × three models × 16 questions."""
    root = tmp_path_factory.mktemp("viewer")
    config = parse_config({
        "name": "viewer", "models": [{"name": "strong", "base_url": "reference"}],
        "judges": [{"name": "judge-a", "base_url": "http://127.0.0.1:9/v1", "model_id": "j"}],
        "output": {"run_dir": str(root / "run"), "report_dir": str(root / "report")}})
    records = shared_answer_records()
    records[1]["answer"] = HOSTILE
    for judge in ("judge-a", "judge-b"):
        for model in ("reference", "strong", "weak"):
            write_jsonl([r for r in records if r["judge"] == judge and r["model"] == model],
                        config.run_dir / "judgments" / judge / f"{model}.jsonl")
    render_report(config)
    return config.report_dir, judgments_frame(config.run_dir / "judgments")


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    need_chromium()
    chromium = Browser(tmp_path_factory.mktemp("profile"))
    try:
        yield chromium
    finally:
        chromium.close()


def open_viewer(browser: Browser, page: Path, query: str = "") -> Tab:
    """The page, usable and with its texts read (search and export need them)."""
    tab = Tab(browser, page.as_uri() + query)
    tab.wait_until("window.__viewerReady && window.__viewer.textsLoaded()")
    return tab


def keys(frame: pd.DataFrame) -> list[list]:
    return frame[["judge", "model", "question_id"]].values.tolist()


def item(row: pd.Series) -> str:
    return f"{row['judge']}|{row['model']}|{row['question_id']}"


def dim(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame["dimensions"].map(lambda d: d.get(name, float("nan")))


def expected_rows(frame: pd.DataFrame, case: str) -> pd.DataFrame:
    """The same filter as each deep link of test_deep_links_show_exactly_the_expected_rows."""
    if case == "facets":
        picked = frame[frame["model"].isin(["strong", "weak"])
                       & frame["category"].isin(["逻辑推理", "数学计算"])
                       & frame["status"].eq("ok") & frame["judge"].eq("judge-a")]
        return picked.sort_values("score", ascending=False, kind="stable")
    if case == "ranges":
        picked = frame[frame["score"].between(7, 9) & (dim(frame, DIM) >= 8)]
        return picked.sort_values("model", kind="stable")
    if case == "judge_pair":
        mine = with_gap(frame, "judge-a", "judge-b")
        return mine[mine["vs_score"] <= 6]
    if case == "gap":
        mine = with_gap(frame, "judge-a", "judge-b")
        picked = mine[(mine["gap"] >= 2) & mine["category"].eq("数学计算")]
        return picked.sort_values("gap", ascending=False, kind="stable")
    if case == "search":
        text = frame["question"] + "\0" + frame["answer"] + "\0" + frame["judgment"]
        return frame[text.str.lower().str.contains("beauty", regex=False)]
    if case == "none":
        return frame[frame["status"] == "format_error"]
    raise ValueError(case)


def with_gap(frame: pd.DataFrame, judge: str, other: str) -> pd.DataFrame:
    """``judge``'s rows with ``other``'s score of the same item (``vs_score``) and the gap."""
    scores = frame[frame["judge"] == other].set_index(["model", "question_id"])["score"]
    mine = frame[frame["judge"] == judge]
    vs = pd.Series(list(zip(mine["model"], mine["question_id"])), index=mine.index).map(scores)
    return mine.assign(vs_score=vs, gap=(mine["score"] - vs).abs())


DEEP_LINKS = {
    "facets": [("model", "strong"), ("model", "weak"), ("category", "逻辑推理"),
               ("category", "数学计算"), ("status", "ok"), ("judge", "judge-a"),
               ("sort", "-score")],
    "ranges": [("score_min", "7"), ("score_max", "9"), ("dim", DIM), ("dim_min", "8"),
               ("sort", "model")],
    "judge_pair": [("judge", "judge-a"), ("vs_judge", "judge-b"), ("vs_max", "6")],  # older name
    "gap": [("judge", "judge-a"), ("vs", "judge-b"), ("gap_min", "2"), ("category", "数学计算"),
            ("sort", "-gap")],
    "search": [("q", "BEAUTY")],
    "none": [("status", "format_error")],  # the pairwise status before parse_failed: no row has it
}


def test_viewer_loads_cleanly_shows_cjk_and_is_linked_from_the_index(report, browser,
                                                                     tmp_path):
    report_dir, frame = report
    copied = shutil.copytree(report_dir, tmp_path / "mailed")  # works wherever it lands
    for page in (report_dir / VIEWER_PAGE, copied / VIEWER_PAGE):
        tab = open_viewer(browser, page)
        assert tab.evaluate("window.__viewer.count()") == len(frame) == 96
        text = tab.evaluate("document.body.innerText")
        assert "逻辑推理" in text and "96 of 96 judgments" in text
        assert frame["question"].iloc[0][:10] in text  # the question column, in Chinese
        assert "WenQuanYi Micro Hei" in tab.evaluate("getComputedStyle(document.body).fontFamily")
        assert tab.evaluate("document.querySelectorAll('#rows .row:not([hidden])').length") < 96
        last_row = tab.evaluate("""(async () => {  // scrolled to the end, the last row is drawn
            const scroller = document.getElementById('scroller');
            scroller.scrollTop = 1e6;
            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
            const rows = [...document.querySelectorAll('#rows .row:not([hidden])')];
            const last = rows[rows.length - 1], box = last.getBoundingClientRect();
            const view = scroller.getBoundingClientRect();
            return {visible: box.top >= view.top && box.bottom <= view.bottom,
                    cells: [...last.children].map(c => c.textContent)}; })()""",
                                 await_promise=True)
        expected = frame.iloc[-1][["model", "judge", "category", "subcategory", "question_id"]]
        assert last_row["visible"] and last_row["cells"][:5] == [str(v) for v in expected]
        assert not tab.errors and not tab.requests, (tab.errors, tab.requests)
        tab.close()
    index = Tab(browser, (report_dir / "index.html").as_uri())
    index.click(f'a[href="{VIEWER_PAGE}"]')
    index.wait_until("window.__viewerReady")
    assert index.evaluate("location.pathname").endswith(VIEWER_PAGE)
    assert not index.errors and not index.requests
    index.close()


@pytest.mark.parametrize("case", sorted(DEEP_LINKS))
def test_deep_links_show_exactly_the_expected_rows(report, browser, case):
    report_dir, frame = report
    query = "?" + urlencode(DEEP_LINKS[case])
    tab = open_viewer(browser, report_dir / VIEWER_PAGE, query)
    expected = keys(expected_rows(frame, case))
    assert tab.evaluate("window.__viewer.rows()") == expected
    assert (case == "none") == (not expected)
    assert tab.evaluate("document.getElementById('empty').hidden") == bool(expected)
    params = tab.evaluate("[...new URLSearchParams(location.search)]")
    written = [("vs" if key == "vs_judge" else key, v) for key, v in DEEP_LINKS[case]]
    assert sorted(map(tuple, params)) == sorted(written)  # the state stays in the URL
    assert not tab.errors, tab.errors
    tab.close()


def column(tab: Tab, label: str) -> list[dict]:
    """The cells of the table column headed ``label`` in the drawn rows: text and whether it
    is cut (its text wider than the cell)."""
    return tab.evaluate(f"""(() => {{
        const k = [...document.querySelectorAll('#head span')].findIndex(s => s.textContent === {json.dumps(label)});
        return [...document.querySelectorAll('#rows .row:not([hidden])')].map(r => r.children[k])
          .map(c => ({{text: c.textContent, cut: c.scrollWidth > c.clientWidth}})); }})()""")


def test_gap_columns_show_the_other_judges_score_sorted_by_gap(report, browser):
    report_dir, frame = report
    tab = open_viewer(browser, report_dir / VIEWER_PAGE, "?" + urlencode(DEEP_LINKS["gap"]))
    expected = expected_rows(frame, "gap")
    assert [c["text"] for c in column(tab, "vs score")] == [f"{v:g}" for v in expected["vs_score"]]
    assert [c["text"] for c in column(tab, "gap")] == [f"{v:g}" for v in expected["gap"]]
    assert expected["gap"].is_monotonic_decreasing and expected["gap"].min() >= 2
    tab.evaluate("""(() => { const s = document.getElementById('vs-judge');
        s.value = ''; s.dispatchEvent(new Event('change')); })()""")  # no second judge: no gap
    heads = tab.evaluate("[...document.querySelectorAll('#head span')].map(s => s.textContent)")
    assert "gap" not in heads and "vs score" not in heads
    assert tab.evaluate("new URLSearchParams(location.search).has('vs')") is False
    assert not tab.errors, tab.errors
    tab.close()


def facet_counts(tab: Tab, facet: str) -> dict[str, int]:
    return tab.evaluate(f"""Object.fromEntries([...document.querySelectorAll(
        'fieldset[data-facet="{facet}"] label')].map(l => [l.querySelector('input').value,
        Number(l.querySelector('.n').textContent.replace(/,/g, ''))]))""")


def test_facet_counts_follow_the_filters(report, browser):
    report_dir, frame = report
    tab = open_viewer(browser, report_dir / VIEWER_PAGE)
    counts = {name: facet_counts(tab, name) for name in ("model", "judge", "category", "status")}
    for name, shown in counts.items():
        assert shown == {**dict.fromkeys(shown, 0), **frame[name].value_counts().to_dict()}, name
    tab.click('fieldset[data-facet="category"] input[value="数学计算"]')
    picked = frame[frame["category"] == "数学计算"]
    assert facet_counts(tab, "model") == picked["model"].value_counts().to_dict()
    assert facet_counts(tab, "judge") == picked["judge"].value_counts().to_dict()
    assert facet_counts(tab, "category") == counts["category"]  # its own choice: what it would add
    tab.type("#score-min", "7")
    high = picked[picked["score"] >= 7]
    assert facet_counts(tab, "model") == {**dict.fromkeys(counts["model"], 0),
                                          **high["model"].value_counts().to_dict()}
    assert sum(facet_counts(tab, "category").values()) == int((frame["score"] >= 7).sum())
    assert tab.evaluate("window.__viewer.count()") == len(high) < len(picked)
    assert not tab.errors, tab.errors
    tab.close()


def downloaded(browser: Browser, folder: Path, button: str, tab: Tab) -> Path:
    """Click ``button`` and wait for the file it downloads into ``folder``."""
    before = set(folder.iterdir())
    tab.click(button)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = [p for p in set(folder.iterdir()) - before if not p.name.endswith(".crdownload")]
        if new:
            return new[0]
        time.sleep(0.05)
    raise TimeoutError(f"{button} downloaded nothing into {folder}")


def test_export_holds_the_rows_on_screen(report, browser, tmp_path):
    report_dir, frame = report
    browser.send("Browser.setDownloadBehavior", {"behavior": "allow",
                                                 "downloadPath": str(tmp_path)})
    link = [("judge", "judge-a"), ("vs", "judge-b"), ("gap_min", "1"), ("sort", "-gap")]
    tab = open_viewer(browser, report_dir / VIEWER_PAGE, "?" + urlencode(link))
    expected = with_gap(frame, "judge-a", "judge-b")
    expected = expected[expected["gap"] >= 1].sort_values("gap", ascending=False, kind="stable")
    shown = tab.evaluate("window.__viewer.rows()")
    assert shown == keys(expected) and len(shown) > 10

    jsonl = downloaded(browser, tmp_path, "#export-jsonl", tab)
    assert jsonl.name == "viewer-judgments.jsonl"
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [[r["judge"], r["model"], r["question_id"]] for r in records] == shown
    for record, (_, row) in zip(records, expected.iterrows(), strict=True):
        for field in ("answer", "judgment", "score", "vs_score", "gap", "dimensions", "request",
                      "prompt_sha256", "category"):
            assert record[field] == row[field], field
        assert record["vs_judge"] == "judge-b"

    csv = downloaded(browser, tmp_path, "#export-csv", tab)
    table = pd.read_csv(csv, encoding="utf-8-sig", keep_default_na=False)
    assert table[["judge", "model", "question_id"]].values.tolist() == shown
    assert table["answer"].tolist() == expected["answer"].tolist()  # quotes, markup, newlines
    assert table["gap"].tolist() == expected["gap"].tolist()
    assert [json.loads(d) for d in table["dimensions"]] == expected["dimensions"].tolist()
    assert not tab.errors and not tab.requests, (tab.errors, tab.requests)
    tab.close()


def test_typing_in_the_search_box_narrows_the_rows(report, browser):
    report_dir, frame = report
    tab = open_viewer(browser, report_dir / VIEWER_PAGE)
    text = (frame["question"] + "\0" + frame["answer"] + "\0" + frame["judgment"]).str.lower()
    counts = []
    for typed, query in (("回答", "回答"), ("基本", "回答基本"), ("RAMBLED", "rambled")):
        if typed == "RAMBLED":
            tab.evaluate("document.getElementById('search').select()")  # typing replaces it
        tab.type("#search", typed)
        hits = text.str.contains(query, regex=False)
        assert tab.evaluate("window.__viewer.rows()") == keys(frame[hits]), query
        assert tab.evaluate("document.getElementById('search').value").lower() == query
        counts.append(int(hits.sum()))
    assert counts == [96, int(frame["status"].eq("ok").sum()), 2]  # every answer, critiques
    assert tab.evaluate("new URLSearchParams(location.search).get('q')") == "RAMBLED"
    assert not tab.errors, tab.errors
    tab.close()


def test_opening_a_row_shows_its_critique_and_a_second_judge_beside_it(report, browser):
    report_dir, frame = report
    tab = open_viewer(browser, report_dir / VIEWER_PAGE, "?judge=judge-a&status=ok")
    tab.click("#rows .row")
    first = frame[frame["judge"].eq("judge-a") & frame["status"].eq("ok")].iloc[0]
    assert not tab.evaluate("document.getElementById('detail').hidden")
    critique = tab.evaluate("document.querySelector('.critique').textContent")
    assert critique == first["judgment"] and "评分理由" in critique
    marks = tab.evaluate("[...document.querySelectorAll('.critique mark.dim')].map(m => m.title)")
    assert marks and all("parsed" in title for title in marks)
    assert f"{DIM}: parsed {first['dimensions'][DIM]:g}" in marks
    body = tab.evaluate("document.getElementById('detail-body').innerText")
    assert first["question"] in body and first["reference"] in body and first["answer"] in body
    assert first["prompt_sha256"] in body and '"temperature": 0' in body
    assert tab.evaluate("new URLSearchParams(location.search).get('item')") == item(first)

    tab.evaluate("""(() => { const side = document.getElementById('side');
        side.value = 'judge:judge-b'; side.dispatchEvent(new Event('change')); })()""")
    other = frame[frame["judge"].eq("judge-b") & frame["model"].eq(first["model"])
                  & frame["question_id"].eq(first["question_id"])].iloc[0]
    critiques = tab.evaluate("[...document.querySelectorAll('.critique')].map(c => c.textContent)")
    assert critiques == [first["judgment"], other["judgment"]]
    link = tab.evaluate("location.href")
    assert "side=judge%3Ajudge-b" in link
    tab.close()

    reopened = open_viewer(browser, report_dir / VIEWER_PAGE, "?" + link.split("?", 1)[1])
    assert reopened.evaluate("document.querySelectorAll('#detail .card').length") == 2
    assert not reopened.errors, reopened.errors
    reopened.close()


def test_an_item_shows_every_raw_output_and_markup_as_text(report, browser):
    report_dir, frame = report
    failed = frame[frame["judgment_history"].map(lambda h: isinstance(h, list) and len(h) > 0)]
    hostile = frame[frame["answer"] == HOSTILE]
    tab = open_viewer(browser, report_dir / VIEWER_PAGE,
                      "?" + urlencode({"item": item(failed.iloc[0])}))
    body = tab.evaluate("document.getElementById('detail-body').textContent")
    assert "第一次输出：没有分数" in body and "raw output 2 (re-ask 1), final" in body
    assert failed.iloc[0]["judgment"] in body and "parse_failed" in body
    tab.close()
    tab = open_viewer(browser, report_dir / VIEWER_PAGE,
                      "?" + urlencode({"item": item(hostile.iloc[0])}))
    assert HOSTILE in tab.evaluate("document.getElementById('detail-body').textContent")
    assert tab.evaluate("document.querySelectorAll('#detail-body img, #detail-body b').length") == 0
    assert tab.evaluate("window.__pwned") is None
    assert not tab.errors and not tab.requests, (tab.errors, tab.requests)
    tab.close()


def test_pairwise_rows_filter_and_open_with_both_responses_and_the_raw_reply(browser, tmp_path):
    answers, records = pairwise_fixture()
    run = tmp_path / "run"
    pointwise = [r | {"model": LONG_MODEL} for r in shared_answer_records()[:5]]
    write_jsonl(pointwise, run / "judgments" / "judge-a" / "strong.jsonl")
    for model in ("strong", "weak"):
        write_jsonl([a for a in answers if a["model"] == model], run / "answers" / f"{model}.jsonl")
    write_jsonl(records, pairwise_file(RunLayout(run).comparisons_dir, "judge-a",
                                       "alignbench-pairwise", "strong__weak"))
    page = write_viewer(run, tmp_path / "viewer.html")

    tab = open_viewer(browser, page)
    assert tab.evaluate("window.__viewer.count()") == 5 + 4
    assert not tab.errors and not tab.requests, (tab.errors, tab.requests)
    linked = open_viewer(browser, page, "?kind=pairwise")
    assert linked.evaluate("window.__viewer.rows()") == [
        ["judge-a", "alignbench-pairwise", r["pair_id"], r["order"]] for r in records]
    failed = records[3]
    linked.click("#rows .row:nth-child(4)")
    body = linked.evaluate("document.getElementById('detail-body').innerText")
    assert "问题2" in body and "strong 的回答 2" in body and "weak 的回答 2" in body
    assert failed["judgment"] in body and "parse_failed" in body  # markup shown as text
    heads = linked.evaluate("[...document.querySelectorAll('.response .card-head')].map(h => h.textContent)")
    assert heads == ["output 1 · strong · shown second (order ba)",
                     "output 2 · weak · shown first (order ba)"]
    assert "p" * 64 in body and failed["request_hash"] in body
    linked.click("#close")
    linked.click("#rows .row:nth-child(1)")  # an ok verdict: its card names the winner too
    assert linked.evaluate("document.querySelector('.pair-card .card-head').textContent"
                           ).endswith("· ok · verdict A: strong wins")
    verdicts = [c["text"] for c in column(linked, "verdict")]
    assert verdicts == ["A: strong wins" if r["verdict"] == 1 else "B: weak wins"
                        if r["verdict"] == 2 else "" for r in records]
    assert not linked.errors and not linked.requests, (linked.errors, linked.requests)
    tab.click("#reset")  # every row, the long model name among them
    cells = column(tab, "model") + column(tab, "verdict") + column(tab, "judge")
    assert LONG_MODEL in [c["text"] for c in cells] and not any(c["cut"] for c in cells)


def test_a_second_judge_compares_scores_not_pairwise_verdicts(browser, tmp_path):
    answers, records = pairwise_fixture()
    run = tmp_path / "run"
    for model in ("strong", "weak"):
        write_jsonl([a for a in answers if a["model"] == model], run / "answers" / f"{model}.jsonl")
    for judge in ("judge-a", "judge-b"):
        write_jsonl([r | {"judge": judge} for r in records],
                    pairwise_file(RunLayout(run).comparisons_dir, judge, "alignbench-pairwise",
                                  "strong__weak"))
    page = write_viewer(run, tmp_path / "viewer.html")
    assert open_viewer(browser, page, "?judge=judge-b").evaluate("window.__viewer.count()") == 4
    versus = open_viewer(browser, page, "?judge=judge-b&vs=judge-a")  # a verdict has no score
    assert versus.evaluate("window.__viewer.count()") == 0 and not versus.errors
    versus.close()


def test_a_repeated_judgment_opens_by_its_sample(browser, tmp_path):
    from run_fixtures import write_sampled_run

    run_dir = write_sampled_run(tmp_path / "run")
    frame = judgments_frame(run_dir / "judgments")
    second = frame[frame["judge"].eq("a") & frame["sample"].eq(1)
                   & frame["status"].eq("ok")].iloc[0]
    first = frame[frame["judge"].eq("a") & frame["sample"].eq(0)
                  & frame["model"].eq(second["model"])
                  & frame["question_id"].eq(second["question_id"])].iloc[0]
    assert first["judgment"] != second["judgment"]
    page = write_viewer(run_dir, tmp_path / "viewer.html")
    for sample, row in ((1, second), (0, first)):
        key = f"a|{row['model']}|{row['question_id']}" + ("|1" if sample else "")
        tab = open_viewer(browser, page, "?item=" + key.replace("|", "%7C"))
        critique = tab.evaluate("document.querySelector('.critique').textContent")
        assert critique == row["judgment"], sample
        assert not tab.errors, tab.errors
        tab.close()
