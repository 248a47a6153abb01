"""The HTML report opened in headless Chromium: every image loads, no console error, no
network request. Chromium is driven over the DevTools protocol on a pipe (no extra package)."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from run_fixtures import write_run

from alignbench_utils.config import parse_config
from alignbench_utils.pipeline import NOTEBOOK_DIR
from alignbench_utils.report import execute_notebook, render_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]
TIMEOUT_S = 60.0


def need_chromium() -> None:
    if Path(CHROMIUM).is_file():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is required in CI: run scripts/install_system_deps.sh")
    pytest.skip("chromium not installed (scripts/install_system_deps.sh installs it)")


class Browser:
    """Minimal DevTools client over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed)."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # move the child's ends above 4 so that the redirections below cannot clobber them
        to_chrome_r, from_chrome_w = (self._above_4(to_chrome_r), self._above_4(from_chrome_w))
        # the shell puts the pipe ends on fds 3 and 4, where chromium expects them
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', CHROMIUM,
             *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer, self._next_id, self.events = b"", 0, []

    @staticmethod
    def _above_4(fd: int) -> int:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return moved

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read_message(deadline))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._to_chrome)
        os.close(self._from_chrome)


IMAGE_CHECK = """JSON.stringify(Array.from(document.images).map(img => ({
  src: img.src.slice(0, 30), complete: img.complete, width: img.naturalWidth})))"""


def open_page(browser: Browser, url: str) -> dict[str, Any]:
    """Load ``url`` in a fresh tab; return its images, console errors and network requests."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired")
    images = json.loads(browser.send("Runtime.evaluate", {"expression": IMAGE_CHECK,
                                                          "returnByValue": True},
                                     session=session)["result"]["value"])
    params = [e.get("params", {}) for e in browser.events]
    methods = [e.get("method") for e in browser.events]
    errors = [json.dumps(p)[:300] for m, p in zip(methods, params)
              if m == "Runtime.exceptionThrown"
              or (m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"))
              or (m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error")]
    requests = [p["request"]["url"][:80] for m, p in zip(methods, params)
                if m == "Network.requestWillBeSent"
                and not p["request"]["url"].startswith(("file:", "data:"))]
    browser.send("Target.closeTarget", {"targetId": target})
    return {"images": images, "errors": errors, "requests": requests}


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
    assert set(results) == {"index.html", "03_aggregate.html", "04_analysis.html"}
    assert len(results["index.html"]["images"]) == 7
    assert len(results["04_analysis.html"]["images"]) >= 7
    for name, result in results.items():
        broken = [img for img in result["images"] if not img["complete"] or img["width"] == 0]
        assert not broken, (name, broken)
        assert all(img["src"].startswith("data:image/png") for img in result["images"]), name
        assert not result["errors"], (name, result["errors"])
        assert not result["requests"], (name, result["requests"])
