"""The HTML report opened in headless Chromium (tests/browser.py): every image loads, no
console error, no network request; the index is the paper's appendix (every judge's
leaderboard with CIs, every table and figure file copied beside it and linked)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import Browser, Tab, need_chromium
from run_fixtures import write_run
from test_plots import pdf_facts

from alignbench_utils.config import parse_config
from alignbench_utils.pipeline import NOTEBOOK_DIR
from alignbench_utils.report.pages import execute_notebook, render_report

IMAGE_CHECK = """Array.from(document.images).map(img => ({
  src: img.src.slice(0, 30), complete: img.complete, width: img.naturalWidth}))"""


def open_page(browser: Browser, url: str) -> dict:
    """Load ``url`` in a fresh tab; return its images, console errors and network requests."""
    tab = Tab(browser, url)
    result = {"images": tab.evaluate(IMAGE_CHECK), "errors": tab.errors,
              "requests": tab.requests}
    tab.close()
    return result


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    config = parse_config({
        "name": "browser", "models": [{"name": "strong", "base_url": "reference"}],
        "judges": [{"name": "judge-a", "base_url": "http://127.0.0.1:9/v1", "model_id": "j"},
                   {"name": "judge-b", "base_url": "http://127.0.0.1:9/v1", "model_id": "j"}],
        "figures": {"width": "column"},
        "output": {"run_dir": str(root / "run"), "report_dir": str(root / "report")}})
    write_run(config.run_dir, judges=("judge-a", "judge-b"))
    for name, params in (("03_aggregate", {}),
                         ("04_analysis", {"n_boot": 100, "figure_width": "column"})):
        execute_notebook(NOTEBOOK_DIR / f"{name}.ipynb",
                         config.run_dir / "notebooks" / f"{name}.ipynb",
                         {"run_dir": str(config.run_dir), **params})
    render_report(config)
    return config.report_dir


def test_report_pages_load_cleanly_in_chromium(report_dir, tmp_path):
    need_chromium()
    browser = Browser(tmp_path / "profile")
    try:
        browser.send("Target.setDiscoverTargets", {"discover": False})
        results = {page.name: open_page(browser, page.as_uri())
                   for page in sorted(report_dir.glob("*.html"))}
    finally:
        browser.close()
    assert set(results) == {"index.html", "03_aggregate.html", "04_analysis.html", "viewer.html"}
    assert len(results["index.html"]["images"]) == 3  # each judge's leaderboard, failures
    assert len(results["04_analysis.html"]["images"]) >= 2 * 7 + 2
    for name, result in results.items():
        broken = [img for img in result["images"] if not img["complete"] or img["width"] == 0]
        assert not broken, (name, broken)
        assert all(img["src"].startswith("data:image/png") for img in result["images"]), name
        assert not result["errors"], (name, result["errors"])
        assert not result["requests"], (name, result["requests"])


def test_index_is_the_papers_appendix(report_dir, tmp_path):
    """Each judge's leaderboard with a CI in every model's 总分 cell; every link resolves to a
    file in the report folder (tables in CSV/Markdown/LaTeX, figures as PDF at column width);
    the page and a figure look right (screenshots kept in the test's folder)."""
    need_chromium()
    browser = Browser(tmp_path / "profile")
    try:
        tab = Tab(browser, (report_dir / "index.html").as_uri())
        boards = tab.evaluate("""Array.from(document.querySelectorAll("h3 + .wide table"))
            .map(t => Array.from(t.querySelectorAll("tbody tr")).map(r => Array.from(
              r.querySelectorAll("td")).map(td => td.textContent.trim())))""")
        headings = tab.evaluate("""Array.from(document.querySelectorAll("h3 code"))
            .map(c => c.textContent)""")
        links = tab.evaluate("""Array.from(document.querySelectorAll("ul.files a"))
            .map(a => a.getAttribute("href"))""")
        clipped = tab.evaluate("""Array.from(document.querySelectorAll("table"))
            .filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth
                         && t.parentElement.scrollWidth <= t.parentElement.clientWidth).length""")
        tab.screenshot(tmp_path / "index.png")
        tab.close()
    finally:
        browser.close()
    assert headings[:2] == ["judge-a", "judge-b"]
    assert len(boards) >= 2
    for board in boards[:2]:
        assert {row[0] for row in board} == {"strong", "weak", "reference"}
        assert all(re.fullmatch(r"\d+\.\d\d ?\[\d+\.\d\d, \d+\.\d\d\]", row[3]) for row in board)
    assert clipped == 0
    for judge in ("judge-a", "judge-b"):
        for fmt in ("csv", "md", "tex"):
            assert f"results/leaderboard_ci__{judge}.{fmt}" in links
        assert f"figures/leaderboard__{judge}.pdf" in links
    assert all((report_dir / href).is_file() for href in links)
    pdfs = [href for href in links if href.endswith(".pdf")]
    assert len(pdfs) >= 2 * 7 + 2
    assert all(pdf_facts(report_dir / href)[0] <= 3.32 for href in pdfs)
    assert (tmp_path / "index.png").stat().st_size > 10_000
