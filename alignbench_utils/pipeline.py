"""``alignbench run`` / ``alignbench report``: execute the notebooks of one run YAML in order
with papermill, then render the HTML report.

The notebooks are the pipeline; this module only turns the validated config into each
notebook's parameters, starts the embedded local server once when a model or judge says
``base_url: local`` (only when a notebook has to execute), and checks that no API key leaked
into anything written. A rerun resumes: the notebooks call the append-only store, which never
repeats a call, and a notebook whose inputs did not change is not executed again
(:mod:`alignbench_utils.incremental`). The terminal gets one line per notebook (executed and
why, or skipped), each stage's summary lines, and whether the report was re-rendered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from alignbench_utils.config import LOCAL, REFERENCE, RunConfig, load_config
from alignbench_utils.errors import InputError, RunError
from alignbench_utils.incremental import Executions
from alignbench_utils.keys import looks_like_key
from alignbench_utils.paths import REPO_ROOT
from alignbench_utils.running.engine import summary_lines
from alignbench_utils.running.runlock import run_lock

__all__ = [
    "JUDGES_NOTEBOOK",
    "JUDGE_EVAL_NOTEBOOK",
    "NOTEBOOKS",
    "NOTEBOOK_DIR",
    "PAIRWISE_NOTEBOOK",
    "SecretLeakError",
    "find_secret_leaks",
    "notebook_parameters",
    "notebooks_for",
    "printed_text",
    "render_only",
    "run_pipeline",
]

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = ("01_generate", "02_judge", "03_aggregate", "04_analysis", "05_agreement",
             "06_error_analysis")
JUDGE_EVAL_NOTEBOOK = "07_judge_eval"  # run after NOTEBOOKS when the config has judge_eval:
PAIRWISE_NOTEBOOK = "08_pairwise"  # run last when the config has pairwise:
JUDGES_NOTEBOOK = "09_judges"  # run when a judge has samples > 1, or panels, or 2+ judges
_MIN_SECRET_LEN = 8  # shorter values (e.g. "EMPTY") are not API keys and would match by chance


class SecretLeakError(RunError):
    """An API key value was found in a file the run wrote (the key itself is never shown)."""


def _resolve(specs: Iterable[dict[str, Any]], local: Any | None) -> list[dict[str, Any]]:
    """Endpoint dicts with ``base_url: local`` replaced by the running local server (kept
    as ``local`` without one)."""
    out = []
    for spec in specs:
        spec = dict(spec)
        if spec["base_url"] == LOCAL and local is not None:
            spec["base_url"] = local.base_url
            spec["model_id"] = spec.get("model_id") or local.model_id
        out.append(spec)
    return out


def _judges_notebook(config: RunConfig) -> bool:
    """Whether the run has judges to judge: repeated samples, panels or two judges."""
    return (any(j.samples > 1 for j in config.judges) or bool(config.panels)
            or len(config.judges) > 1)


def notebooks_for(config: RunConfig) -> tuple[str, ...]:
    """The notebooks of a run, in order: :data:`NOTEBOOKS`, then the judge meta-evaluation
    when the config has a ``judge_eval:`` section, the pairwise leaderboard when it has a
    ``pairwise:`` section and the judges notebook when it has samples, panels or 2+ judges."""
    return (NOTEBOOKS + ((JUDGE_EVAL_NOTEBOOK,) if config.judge_eval is not None else ())
            + ((PAIRWISE_NOTEBOOK,) if config.pairwise is not None else ())
            + ((JUDGES_NOTEBOOK,) if _judges_notebook(config) else ()))


def _judge_eval_parameters(config: RunConfig, local: Any | None) -> dict[str, Any]:
    spec = config.judge_eval
    assert spec is not None
    st = config.statistics
    return {"run_dir": str(config.run_dir),
            "judges": _resolve([dataclasses.asdict(j) for j in config.judge_eval_judges], local),
            "benchmarks": list(spec.benchmarks), "protocol": spec.protocol,
            "template": spec.template or "", "orders": spec.orders or "",
            "logit_bias_model": spec.logit_bias_model or "", "per_subset": spec.per_subset or 0,
            "subset_seed": spec.seed, "published": spec.published,
            "concurrency": config.concurrency, "n_boot": st.n_boot, "level": st.level,
            "seed": st.seed}


def _reference_models(config: RunConfig) -> list[str]:
    """The run's reference controls (grey and dashed in figures, left out of worst answers)."""
    return [m.name for m in config.models if m.base_url == REFERENCE]


