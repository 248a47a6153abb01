"""Notebook execution (papermill) and the HTML report (nbconvert pages + an index page).

Pages hide code (``exclude_input``) and embed every image as a data URI and load no script
from the network, so one HTML file can be mailed and opened offline. Every page states the
package version, the run config, the judge model and prompt-template hash, and dates.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape

from alignbench_utils._version import __version__
from alignbench_utils.analysis.aggregate import failures_by_model
from alignbench_utils.config import LOCAL, REFERENCE, RunConfig
from alignbench_utils.data.layout import FIGURES, JUDGE_FIGURES, VIEWER_PAGE, RunLayout
from alignbench_utils.data.store import read_records_in
from alignbench_utils.protocols.prompts import template_sha256
from alignbench_utils.report.provenance import summarize_records
from alignbench_utils.report.tables import MISSING, html_table
from alignbench_utils.report.viewer import write_viewer
from alignbench_utils.running.accounting import run_spend, spend_frame

__all__ = [
    "KERNEL_NAME",
    "KERNEL_QUIET",
    "MAIN_FIGURES",
    "VIEWER_PAGE",
    "execute_notebook",
    "provenance",
    "render_index",
    "render_notebook",
    "render_report",
    "stop_kernels",
]

KERNEL_NAME = "python3"  # jupyter_client starts it with sys.executable: the venv's python
# The kernel's own log (its stderr is the terminal's) says only what is critical: not the
# "running over TCP without encryption" warning of every start (the kernel listens on
# 127.0.0.1) nor "KeyboardInterrupt caught in kernel" when papermill shuts it down. A cell's
# error still fails the notebook (papermill raises).
KERNEL_QUIET = ["--IPKernelApp.log_level=CRITICAL"]
TEMPLATES = Path(__file__).with_name("templates")
MAIN_FIGURES = FIGURES  # shown on the index page, in this order; notebooks 04/08 write them
APPENDIX_DIRS = ("results", "figures")  # copied into the report folder, linked from the index


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))


def execute_notebook(notebook: str | Path, output: str | Path, parameters: Mapping[str, Any], *,
                     cwd: str | Path | None = None, kernel_name: str = KERNEL_NAME) -> Path:
    """Run ``notebook`` with papermill into ``output``, injecting ``parameters``.

    A failing cell raises ``papermill.PapermillExecutionError``; the partly executed
    notebook is still written to ``output`` for inspection. The kernel logs nothing short of
    critical (:data:`KERNEL_QUIET`).
    """
    import papermill

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=dict(parameters),
                                   kernel_name=kernel_name, cwd=str(cwd) if cwd else None,
                                   progress_bar=False, report_mode=False,
                                   extra_arguments=KERNEL_QUIET)
    except KeyboardInterrupt:  # papermill may leave the kernel running: stop it first
        stop_kernels()
        raise
    except OSError as exc:  # writing the executed notebook (a full disk): name the file
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror, str(output)) from exc
    return output


def stop_kernels(timeout_s: float = 5.0) -> None:
    """Stop this process's Jupyter kernels (children running ``ipykernel``): terminate, wait
    up to ``timeout_s``, then kill, so that an interrupted run leaves no kernel behind."""
    import psutil

    kernels = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any("ipykernel" in part for part in child.cmdline()):
                kernels.append(child)
    for kernel in kernels:
        with contextlib.suppress(psutil.Error):
            kernel.terminate()
    _, alive = psutil.wait_procs(kernels, timeout=timeout_s)
    for kernel in alive:
        with contextlib.suppress(psutil.Error):
            kernel.kill()
    psutil.wait_procs(alive, timeout=timeout_s)


def caveats(config: RunConfig) -> list[str]:
    """Plain warnings shown on top of every page when the numbers are not a real evaluation.

    >>> from alignbench_utils.config import JudgeEvalSpec, parse_config
    >>> cfg = parse_config({"name": "t", "dataset": {"per_category": 2},
    ...     "models": [{"name": "reference", "base_url": "reference"}],
    ...     "judges": [{"name": "j", "base_url": "local"}]})
    >>> [c.split(":")[0] for c in caveats(cfg)]
    ['Smoke run', 'Subset']
    >>> cfg.judge_eval = JudgeEvalSpec(benchmarks=["llmbar:Natural"], per_subset=30)
    >>> caveats(cfg)[-1][:60]
    'Judge-eval subset: 30 items per benchmark subset (seed 0) we'
    """
    notes = []
    local_judges = [j.name for j in config.judges if j.base_url == LOCAL]
    if local_judges:
        notes.append(
            f"Smoke run: judged by the embedded local model {config.local.model} "
            f"({', '.join(local_judges)}). It shows that the pipeline runs end to end; a model this "
            "small cannot grade reliably, so these scores say nothing about answer quality.")
    ds = config.dataset
    if ds.per_category or ds.categories:
        notes.append(
            "Subset: not all 683 questions were asked, so these numbers are not comparable with "
            "published AlignBench leaderboards (all questions, GPT-4 judge).")
    judge_eval = config.judge_eval
    if judge_eval is not None and judge_eval.per_subset:
        notes.append(
            f"Judge-eval subset: {judge_eval.per_subset} items per benchmark subset (seed "
            f"{judge_eval.seed}) were judged, not the whole benchmarks, so the judge-agreement "
            "figures are not comparable with published ones; published judges are shown on the "
            "same items.")
    return notes


def provenance(config: RunConfig,
               records: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """What every report page states: version, config, judges, prompt hashes, dates, from the
    run's answer and judgment ``records`` (read from the run folder when not given)."""
    if records is None:
        records = read_records_in(config.layout.record_dirs)
    facts = summarize_records(records)
    judges = []
    for judge in config.judges:
        configured = judge.model_id
        recorded = facts["judges"].get(judge.name, {})
        judges.append({
            "name": judge.name,
            "model_ids": recorded.get("model_ids") or ([configured] if configured else []),
            "template_sha256": ", ".join(recorded.get("template_sha256", []))
            or template_sha256(judge.template),
            "structured": judge.structured,
        })
    ds = config.dataset
    subset = f", {ds.per_category} per category (seed {ds.seed})" if ds.per_category else ""
    cats = f", categories {', '.join(ds.categories)}" if ds.categories else ""
    return {
        "run": config.name,
        "caveats": caveats(config),
        "package_version": __version__,
        "dataset": f"{ds.source}{cats}{subset}",
        "models": [m.name + (" (reference control)" if m.base_url == REFERENCE else "")
                   for m in config.models],
        "judges": judges,
        "primary_judge": config.primary_judge,
        "first_record": facts["first_created"],
        "last_record": facts["last_created"],
        "rendered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config_yaml": yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False),
    }


