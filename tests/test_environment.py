"""The environment is locked: requirements.lock pins every package with hashes within
pyproject.toml's ranges, environment.yml is generated from both, `make` installs from the
lock, and provenance records the exact environment and code a result was computed with."""

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from alignbench_utils.report.provenance import write_provenance

ROOT = Path(__file__).resolve().parents[1]


def load_sync_env():
    spec = importlib.util.spec_from_file_location("sync_env", ROOT / "scripts/sync_environment.py")
    sync_env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync_env)
    return sync_env


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def lock_text() -> str:
    return (ROOT / "requirements.lock").read_text(encoding="utf-8")


def test_environment_yml_matches_pyproject_and_lock():
    sync_env = load_sync_env()
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    expected = yaml.safe_load(sync_env.render(pyproject(), lock_text()))
    assert env == expected, "environment.yml is stale: run `make lock`"
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in conda_deps
    pins = sync_env.locked_versions(lock_text())
    assert f"pandas=={pins['pandas']}" in conda_deps


def test_lock_pins_every_dependency_in_range_with_hashes():
    sync_env = load_sync_env()
    text = lock_text()
    pins = sync_env.locked_versions(text)
    project = pyproject()["project"]
    for dep in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(dep)
        name = sync_env.normalize(req.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (dep, pins[name])
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(blocks) == len(pins) > 50
    assert all("--hash=sha256:" in block for block in blocks)


def test_make_installs_from_the_lock():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(STAMP): pyproject.toml $(LOCK)\n", 1)[1].split("\n\n", 1)[0]
    assert "pip install -q --python $(BIN)/python --require-hashes --compile-bytecode " \
        "-r $(LOCK)" in recipe
    assert "pip install -q --python $(BIN)/python --no-deps -e ." in recipe
    assert "-m alignbench_utils.prepare" in recipe  # editable installs skip data-files
    assert "--generate-hashes" in makefile.split("\nlock:", 1)[1]
    # uv itself is installed from its own pinned, hashed block of the lock: run that step
    extract = next(line.strip() for line in recipe.splitlines() if line.strip().startswith("sed"))
    command = (extract.split(" > ")[0].replace("$$", "$")
               .replace("$(LOCK)", str(ROOT / "requirements.lock")))
    block = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                           check=True).stdout
    uv = load_sync_env().locked_versions(lock_text())["uv"]
    lock_block = lock_text().split(f"\nuv=={uv} \\\n", 1)[1].split("\n    #", 1)[0]
    assert block.startswith(f"uv=={uv} \\\n")
    assert block.count("--hash=sha256:") == lock_block.count("--hash=sha256:") > 0


def test_provenance_records_python_packages_and_git_state(tmp_path):
    doc = json.loads(write_provenance(tmp_path / "provenance.json", []).read_text("utf-8"))
    env = doc["environment"]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["packages"]["pandas"] == metadata.version("pandas")
    assert len(env["packages"]) == len({d.metadata["Name"].lower()
                                        for d in metadata.distributions()})
    package_root = Path(__import__("alignbench_utils").__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(package_root), *args], capture_output=True,
                              text=True, check=True).stdout.strip()

    assert env["git"]["commit"] == git("rev-parse", "HEAD")
    assert env["git"]["dirty"] == bool(git("status", "--porcelain"))
