"""The HTML report opened in headless Chromium (tests/browser.py): every image loads, no
console error, no network request."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import Browser, Tab, need_chromium
from run_fixtures import write_run

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
        "judges": [{"name": "judge-a", "base_url": "http://127.0.0.1:9/v1", "model_id": "j"}],
        "output": {"run_dir": str(root / "run"), "report_dir": str(root / "report")}})
    write_run(config.run_dir)
    for name, params in (("03_aggregate", {}), ("04_analysis", {"n_boot": 100})):
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
    assert len(results["index.html"]["images"]) == 7
    assert len(results["04_analysis.html"]["images"]) >= 7
    for name, result in results.items():
        broken = [img for img in result["images"] if not img["complete"] or img["width"] == 0]
        assert not broken, (name, broken)
        assert all(img["src"].startswith("data:image/png") for img in result["images"]), name
        assert not result["errors"], (name, result["errors"])
        assert not result["requests"], (name, result["requests"])
