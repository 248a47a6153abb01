"""Helpers the benchmark scripts share (run them as ``python benchmarks/<script>.py``, which
puts this folder on ``sys.path``)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator

from alignbench_utils import load_questions
from alignbench_utils.taxonomy import CATEGORIES


def best_of(n: int, fn: Callable[[], object]) -> float:
    """Fastest of ``n`` wall-clock runs of ``fn``, in seconds."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def v11_category_sizes() -> dict[str, int]:
    """Questions per category in AlignBench v1.1 (683 in all), in ``CATEGORIES`` order."""
    counts = Counter(load_questions("v1.1")["category"])
    return {c: counts[c] for c in CATEGORIES}


class Server:
    """``python -m alignbench_utils.testing.fault_server`` in a subprocess; stats over HTTP."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stats(self) -> dict:
        with urllib.request.urlopen(self.base_url.replace("/v1", "/stats"), timeout=10) as r:
            return json.loads(r.read())


@contextlib.contextmanager
def fault_server(**flags: object) -> Iterator[Server]:
    """The fault server in its own process (as a real endpoint is: its work does not share
    the client's interpreter lock), with ``flags`` as its command-line settings."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [f"--{k.replace('_', '-')}={v}" for k, v in flags.items()]
    proc = subprocess.Popen([sys.executable, "-m", "alignbench_utils.testing.fault_server",
                             "--port", str(port), *args], stdout=subprocess.DEVNULL)
    server = Server(port)
    try:
        for _ in range(200):
            try:
                server.stats()
                break
            except OSError:
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)
