"""Incremental ``alignbench run``: a notebook re-executes only when something it depends on
changed, the way a build system rebuilds a target.

Each execution is keyed by the notebook's source, its parameters (as the run YAML gives them,
``base_url: local`` unresolved, plus the local model's settings when it uses one), the content
of every file a parameter names, the package's code and the content of the run files it reads
(declared once, in :data:`NOTEBOOK_INPUTS`). After a successful execution the key and the
files it wrote (what changed under the run folder while it ran) go to
``notebooks/executions.json``; the next run skips the notebook when the key is the same, the
files it wrote are still as it left them and, for a stage notebook, its store holds no error
to retry. Results of earlier notebooks reach later ones through these files, so adding a model
re-executes the notebooks that read its answers and judgments, and nothing else. The report is
re-rendered only when a file under it (the run folder, the config, the code) changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.store import DONE_STATUSES, canonical_json, now_iso
from alignbench_utils.local.local_models import sha256_file
from alignbench_utils.running.runlock import LOCK_NAME

__all__ = [
    "NOTEBOOK_INPUTS",
    "Decision",
    "Executions",
    "NotebookInputs",
    "code_digest",
    "parameter_files",
]

STATE_VERSION = 2
# Run-relative paths no notebook reads: logs, prepared copies, this module's own state, the
# run folder's lock (its body changes with every command).
_NOT_TRACKED = ("logs", "notebooks/prepared", "notebooks/executions.json", LOCK_NAME)


@dataclass(frozen=True)
class NotebookInputs:
    """What a notebook reads under the run folder (run-relative files or folders) and, for a
    stage notebook, the folder of records it appends to (its requests are retried while an
    error record is left there)."""

    reads: tuple[str, ...]
    store: str | None = None


# The one registry of what each notebook reads; a notebook missing here cannot be run.
NOTEBOOK_INPUTS: dict[str, NotebookInputs] = {
    "01_generate": NotebookInputs(reads=("answers",), store="answers"),
    "02_judge": NotebookInputs(reads=("answers", "judgments"), store="judgments"),
    # judging.json: how samples and judge panels combine (every table of judgments reads it)
    "03_aggregate": NotebookInputs(reads=("answers", "judgments", "judging.json")),
    "04_analysis": NotebookInputs(reads=("answers", "judgments", "judging.json")),
    "05_agreement": NotebookInputs(reads=("answers", "judgments", "judging.json")),
    "06_error_analysis": NotebookInputs(reads=("answers", "judgments", "judging.json")),
    "07_judge_eval": NotebookInputs(reads=("judge_eval",), store="judge_eval"),
    "08_pairwise": NotebookInputs(reads=("answers", "judgments", "comparisons", "judging.json"),
                                  store="comparisons"),
    "09_judges": NotebookInputs(reads=("answers", "judgments", "judging.json")),
}


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@cache
def code_digest() -> str:
    """sha256 over the package's files (code, templates, settings): a change to the code that
    makes a table or a figure re-executes the notebooks that use it."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def parameter_files(value: Any) -> Iterator[str]:
    """Every string in ``value`` (at any depth) that names an existing file, or ``NAME:PATH``
    (a benchmark given as a file) whose PATH does.

    >>> sorted(parameter_files({"a": "pyproject.toml", "b": ["v1.1", "x:README.md"], "c": 3}))
    ['README.md', 'pyproject.toml']
    """
    if isinstance(value, Mapping):
        for item in value.values():
            yield from parameter_files(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from parameter_files(item)
    elif isinstance(value, str) and value:
        for candidate in (value, value.partition(":")[2]):
            if candidate and Path(candidate).is_file():
                yield candidate
                return


class _Files:
    """Content digests of the files under a run folder, each file hashed once per size and
    modification time."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._memo: dict[tuple[str, int, int], str] = {}

    def stats(self) -> dict[str, tuple[int, int]]:
        """Run-relative path → (size, mtime_ns) of every tracked file."""
        out = {}
        for path in self.run_dir.rglob("*"):
            rel = path.relative_to(self.run_dir).as_posix()
            if not any(rel == skip or rel.startswith(skip + "/") for skip in _NOT_TRACKED) \
                    and path.is_file():
                st = path.stat()
                out[rel] = (st.st_size, st.st_mtime_ns)
        return out

    def digest(self, rel: str) -> str | None:
        path = self.run_dir / rel
        if not path.is_file():
            return None
        st = path.stat()
        key = (rel, st.st_size, st.st_mtime_ns)
        if key not in self._memo:
            self._memo[key] = sha256_file(path)
        return self._memo[key]

    def under(self, roots: Collection[str],
              stats: Mapping[str, tuple[int, int]] | None = None) -> dict[str, str]:
        """Run-relative path → digest of every tracked file under ``roots`` (``stats``: the
        folder's :meth:`stats` when just taken)."""
        stats = self.stats() if stats is None else stats
        return {rel: self.digest(rel) or "" for rel in sorted(stats)
                if any(rel == root or rel.startswith(root + "/") for root in roots)}


@dataclass(frozen=True)
class Decision:
    """Whether a notebook runs, and why (said on the terminal)."""

    run: bool
    reason: str


def _changed(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Paths added, removed or changed between two digest maps.

    >>> _changed({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
    ['b', 'c']
    """
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _listing(paths: list[str], limit: int = 3) -> str:
    """``a, b, c (+2 more)``.

    >>> _listing(["a", "b", "c", "d", "e"])
    'a, b, c (+2 more)'
    """
    more = f" (+{len(paths) - limit} more)" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


class Executions:
    """The run's execution state (``notebooks/executions.json``): what each notebook was last
    executed with and what it wrote, and the report's key."""

    def __init__(self, layout: RunLayout) -> None:
        self.layout = layout
        self.path = layout.notebooks_dir / "executions.json"
        self.files = _Files(layout.run_dir)
        state: dict[str, Any] = {}
        if self.path.is_file():
            try:
                state = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:  # a torn write: execute everything again
                state = {}
        if state.get("version") != STATE_VERSION:
            state = {"version": STATE_VERSION, "notebooks": {}, "report": None}
        self.state = state

    def key(self, name: str, notebook: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """The parts of ``name``'s key as things are now (digests, no file content)."""
        inputs = NOTEBOOK_INPUTS.get(name)
        if inputs is None:
            raise KeyError(f"notebook {name!r} has no entry in incremental.NOTEBOOK_INPUTS: "
                           "declare what it reads there")
        return {"notebook": sha256_file(notebook), "parameters": _sha256_json(parameters),
                "parameter_files": {p: sha256_file(Path(p))
                                    for p in sorted(set(parameter_files(parameters)))},
                "code": code_digest(), "inputs": self.files.under(inputs.reads)}

    def decide(self, name: str, key: Mapping[str, Any], *, force: bool) -> Decision:
        """Execute ``name`` or reuse its executed copy (and why)."""
        last = self.state["notebooks"].get(name)
        if force:
            return Decision(True, "forced")
        if last is None:
            return Decision(True, "not executed before")
        for part, label in (("notebook", "notebook changed"), ("parameters", "parameters changed"),
                            ("code", "package code changed")):
            if last["key"][part] != key[part]:
                return Decision(True, label)
        for part, label in (("parameter_files", "files named by parameters changed"),
                            ("inputs", "inputs changed")):
            changed = _changed(last["key"][part], key[part])
            if changed:
                return Decision(True, f"{label}: {_listing(changed)}")
        written = {rel: self.files.digest(rel) or "" for rel in last["outputs"]}
        changed = _changed(last["outputs"], written)
        if changed:
            return Decision(True, f"files it wrote changed: {_listing(changed)}")
        if last["retry"]:
            return Decision(True, f"errors to retry in {_listing(last['retry'])}")
        return Decision(False, f"unchanged since {last['executed_at']}")

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Size and modification time of every tracked file, before an execution."""
        return self.files.stats()

    def record(self, name: str, key: Mapping[str, Any],
               before: Mapping[str, tuple[int, int]]) -> None:
        """Remember a successful execution of ``name``: its key, computed again now that its
        own store files are written, and the files it wrote."""
        after = self.files.stats()
        written = sorted(rel for rel, stat in after.items() if before.get(rel) != stat)
        store = NOTEBOOK_INPUTS[name].store
        retry = sorted(rel for rel in written
                       if store and rel.startswith(store + "/") and rel.endswith(".jsonl")
                       and self._has_errors(rel))
        self.state["notebooks"][name] = {
            "key": {**key, "inputs": self.files.under(NOTEBOOK_INPUTS[name].reads, after)},
            "outputs": {rel: self.files.digest(rel) or "" for rel in written},
            "retry": retry, "executed_at": now_iso()}
        self._save()

    def _has_errors(self, rel: str) -> bool:
        """The store file's last record of some request is not done (the stage retries it)."""
        from alignbench_utils.data.store import read_records

        last = {r.get("request_hash"): r.get("status")
                for r in read_records(self.layout.run_dir / rel)}
        return any(status not in DONE_STATUSES for status in last.values())

    def report_key(self, config: Mapping[str, Any]) -> str:
        """Digest of everything the report shows: the run's files, the config, the code."""
        files = {rel: self.files.digest(rel) for rel in sorted(self.files.stats())}
        return _sha256_json({"files": files, "config": config, "code": code_digest()})

    def current_report(self, key: str) -> list[Path] | None:
        """The report's pages when they were rendered from exactly this key and are all still
        there; else None."""
        last = self.state["report"]
        if not last or last["key"] != key:
            return None
        pages = [Path(page) for page in last["pages"]]
        return pages if all(page.is_file() for page in pages) else None

    def record_report(self, key: str, pages: Collection[Path]) -> None:
        self.state["report"] = {"key": key, "pages": [str(page) for page in pages]}
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
