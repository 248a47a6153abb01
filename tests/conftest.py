"""Shared fixtures: a fault-injecting OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alignbench_utils.testing.fault_server import FaultServer


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A running fault server on a free port (no faults until ``.configure(...)``),
    stopped after the test with every thread joined."""
    server = FaultServer(port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def questions16() -> list[dict]:
    """Two questions per category (16), as plain dicts."""
    from alignbench_utils import load_questions

    return load_questions("v1.1", per_category=2, seed=0).to_list()