def _pairwise_parameters(config: RunConfig, local: Any | None) -> dict[str, Any]:
    spec, judge, st = config.pairwise, config.pairwise_judge, config.statistics
    assert spec is not None and judge is not None
    return {"run_dir": str(config.run_dir),
            "judge": _resolve([dataclasses.asdict(judge)], local)[0],
            "baseline": spec.baseline, "protocol": spec.protocol,
            "inconsistent": spec.inconsistent, "orders": spec.orders or "",
            "pointwise_judge": config.primary_judge, "concurrency": config.concurrency,
            "n_boot": st.n_boot, "level": st.level, "seed": st.seed,
            "figure_width": config.figures.width, "figure_formats": config.figures.formats,
            "reference_models": _reference_models(config)}


def _judges_parameters(config: RunConfig) -> dict[str, Any]:
    st = config.statistics
    families = {s.name: s.family for s in [*config.models, *config.judges] if s.family}
    second = config.second_judge or ""
    return {"run_dir": str(config.run_dir), "judge": config.primary_judge, "families": families,
            "human_labels": config.agreement.human_labels or "",
            "calibrate_source": second, "calibrate_target": config.primary_judge if second else "",
            "n_boot": st.n_boot, "level": st.level, "seed": st.seed}


def notebook_parameters(config: RunConfig, local: Any | None = None) -> dict[str, dict[str, Any]]:
    """Parameters of every notebook (name → dict) for ``config``.

    ``local`` is the running local server (with ``.base_url`` and ``.model_id``) when the
    config uses ``base_url: local`` (without it, ``local`` is kept, as in prepared notebooks).
    Only environment variable *names* are passed, never keys.

    >>> from alignbench_utils.config import parse_config
    >>> cfg = parse_config({"name": "t", "models": [{"name": "r", "base_url": "reference"}],
    ...                     "judges": [{"name": "j", "base_url": "http://h/v1", "model_id": "x"}]})
    >>> p = notebook_parameters(cfg)
    >>> p["01_generate"]["per_category"], p["03_aggregate"]["judge"], p["05_agreement"]["human_labels"]
    (0, 'j', '')
    """
    data = config.to_dict()
    run_dir = str(config.run_dir)
    ds, st = config.dataset, config.statistics
    judge = config.primary_judge
    second = config.second_judge or ""
    statistics = {"n_boot": st.n_boot, "level": st.level, "seed": st.seed}
    reference = _reference_models(config)
    figures = {"figure_width": config.figures.width, "figure_formats": config.figures.formats,
               "reference_models": reference}
    optional = ({JUDGE_EVAL_NOTEBOOK: _judge_eval_parameters(config, local)}
                if config.judge_eval is not None else {})
    if config.pairwise is not None:
        optional[PAIRWISE_NOTEBOOK] = _pairwise_parameters(config, local)
    if _judges_notebook(config):
        optional[JUDGES_NOTEBOOK] = _judges_parameters(config)
    return {
        "01_generate": {"run_dir": run_dir, "dataset_source": ds.source,
                        "categories": ds.categories or [], "per_category": ds.per_category or 0,
                        "dataset_seed": ds.seed, "models": _resolve(data["models"], local),
                        "concurrency": config.concurrency},
        "02_judge": {"run_dir": run_dir, "judges": _resolve(data["judges"], local),
                     "models": [m.name for m in config.models],
                     "concurrency": config.concurrency},
        "03_aggregate": {"run_dir": run_dir, "judge": judge},
        "04_analysis": {"run_dir": run_dir, "judge": judge, "correction": st.correction,
                        **statistics, **figures, "english": config.tables.english,
                        "decimals": config.tables.decimals},
        "05_agreement": {"run_dir": run_dir, "judge": judge, "second_judge": second,
                         "human_labels": config.agreement.human_labels or "", **statistics},
        "06_error_analysis": {"run_dir": run_dir, "judge": judge, "exclude_models": reference,
                              **figures},
        **optional,
    }


