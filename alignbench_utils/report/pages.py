"""Notebook execution (papermill) and the HTML report (nbconvert pages + an index page).

Pages hide code (``exclude_input``) and embed every image as a data URI and load no script
from the network, so one HTML file can be mailed and opened offline. Every page states the
package version, the run config, the judge model and prompt-template hash, and dates.
"""

from __future__ import annotations

import base64
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
from alignbench_utils.data.layout import FIGURES
from alignbench_utils.data.store import read_records_in
from alignbench_utils.protocols.prompts import template_sha256
from alignbench_utils.report.provenance import summarize_records
from alignbench_utils.report.viewer import write_viewer
from alignbench_utils.running.accounting import run_spend, spend_by_endpoint, spend_frame

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
]

KERNEL_NAME = "python3"  # jupyter_client starts it with sys.executable: the venv's python
# The kernel's own log (its stderr is the terminal's) says only what is critical: not the
# "running over TCP without encryption" warning of every start (the kernel listens on
# 127.0.0.1) nor "KeyboardInterrupt caught in kernel" when papermill shuts it down. A cell's
# error still fails the notebook (papermill raises).
KERNEL_QUIET = ["--IPKernelApp.log_level=CRITICAL"]
VIEWER_PAGE = "viewer.html"  # the judgment viewer (alignbench_utils.report.viewer), linked by the index
TEMPLATES = Path(__file__).with_name("templates")
MAIN_FIGURES = FIGURES  # shown on the index page, in this order; notebooks 04/06 write them


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
    papermill.execute_notebook(str(notebook), str(output), parameters=dict(parameters),
                               kernel_name=kernel_name, cwd=str(cwd) if cwd else None,
                               progress_bar=False, report_mode=False,
                               extra_arguments=KERNEL_QUIET)
    return output


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


def render_index(config: RunConfig, pages: list[Path], info: Mapping[str, Any],
                 records: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """``index.html``: leaderboard, failures, spend, the main figures (embedded) and links to
    every page; ``records`` are the run's (read from the run folder when not given)."""
    layout = config.layout
    results = layout.table("leaderboard")
    table = None
    if results.is_file():
        table = pd.read_csv(results).to_html(index=False, classes="leaderboard",
                                             float_format=lambda v: f"{v:.2f}", border=0,
                                             na_rep="–")
    failures_csv = layout.table("failures")
    failures = None
    if failures_csv.is_file():
        failures = failures_by_model(pd.read_csv(failures_csv).fillna({"judge": ""})).to_html(
            index=False, classes="leaderboard", border=0)
    spend = spend_frame(run_spend(config.run_dir) if records is None
                        else spend_by_endpoint(records))
    spend_html = None if spend.empty else spend.to_html(
        index=False, classes="leaderboard", border=0, na_rep="–",
        formatters={"cost_usd": lambda v: "–" if v is None else f"${v:.4f}"})
    figures = [{"name": name, "title": title, "data_uri": _data_uri(layout.figure(name))}
               for name, title in MAIN_FIGURES.items() if layout.figure(name).is_file()]
    links = [{"href": p.name, "title": p.stem.replace("_", " ", 1)} for p in pages]
    body = _env().get_template("index.html.j2").render(
        info=info, leaderboard_html=table, failures_html=failures, spend_html=spend_html,
        figures=figures, pages=links,
        link_index=False, viewer_href=VIEWER_PAGE)
    out = config.report_dir / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
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
