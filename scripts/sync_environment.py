"""Write environment.yml from pyproject.toml so the conda description never drifts.

pyproject.toml is the single source of the dependency list; `make env-sync` runs this and
tests/test_environment.py fails when the two disagree.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(pyproject: dict) -> str:
    """environment.yml text for the project's runtime and dev dependencies."""
    project = pyproject["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    python = project["requires-python"].lstrip(">=~")
    lines = ["# Generated from pyproject.toml by `make env-sync`; do not edit by hand.",
             "name: alignbench", "channels:", "  - conda-forge", "dependencies:",
             f"  - python={python}", "  - pip"]
    lines += [f'  - "{dep}"' for dep in deps]
    lines += ["  - pip:", '    - "-e ."', ""]
    return "\n".join(lines)


def main() -> int:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        text = render(tomllib.load(fh))
    (ROOT / "environment.yml").write_text(text, encoding="utf-8")
    print("environment.yml written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
