"""Headless Chromium driven over the DevTools protocol on a pipe (no extra package).

Shared by the report and viewer browser tests and by ``benchmarks/viewer_bench.py``: a
:class:`Browser` process, and a :class:`Tab` that loads one page and records its console
errors and network requests.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]
TIMEOUT_S = 60.0


def need_chromium() -> None:
    """Skip the calling test when chromium is missing (fail instead under CI=true)."""
    import pytest

    if Path(CHROMIUM).is_file():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is required in CI: run scripts/install_system_deps.sh")
    pytest.skip("chromium not installed (scripts/install_system_deps.sh installs it)")


class Browser:
    """Minimal DevTools client over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed)."""

    def __init__(self, profile: Path, window_size: tuple[int, int] = (1280, 900)) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # move the child's ends above 4 so that the redirections below cannot clobber them
        to_chrome_r, from_chrome_w = (self._above_4(to_chrome_r), self._above_4(from_chrome_w))
        # the shell puts the pipe ends on fds 3 and 4, where chromium expects them
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', CHROMIUM,
             *FLAGS, f"--window-size={window_size[0]},{window_size[1]}",
             f"--user-data-dir={profile}", "about:blank"],
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


class Tab:
    """One page in a fresh tab: navigate, evaluate JavaScript, read what went wrong."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget",
                                    {"targetId": self.target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=self.session)
        browser.events.clear()
        browser.send("Page.navigate", {"url": url}, session=self.session)
        browser.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The value of ``expression`` (JSON-serialisable); a thrown exception raises."""
        reply = self.browser.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            session=self.session)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression[:80]}: {json.dumps(reply['exceptionDetails'])[:400]}")
        return reply["result"].get("value")

    def wait_until(self, expression: str, timeout_s: float = TIMEOUT_S) -> Any:
        """Poll ``expression`` until it is truthy; its value, or TimeoutError."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"never true: {expression}")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) in the middle of the first match."""
        box = self.evaluate(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
            el.scrollIntoView({{block: "nearest"}}); const r = el.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.browser.send("Input.dispatchMouseEvent", {
                "type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
                session=self.session)

    def type(self, selector: str, text: str) -> None:
        """Focus the first match and type ``text`` into it (as an input method would)."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.browser.send("Input.insertText", {"text": text}, session=self.session)

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        """A PNG of the whole page (beyond the window) at ``width`` CSS pixels."""
        height = self.evaluate("document.documentElement.scrollHeight")
        shot = self.browser.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
            session=self.session)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def _events(self) -> list[tuple[str, dict[str, Any]]]:
        return [(e.get("method"), e.get("params", {})) for e in self.browser.events
                if e.get("sessionId") == self.session]

    @property
    def errors(self) -> list[str]:
        """Exceptions, console errors and error log entries so far."""
        return [json.dumps(p)[:300] for m, p in self._events()
                if m == "Runtime.exceptionThrown"
                or (m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"))
                or (m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error")]

    @property
    def requests(self) -> list[str]:
        """Requests for anything but a ``file:`` or ``data:`` URL (network requests)."""
        return [p["request"]["url"][:80] for m, p in self._events()
                if m == "Network.requestWillBeSent"
                and not p["request"]["url"].startswith(("file:", "data:"))]

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
