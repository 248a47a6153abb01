"""What produced a set of records: package versions, endpoints, prompt hashes, parameters, dates.

Every results file and report states where its numbers came from; this module reads that
from the records themselves (not from the config, which may have changed since), and the
environment that computed them (:func:`environment`: Python, every installed package's exact
version, the package's git commit and whether its work tree had changes), so a paper's numbers
can be rebuilt with the same code.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from alignbench_utils._version import __version__
from alignbench_utils.data.store import now_iso
from alignbench_utils.paths import REPO_ROOT

__all__ = ["environment", "git_state", "summarize_records", "write_provenance"]


def _add(bucket: dict[str, list], key: str, value: Any) -> None:
    if value is not None and value not in bucket.setdefault(key, []):
        bucket[key].append(value)


def summarize_records(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Distinct provenance values per judge (judgment records) and per model (answer records).

    >>> s = summarize_records([
    ...     {"model": "m", "model_id": "m-1", "request": {"max_tokens": 9},
    ...      "package_version": "0.1.0", "created_at": "2026-01-02T00:00:00+00:00"},
    ...     {"judge": "j", "model": "m", "judge_model_id": "gpt", "template_sha256": "abc",
    ...      "structured_output": "none", "request": {"temperature": 0},
    ...      "package_version": "0.1.0", "created_at": "2026-01-01T00:00:00+00:00"}])
    >>> s["judges"]["j"]["model_ids"], s["models"]["m"]["requests"], s["first_created"][:10]
    (['gpt'], [{'max_tokens': 9}], '2026-01-01')
    """
    judges: dict[str, dict[str, list]] = {}
    models: dict[str, dict[str, list]] = {}
    versions: list[str] = []
    dates: list[str] = []
    n = 0
    for rec in records:
        n += 1
        if rec.get("package_version") and rec["package_version"] not in versions:
            versions.append(rec["package_version"])
        if rec.get("created_at"):
            dates.append(str(rec["created_at"]))
        if rec.get("judge"):
            entry = judges.setdefault(str(rec["judge"]), {})
            _add(entry, "model_ids", rec.get("judge_model_id"))
            _add(entry, "template_sha256", rec.get("template_sha256"))
            _add(entry, "structured_output", rec.get("structured_output"))
        else:
            entry = models.setdefault(str(rec.get("model")), {})
            _add(entry, "model_ids", rec.get("model_id"))
        _add(entry, "requests", rec.get("request"))
    return {"n_records": n, "package_versions": versions, "judges": judges, "models": models,
            "first_created": min(dates) if dates else None,
            "last_created": max(dates) if dates else None}


def git_state(root: str | Path) -> dict[str, Any]:
    """The git commit of the work tree at ``root`` and whether it had changes (tracked or
    untracked, ignored files aside); ``commit`` is None with a ``reason`` outside a git work
    tree or without git.

    >>> git_state("/")["commit"] is None
    True
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
            return {"commit": None, "dirty": None, "reason": f"{root} is not a git work tree"}
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError) as exc:
        return {"commit": None, "dirty": None, "reason": f"no git state of {root}: {exc}"}


def environment() -> dict[str, Any]:
    """Python, the platform, every installed distribution's exact version and the package's
    git state (its repository when installed from a clone, as with ``pip install -e``).

    >>> env = environment()
    >>> env["packages"]["pyyaml"] == metadata.version("pyyaml"), env["python"][:3]
    (True, '3.1')
    """
    packages = {dist.metadata["Name"].lower(): dist.version for dist in metadata.distributions()
                if dist.metadata["Name"]}
    return {"python": platform.python_version(), "implementation": sys.implementation.name,
            "platform": platform.platform(), "executable": sys.executable,
            "packages": dict(sorted(packages.items())),
            "git": git_state(REPO_ROOT)}


def write_provenance(path: str | Path, records: Iterable[Mapping[str, Any]], *,
                     spend: Mapping[str, Any] | None = None, **settings: Any) -> Path:
    """Write ``path`` (JSON): who wrote it and when, the records' provenance, the settings
    (seeds, n_boot, level ...) that produced the files beside it, the :func:`environment` and,
    when given, ``spend``: tokens and cost so far per model and judge
    (:func:`accounting.spend_by_endpoint`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"written_by": f"alignbench-utils {__version__}",
           "written_at": now_iso(),
           "settings": settings, "records": summarize_records(records),
           "environment": environment(),
           **({"spend": spend} if spend is not None else {})}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n",
                    encoding="utf-8")
    return path
