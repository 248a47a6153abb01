"""environment.yml (conda) stays in step with pyproject.toml (the single source)."""

import importlib.util
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    spec = importlib.util.spec_from_file_location("sync_env", ROOT / "scripts/sync_environment.py")
    sync_env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync_env)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    expected = yaml.safe_load(sync_env.render(pyproject))
    assert env == expected, "environment.yml is stale: run `make env-sync`"
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    project = pyproject["project"]
    for dep in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert dep in conda_deps
    assert "python=3.11" in conda_deps
