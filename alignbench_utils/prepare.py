"""``alignbench notebook``: copies of the notebooks with one run's parameters, to open in
JupyterLab (``make lab``) and explore the run interactively.

A committed notebook opened by hand has placeholder parameters (``runs/notebook``). A prepared
copy gets exactly the parameters ``alignbench run`` gives it (:func:`notebook_parameters`,
injected by papermill's prepare-only mode: nothing is executed), with what it needs to work
when opened on its own:

- its kernel is the project's environment, :data:`LAB_KERNEL`: its kernelspec is installed
  with the package (``<env>/share/jupyter/kernels/alignbench``, pyproject's data-files), so
  plain ``papermill`` runs a copy, and ``make lab`` registers it again with this interpreter's
  absolute path (:func:`install_kernel`), so every cell runs where the package is installed;
- relative paths in the run config (dataset source, human labels, judge templates) are made
  absolute, because JupyterLab starts a kernel in the notebook's own folder, not where
  ``alignbench run`` ran;
- models and judges with ``base_url: local`` keep ``local``: the embedded server lives only
  while ``alignbench run`` does, and a URL taken now would be dead when the notebook is opened.
  Notebooks 03-06 only read records; 01/02 (and 07) stop before any request with
  :func:`~alignbench_utils.running.client.endpoint_from_spec`'s error, which says to start
  ``alignbench serve-local`` and pass its URL. A note on top of each copy says so.

Copies go to ``<run_dir>/notebooks/prepared/`` (the executed ones of ``alignbench run`` stay in
``<run_dir>/notebooks/``; the report reads only those). A copy that was changed since it was
prepared is not replaced unless asked (``overwrite``), so work done in JupyterLab is not lost.
Like ``alignbench run``, preparing fails with :class:`SecretLeakError` when a copy would hold
the value of an ``api_key_env`` variable; no such copy is left behind.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

from alignbench_utils.analysis.panels import write_judging
from alignbench_utils.config import LOCAL, RunConfig, load_config
from alignbench_utils.errors import InputError
from alignbench_utils.paths import REPO_ROOT
from alignbench_utils.pipeline import (
    NOTEBOOK_DIR,
    SecretLeakError,
    find_secret_leaks,
    notebook_parameters,
    notebooks_for,
)

__all__ = [
    "LAB_KERNEL",
    "LAB_KERNEL_DISPLAY",
    "PATH_PARAMETERS",
    "absolute_paths",
    "ensure_kernel",
    "install_kernel",
    "open_command",
    "prepare_notebooks",
    "prepared_dir",
]

LAB_KERNEL = "alignbench"  # kernelspec name written into every prepared copy
LAB_KERNEL_DISPLAY = "Python 3 (alignbench)"  # what JupyterLab's kernel menu shows
# Parameters (at any depth, e.g. judges[0].template) that may be file paths relative to the
# folder `alignbench run` runs in.
PATH_PARAMETERS = frozenset({"dataset_source", "human_labels", "template"})
_INJECTED = "injected-parameters"  # papermill's tag of the cell it adds


def prepared_dir(config: RunConfig) -> Path:
    """Folder of the prepared copies of a run (beside, not among, the executed notebooks)."""
    return config.layout.prepared_dir


def install_kernel(prefix: str | os.PathLike = sys.prefix) -> Path:
    """Register this interpreter's ipykernel as :data:`LAB_KERNEL` under ``prefix``; returns
    the kernelspec folder.

    The default prefix is the environment itself (``<venv>/share/jupyter/kernels``), where
    the environment's ``jupyter lab`` looks first, so the kernel cannot pick up another
    Python as a generic ``python3`` kernelspec of the user could.
    """
    from ipykernel.kernelspec import install

    return Path(install(kernel_name=LAB_KERNEL, display_name=LAB_KERNEL_DISPLAY,
                        prefix=str(prefix)))


def ensure_kernel(prefix: str | os.PathLike = sys.prefix) -> Path | None:
    """Register :data:`LAB_KERNEL` under ``prefix`` unless Jupyter finds it already; returns
    the kernelspec folder written, or None.

    A wheel install brings the kernelspec (pyproject's data-files); an editable install
    (``pip install -e``, ``make venv``) does not, so ``alignbench notebook`` registers it
    before writing copies that name it: plain ``papermill`` then runs them.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    if LAB_KERNEL in KernelSpecManager().find_kernel_specs():
        return None
    return install_kernel(prefix)


def absolute_paths(value: Any, base: Path) -> Any:
    """``value`` with every :data:`PATH_PARAMETERS` entry that names an existing file
    relative to ``base`` made absolute; anything else (``v1.1``, a dataset name) is kept.

    >>> out = absolute_paths({"human_labels": "pyproject.toml", "dataset_source": "v1.1",
    ...                       "judges": [{"template": None}]}, REPO_ROOT)
    >>> out["human_labels"] == str(REPO_ROOT / "pyproject.toml"), out["dataset_source"]
    (True, 'v1.1')
    >>> out["judges"]
    [{'template': None}]
    """
    if isinstance(value, list):
        return [absolute_paths(item, base) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if (key in PATH_PARAMETERS and isinstance(item, str) and item
                and not Path(item).is_absolute() and (base / item).exists()):
            item = str((base / item).resolve())
        out[key] = absolute_paths(item, base)
    return out


def _uses_local(value: Any) -> bool:
    if isinstance(value, list):
        return any(_uses_local(item) for item in value)
    return isinstance(value, dict) and (value.get("base_url") == LOCAL
                                        or any(_uses_local(v) for v in value.values()))


def _note(config: RunConfig, parameters: dict[str, Any]) -> str:
    """Markdown put on top of a prepared copy: where its parameters come from."""
    source = config.source_path or "its run config"
    text = (f"*Prepared by `alignbench notebook` for run **{config.name}** ({source}): the "
            "cell tagged `injected-parameters` below holds the run's parameters. Running the "
            "cells recomputes and rewrites this run's files, as `alignbench run` does.*")
    if _uses_local(parameters):
        text += ("\n\n*`base_url: local` is kept as `local`: the embedded server runs only "
                 "during `alignbench run`. To call those models here, start `alignbench "
                 "serve-local` and put its URL in their place; records already written are "
                 "never requested again.*")
    return text


def _prepare(config: RunConfig, name: str, parameters: dict[str, Any]) -> str:
    """The text of one prepared copy."""
    import papermill

    nb = papermill.execute_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"), None,
                                    parameters=parameters, prepare_only=True,
                                    progress_bar=False)
    nb.metadata["kernelspec"] = {"name": LAB_KERNEL, "display_name": LAB_KERNEL_DISPLAY,
                                 "language": "python"}
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(_note(config, parameters),
                                                     id="prepared-note"))
    for cell in nb.cells:  # a fixed id, not a random one: re-preparing gives the same bytes
        if _INJECTED in cell.metadata.get("tags", []):
            cell.id = _INJECTED
    return nbformat.writes(nb)


