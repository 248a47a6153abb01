"""RunLayout: every path and file name of a run folder, in one place.

Notebooks, the pipeline, the report and the CLI all find a run's files through this object,
so a file written by one (a figure of notebook 04, a table of notebook 03) is found by the
others (the report's index) under the same name.

    runs/<run>/answers/<model>.jsonl              answer records
    runs/<run>/judgments/<judge>/<model>.jsonl    judgment records (the official protocol)
    runs/<run>/judgments/<judge>/<protocol>/<model>.jsonl
                                                  judgment records under another protocol
    runs/<run>/judge_eval/<judge>/<protocol>/<benchmark>__<subset>.jsonl
                                                  pairwise records of the judge meta-evaluation
    runs/<run>/comparisons/<judge>/<protocol>/<model_a>__<model_b>.jsonl
                                                  pairwise records comparing two models' answers
    runs/<run>/results/<table>.csv                tables, provenance
    runs/<run>/results/<table>__<judge>.csv|md|tex   one judge's tables (paper formats)
    runs/<run>/figures/<figure>.png|svg|pdf       figures
    runs/<run>/figures/<figure>__<judge>.pdf|...  one judge's figures
    runs/<run>/notebooks/<notebook>.ipynb         executed notebooks (prepared/ beside them)
    runs/<run>/logs/                              server and run logs
    runs/<run>/judging.json                       how samples and judge panels combine
    <store folder>/.batches/<store>.ndjson        batch backend state of a store file
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from alignbench_utils.protocols.base import DEFAULT_PROTOCOL, canonical_protocol

__all__ = ["FIGURES", "JUDGE_FIGURES", "STAGE_DIRS", "VIEWER_PAGE", "RunLayout", "file_safe", "judge_folder",
           "pairwise_file", "run_root"]

# The folders of a run that hold records, by the stage that writes them (spend, budget, lock).
STAGE_DIRS: dict[str, str] = {"generate": "answers", "judge": "judgments",
                              "judge_eval": "judge_eval", "pairwise": "comparisons"}

VIEWER_PAGE = "viewer.html"  # the judgment viewer in reports/<run>/, linked by the index and tables

# The figures of a whole run (name → caption), in the order the report's index shows them
# (every judge's own figures are JUDGE_FIGURES).
FIGURES: dict[str, str] = {
    "failures": "Failed judgments of every judge",
    "pairwise_ratings": "Pairwise leaderboard: Bradley-Terry ratings with bootstrap CIs",
    "pairwise_win_rates": "Win rate against the baseline per model and category",
    "pairwise_length_control": "Raw and length-controlled win rates",
    "judge_power": "Smallest detectable 总分 difference and questions needed (80% power, 5% level)",
    "judge_calibration": "One judge's scores calibrated onto another's scale (held-out items)",
}
# The figures written once per judge (``<name>__<judge>``), in the order the index shows them.
JUDGE_FIGURES: dict[str, str] = {
    "leaderboard": "Leaderboard with bootstrap confidence intervals",
    "category_ci": "Category means with bootstrap confidence intervals",
    "category_heatmap": "Mean score per model and category",
    "radar": "Category radar (as in the AlignBench paper), one panel per model",
    "paired_forest": "Paired model differences in 总分",
    "score_distributions": "Score distributions per category",
    "dimension_heatmap": "Mean score per judge dimension",
    "score_vs_length": "Score against answer length",
}


def file_safe(name: str) -> str:
    """A judge identity as a file-name part: ``/`` (``name/protocol``) becomes ``__``.

    >>> file_safe("gpt-4o/pointwise_alignbench")
    'gpt-4o__pointwise_alignbench'
    """
    return name.replace("/", "__")


def pairwise_file(root: str | os.PathLike, judge: str, protocol: str, stem: str) -> Path:
    """Store file of pairwise records: ``<root>/<judge>/<protocol>/<stem>.jsonl`` (a judge
    judging under two protocols keeps them apart).

    >>> pairwise_file("out", "j", "pandalm", "pandalm__testset-v1").as_posix()
    'out/j/pandalm/pandalm__testset-v1.jsonl'
    """
    return Path(root) / judge / protocol / f"{stem}.jsonl"


def judge_folder(root: str | os.PathLike, judge: str,
                 protocol: str = DEFAULT_PROTOCOL) -> Path:
    """Folder of one judge's judgment records under one protocol: ``<root>/<judge>/`` for
    the official protocol (so runs written before protocols were chosen read unchanged),
    ``<root>/<judge>/<protocol>/`` for any other, so two protocols never share a file.

    >>> judge_folder("judgments", "j").as_posix(), judge_folder("judgments", "j", "mtbench-single").as_posix()
    ('judgments/j', 'judgments/j/mtbench-single')
    """
    folder = Path(root) / judge
    protocol = canonical_protocol(protocol)
    return folder if protocol == DEFAULT_PROTOCOL else folder / protocol
def run_root(path: str | os.PathLike) -> Path | None:
    """The run folder a store file or output folder lies in (the parent of its nearest
    ``answers``/``judgments``/``judge_eval``/``comparisons`` ancestor), or None outside one.

    >>> run_root("runs/demo/judgments/j/m.jsonl").as_posix(), run_root("out/j.jsonl")
    ('runs/demo', None)
    """
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.name in STAGE_DIRS.values() and folder.parent != folder:
            return folder.parent
    return None


@dataclass(frozen=True)
class RunLayout:
    """The files of the run in ``run_dir``.

    >>> layout = RunLayout("runs/demo")
    >>> layout.answers_file("m").as_posix(), layout.judgments_file("j", "m").as_posix()
    ('runs/demo/answers/m.jsonl', 'runs/demo/judgments/j/m.jsonl')
    >>> layout.table("leaderboard").name, layout.figure("radar", "svg").name
    ('leaderboard.csv', 'radar.svg')
    """

    run_dir: Path

    def __init__(self, run_dir: str | os.PathLike) -> None:
        object.__setattr__(self, "run_dir", Path(run_dir))

    @property
    def answers_dir(self) -> Path:
        return self.run_dir / "answers"

    def answers_file(self, model: str) -> Path:
        return self.answers_dir / f"{model}.jsonl"

    @property
    def judgments_dir(self) -> Path:
        return self.run_dir / "judgments"

    def judge_dir(self, judge: str, protocol: str = DEFAULT_PROTOCOL) -> Path:
        """One judge's records under one protocol (:func:`judge_folder`)."""
        return judge_folder(self.judgments_dir, judge, protocol)

    def judgments_file(self, judge: str, model: str, protocol: str = DEFAULT_PROTOCOL) -> Path:
        return self.judge_dir(judge, protocol) / f"{model}.jsonl"

    @property
    def judge_eval_dir(self) -> Path:
        """Root of the judge meta-evaluation's pairwise records (:func:`pairwise_file`)."""
        return self.run_dir / "judge_eval"

    @property
    def comparisons_dir(self) -> Path:
        """Root of the pairwise records comparing models' answers (:func:`pairwise_file`)."""
        return self.run_dir / "comparisons"

    @property
    def record_dirs(self) -> tuple[Path, Path]:
        """The folders of the run's answer and judgment records."""
        return self.answers_dir, self.judgments_dir

    @property
    def stage_dirs(self) -> dict[str, Path]:
        """Every folder of the run's records, by stage (what the run has spent)."""
        return {stage: self.run_dir / name for stage, name in STAGE_DIRS.items()}

    @property
    def judging_file(self) -> Path:
        """How the run's judgments combine: the sample reduction and the judge panels
        (written from the run YAML; read by every table through ``run_judgments_frame``)."""
        return self.run_dir / "judging.json"

    @property
    def results_dir(self) -> Path:
        return self.run_dir / "results"

    def table(self, name: str, suffix: str = "csv") -> Path:
        """``results/<name>.<suffix>`` (leaderboard, failures, bootstrap_ci, ...)."""
        return self.results_dir / f"{name}.{suffix}"

    def judge_table(self, name: str, judge: str, suffix: str = "csv") -> Path:
        """One judge's table: ``results/<name>__<judge>.<suffix>`` (judge made file-safe).

        >>> RunLayout("r").judge_table("leaderboard_ci", "a/b", "tex").as_posix()
        'r/results/leaderboard_ci__a__b.tex'
        """
        return self.table(f"{name}__{file_safe(judge)}", suffix)

    @property
    def figures_dir(self) -> Path:
        return self.run_dir / "figures"

    def figure(self, name: str, suffix: str = "png") -> Path:
        return self.figures_dir / f"{name}.{suffix}"

    def judge_figure_name(self, name: str, judge: str) -> str:
        """File stem of one judge's figure (``<name>__<judge>``), for :meth:`figure`."""
        return f"{name}__{file_safe(judge)}"

    @property
    def notebooks_dir(self) -> Path:
        return self.run_dir / "notebooks"

    def executed_notebook(self, name: str) -> Path:
        return self.notebooks_dir / f"{name}.ipynb"

    @property
    def prepared_dir(self) -> Path:
        """Copies of the notebooks with this run's parameters, to open in JupyterLab."""
        return self.notebooks_dir / "prepared"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @staticmethod
    def batch_state_file(store_file: str | os.PathLike) -> Path:
        """The batch backend's state for one store file (batch ids, ``custom_id`` →
        request hash), beside it: ``answers/.batches/<model>.ndjson``. JSON lines named
        ``.ndjson`` so that readers globbing ``*.jsonl`` for records never take it for some.

        >>> RunLayout.batch_state_file("runs/demo/judgments/j/m.jsonl").as_posix()
        'runs/demo/judgments/j/.batches/m.ndjson'
        """
        path = Path(store_file)
        return path.parent / ".batches" / f"{path.stem}.ndjson"