def find_secret_leaks(config: RunConfig, roots: Sequence[Path]) -> list[Path]:
    """Files under ``roots`` (a viewer page's packed data included) that contain the value of
    any ``api_key_env`` variable, or an ``api_key_env`` string that is itself a key (pasted
    where the variable's name belongs)."""
    names = {s.api_key_env for s in [*config.models, *config.judges, *config.judge_eval_judges]
             if s.api_key_env}
    secrets = [os.environ[n].encode() for n in sorted(names)
               if len(os.environ.get(n, "")) >= _MIN_SECRET_LEN]
    secrets += [n.encode() for n in sorted(names) if looks_like_key(n)]
    if not secrets:
        return []
    from alignbench_utils.report.viewer import scannable_bytes  # pandas: only with secrets

    return [path for root in roots if root.exists() for path in sorted(root.rglob("*"))
            if path.is_file() and any(map(scannable_bytes(path).__contains__, secrets))]


def _check_secrets(config: RunConfig) -> None:
    leaks = find_secret_leaks(config, [config.run_dir, config.report_dir])
    if leaks:
        raise SecretLeakError("an API key value appears in: " + ", ".join(map(str, leaks)))


def _local_server(config: RunConfig, stack: contextlib.ExitStack) -> Any | None:
    if not config.uses_local:
        return None
    from alignbench_utils.local.local_server import serve_local

    return stack.enter_context(serve_local(
        model=config.local.model, log_dir=config.layout.logs_dir, parallel=config.local.parallel,
        ctx=config.local.ctx))


def printed_text(notebook: str | os.PathLike) -> str:
    """What an executed notebook printed (its stdout streams), in order."""
    import nbformat  # seconds to import: an unchanged rerun, which executes nothing, skips it

    nb = nbformat.read(str(notebook), as_version=4)
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", [])
                   if out.get("output_type") == "stream" and out.get("name") == "stdout")


def _key_parameters(config: RunConfig, parameters: dict[str, Any]) -> dict[str, Any]:
    """What a notebook's key takes from its parameters: them as the config gives them
    (``base_url: local`` unresolved: the local server's port changes every run) and, when the
    run uses the local server, its model and settings."""
    if not config.uses_local:
        return parameters
    return {"parameters": parameters, "local": dataclasses.asdict(config.local)}