def prepare_notebooks(config: RunConfig | str | os.PathLike,
                      names: Sequence[str] | None = None, *, overwrite: bool = False
                      ) -> list[Path]:
    """Write prepared copies of the notebooks ``names`` (default: all) for the run; returns
    their paths, in pipeline order.

    Relative paths in the config are read from the current folder, as by ``alignbench run``.
    Raises :class:`InputError` for an unknown notebook name
    or a changed copy (without ``overwrite``), :class:`SecretLeakError` when a copy would hold
    an API key value (then nothing is written).
    """
    config = config if isinstance(config, RunConfig) else load_config(config)
    allowed = notebooks_for(config)
    names = list(names or allowed)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InputError(f"unknown notebooks {unknown}; allowed: {', '.join(allowed)}",
                         field="notebook")
    params = absolute_paths(notebook_parameters(config), Path.cwd())
    ensure_kernel()
    out_dir = prepared_dir(config)
    texts = {out_dir / f"{n}.ipynb": _prepare(config, n, params[n])
             for n in allowed if n in names}
    changed = [p for p, text in texts.items()
               if p.is_file() and p.read_text(encoding="utf-8") != text]
    if changed and not overwrite:
        raise InputError("changed since it was prepared (or the run config changed); pass "
                         "--force to replace it", path=", ".join(map(str, changed)))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        for path, text in texts.items():
            (staging / path.name).write_text(text, encoding="utf-8")
        leaks = find_secret_leaks(config, [staging])
        if leaks:
            raise SecretLeakError(
                "an API key value would appear in the prepared " + ", ".join(p.stem for p in leaks)
                + "; it can only come from the run config (a key pasted into a field): "
                f"{config.source_path or config.name}")
        for path in texts:
            os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging)
    write_judging(config.layout, sample_reduce=config.statistics.sample_reduce,
                  panels=config.panels)  # the prepared notebooks combine judgments as a run
    return list(texts)


def open_command(target: str | os.PathLike, cwd: str | os.PathLike | None = None) -> str:
    """The shell command, run from ``cwd``, that opens ``target`` (a prepared notebook or
    their folder) in JupyterLab with the project's kernel.

    >>> open_command(REPO_ROOT / "runs/demo/notebooks/prepared", cwd=REPO_ROOT)
    'make lab OPEN=runs/demo/notebooks/prepared'
    >>> open_command("/data/my run/06.ipynb", cwd="/").replace(str(REPO_ROOT), "REPO")
    "make -C REPO lab OPEN='/data/my run/06.ipynb'"
    """
    target = Path(target).resolve()
    shown = target.relative_to(REPO_ROOT) if target.is_relative_to(REPO_ROOT) else target
    here = Path(cwd or Path.cwd()).resolve()
    make = "make" if here == REPO_ROOT else f"make -C {shlex.quote(str(REPO_ROOT))}"
    return f"{make} lab OPEN={shlex.quote(str(shown))}"


if __name__ == "__main__":  # `make lab` registers the kernel this way
    print(f"kernel {LAB_KERNEL!r} ({LAB_KERNEL_DISPLAY}) registered in {install_kernel()}")
