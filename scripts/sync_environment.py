"""Write environment.yml from pyproject.toml and requirements.lock so the conda description
never drifts.

pyproject.toml lists the dependencies (ranges); requirements.lock (`make lock`) pins every
package of the environment they resolve to, with hashes. environment.yml takes the direct
dependencies at their locked versions. `make lock` runs this after locking, and
tests/test_environment.py fails when the three disagree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def normalize(name: str) -> str:
    """PEP 503 name: ``PyYAML`` and ``pyyaml`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock_text: str) -> dict[str, str]:
    """Package (normalized name) → pinned version in requirements.lock's text."""
    return {normalize(name): version for name, version in _PIN.findall(lock_text)}


def requirement_name(requirement: str) -> str:
    """``pandas>=2.1`` → ``pandas``."""
    return normalize(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])


def render(pyproject: dict, lock_text: str) -> str:
    """environment.yml text: the runtime and dev dependencies at their locked versions."""
    project = pyproject["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    pins = locked_versions(lock_text)
    missing = [d for d in deps if requirement_name(d) not in pins]
    if missing:
        raise SystemExit(f"requirements.lock lacks {missing}: run `make lock`")
    python = project["requires-python"].lstrip(">=~")
    lines = ["# Generated from pyproject.toml and requirements.lock by `make lock`; do not edit.",
             "name: alignbench", "channels:", "  - conda-forge", "dependencies:",
             f"  - python={python}", "  - pip"]
    lines += [f'  - "{requirement_name(dep)}=={pins[requirement_name(dep)]}"' for dep in deps]
    lines += ["  - pip:", '    - "-e ."', ""]
    return "\n".join(lines)


def main() -> int:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        text = render(tomllib.load(fh), LOCK.read_text(encoding="utf-8"))
    (ROOT / "environment.yml").write_text(text, encoding="utf-8")
    print("environment.yml written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