def render_notebook(notebook: str | Path, html: str | Path, info: Mapping[str, Any]) -> Path:
    """One executed notebook → one self-contained HTML page, code hidden, provenance on top."""
    import nbformat  # here, not at the top: importing it takes seconds (jsonschema's grammars)
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    header = _env().get_template("provenance.html.j2").render(info=info, link_index=True)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(header))
    exporter = HTMLExporter(template_name="offline",
                            extra_template_basedirs=[str(TEMPLATES / "nbconvert")],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": Path(html).stem}})
    html = Path(html)
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(body, encoding="utf-8")
    return html


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _money(value: float | None) -> str:
    """A spend cell: dollars to the hundredth of a cent, ``–`` where nothing was priced."""
    return MISSING if value is None or pd.isna(value) else f"${value:.4f}"


def _screen_width(path: Path, dpi: int = 300, zoom: float = 1.5) -> int:
    """CSS pixels that show a PNG figure at ``zoom`` × its print size (its width in the PNG
    header over ``dpi``), so a column-width figure is not blown up to the page's width."""
    with open(path, "rb") as fh:
        width_px = int.from_bytes(fh.read(24)[16:20], "big")
    return round(width_px / dpi * 96 * zoom)


def _judges(layout: RunLayout) -> list[dict[str, str]]:
    """The analysed judges in order (``results/judges.json``, written by notebook 04)."""
    manifest = layout.table("judges", "json")
    return json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else []


def _judge_sections(layout: RunLayout) -> list[dict[str, Any]]:
    """Per judge: its paper leaderboard with CIs (HTML) and its leaderboard figure."""
    sections = []
    for entry in _judges(layout):
        table = layout.judge_table("leaderboard_ci", entry["judge"])
        figure = layout.figure(layout.judge_figure_name("leaderboard", entry["judge"]))
        shown = figure.is_file()
        sections.append({
            "judge": entry["judge"],
            "table_html": html_table(pd.read_csv(table, dtype=str, keep_default_na=False))
            .to_html() if table.is_file() else None,
            "figure": _data_uri(figure) if shown else None,
            "width": _screen_width(figure) if shown else None,
        })
    return sections


def _appendix(layout: RunLayout, report_dir: Path) -> list[dict[str, Any]]:
    """Copy ``results/`` and ``figures/`` into the report folder (so it can be zipped and
    shared) and list their files: one entry per file stem with a link per format."""
    groups = []
    for name in APPENDIX_DIRS:
        source = layout.run_dir / name
        if not source.is_dir():
            continue
        shutil.copytree(source, report_dir / name, dirs_exist_ok=True)
        stems: dict[str, list[dict[str, str]]] = {}
        for path in sorted(p for p in source.iterdir() if p.is_file()):
            stems.setdefault(path.stem, []).append(
                {"href": f"{name}/{path.name}", "format": path.suffix.lstrip(".")})
        groups.append({"folder": name, "files": [{"stem": stem, "links": links}
                                                 for stem, links in stems.items()]})
    return groups


def render_index(config: RunConfig, pages: list[Path], info: Mapping[str, Any],
                 records: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """``index.html``, the paper's appendix: every judge's leaderboard with CIs, failures,
    spend, the run's figures (embedded), links to every page and to every table and figure
    file (copied beside it); ``records`` are the run's (read from the run folder when not
    given)."""
    layout = config.layout
    results = layout.table("leaderboard")
    table = None
    if results.is_file():
        table = html_table(pd.read_csv(results)).to_html()
    failures_csv = layout.table("failures")
    failures = None
    if failures_csv.is_file():
        failures = html_table(failures_by_model(pd.read_csv(failures_csv)
                                                .fillna({"judge": ""}))).to_html()
    spend = spend_frame(run_spend(config.run_dir, records))
    money = {c: spend[c].map(_money) for c in spend.columns if c.startswith("cost_usd")}
    spend_html = None if spend.empty else html_table(spend.assign(**money)).to_html()
    figures = [{"name": name, "title": title, "data_uri": _data_uri(layout.figure(name)),
                "width": _screen_width(layout.figure(name))}
               for name, title in MAIN_FIGURES.items() if layout.figure(name).is_file()]
    links = [{"href": p.name, "title": p.stem.replace("_", " ", 1)} for p in pages]
    out = config.report_dir / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    body = _env().get_template("index.html.j2").render(
        info=info, leaderboard_html=table, failures_html=failures, spend_html=spend_html,
        judge_sections=_judge_sections(layout), figures=figures, pages=links,
        appendix=_appendix(layout, config.report_dir), judge_figures=JUDGE_FIGURES,
        link_index=False, viewer_href=VIEWER_PAGE)
    out.write_text(body, encoding="utf-8")
    return out


def render_report(config: RunConfig) -> list[Path]:
    """Render every executed notebook of the run, the judgment viewer and the index (which
    links the viewer); returns all written pages."""
    records = read_records_in(config.layout.record_dirs)  # read once for every page
    info = provenance(config, records)
    executed = sorted(config.layout.notebooks_dir.glob("*.ipynb"))
    pages = [render_notebook(nb, config.report_dir / f"{nb.stem}.html", info) for nb in executed]
    viewer = write_viewer(config.run_dir, config.report_dir / VIEWER_PAGE, info=info)
    return [*pages, viewer, render_index(config, pages, info, records)]
