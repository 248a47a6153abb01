"""Where the shipped benchmark files live.

The benchmark ships in ``data/alignbench/`` and the judge meta-evaluation sets in
``data/judgebench/`` at the repository root so that everything runs offline;
``ALIGNBENCH_DATA_DIR`` and ``ALIGNBENCH_JUDGEBENCH_DIR`` point elsewhere (e.g. for a wheel
install).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "benchmark_dir", "config_dir", "judgebench_dir"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def benchmark_dir() -> Path:
    """Folder holding the shipped question files, configs and the judge prompt template."""
    return Path(os.environ.get("ALIGNBENCH_DATA_DIR", REPO_ROOT / "data" / "alignbench"))


def config_dir() -> Path:
    """Folder holding the four official config JSONs."""
    return benchmark_dir() / "config"


def judgebench_dir() -> Path:
    """Folder holding the shipped judge meta-evaluation benchmarks (LLMBar, PandaLM, MT-Bench
    prompts) with their licences and published judge outputs."""
    return Path(os.environ.get("ALIGNBENCH_JUDGEBENCH_DIR", REPO_ROOT / "data" / "judgebench"))