def run_pipeline(config: RunConfig | str | os.PathLike, *,
                 notebooks: Sequence[str] | None = None, progress: bool = True,
                 kernel_name: str | None = None, force: bool | Collection[str] = False,
                 echo: Callable[[str], None] | None = None) -> list[Path]:
    """Execute ``notebooks`` (default: :func:`notebooks_for` the run) in order, each only
    when something it depends on changed since its last execution (``force``: every notebook,
    or those named, regardless), then render the report when something under it changed;
    returns the pages.

    Executed notebooks go to ``<run_dir>/notebooks/``, HTML to ``<report_dir>/``; the kernel
    is ``kernel_name`` (default :data:`alignbench_utils.report.pages.KERNEL_NAME`). ``echo``
    (default: a line above the progress bar) gets one line per notebook, the summary line of
    each stage it ran and one for the report. The run folder's lock
    (:mod:`alignbench_utils.running.runlock`) is held throughout: a second run of it fails at
    once. A failing notebook raises ``papermill.PapermillExecutionError`` (its partial output
    is kept).
    """
    config = config if isinstance(config, RunConfig) else load_config(config, check_env=True)
    allowed = notebooks_for(config)
    notebooks = allowed if notebooks is None else notebooks
    forced = set(allowed) if force is True else set(force or ())
    unknown = [n for n in [*notebooks, *sorted(forced)] if n not in allowed]
    if unknown:
        raise InputError(f"unknown notebooks {unknown}; allowed: {', '.join(allowed)}",
                         field="notebooks")
    say = echo or tqdm.write
    executions = Executions(config.layout)
    plain = notebook_parameters(config)  # the keys' parameters: `local` as written
    with contextlib.ExitStack() as stack:
        stack.enter_context(run_lock(config.run_dir))  # one writer per run folder
        from alignbench_utils.analysis.panels import write_judging  # pandas: after the lock

        write_judging(config.layout, sample_reduce=config.statistics.sample_reduce,
                      panels=config.panels)
        params: dict[str, dict[str, Any]] | None = None  # resolved once something executes
        bar = tqdm(notebooks, desc=f"alignbench run {config.name}", unit="notebook",
                   disable=not progress)
        for name in bar:
            bar.set_postfix_str(name)
            notebook = NOTEBOOK_DIR / f"{name}.ipynb"
            key = executions.key(name, notebook, _key_parameters(config, plain[name]))
            decision = executions.decide(name, key, force=name in forced)
            if not decision.run:
                say(f"{name}: skipped ({decision.reason})")
                continue
            if params is None:
                params = notebook_parameters(config, _local_server(config, stack))
            from alignbench_utils.report.pages import (  # the science stack: only now
                KERNEL_NAME,
                execute_notebook,
            )

            executed = config.layout.executed_notebook(name)
            before, started = executions.snapshot(), time.monotonic()
            try:
                execute_notebook(notebook, executed, params[name], cwd=Path.cwd(),
                                 kernel_name=kernel_name or KERNEL_NAME)
            except Exception as exc:
                import papermill  # loaded already by execute_notebook

                if isinstance(exc, papermill.PapermillExecutionError):
                    try:
                        report = _render(config)[-1]
                    except OSError as problem:  # the disk that failed the notebook: its error
                        report = f"not rendered ({problem.strerror or problem})"
                    exc.add_note(f"executed notebook with the error: {executed}; "
                                 f"report of what ran: {report}")
                raise
            executions.record(name, key, before)
            say(f"{name}: executed in {time.monotonic() - started:.1f} s ({decision.reason})")
            for line in summary_lines(printed_text(executed)):
                say(f"  {line}")
            _check_secrets(config)
        return _render_if_changed(config, executions, say)


def _render_if_changed(config: RunConfig, executions: Executions,
                       say: Callable[[str], None]) -> list[Path]:
    """The report's pages, rendered again only when the run's files, config or code changed
    since they were last rendered (or a page is missing)."""
    key = executions.report_key(config.to_dict())
    pages = executions.current_report(key)
    if pages is not None:
        _check_secrets(config)
        say("report: unchanged since it was rendered, not rendered again")
        return pages
    pages = _render(config)
    executions.record_report(key, pages)
    return pages


def render_only(config: RunConfig | str | os.PathLike) -> list[Path]:
    """Re-render the HTML report from the executed notebooks, running nothing; under the run
    folder's lock, so a run still writing them is never read half-way."""
    config = config if isinstance(config, RunConfig) else load_config(config)
    if not any(config.layout.notebooks_dir.glob("*.ipynb")):
        raise InputError("no executed notebooks; run `alignbench run` first",
                         path=config.layout.notebooks_dir)
    with run_lock(config.run_dir):
        return _render(config)


def _render(config: RunConfig) -> list[Path]:
    """The report's pages rendered from the executed notebooks (the caller holds the lock)."""
    from alignbench_utils.report.pages import render_report

    pages = render_report(config)
    _check_secrets(config)
    return pages
