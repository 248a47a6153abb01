"""`alignbench notebook`: prepared copies carry the run's parameters (not the placeholders) and
run on their own, as in JupyterLab: in the registered project kernel, from their own folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from run_fixtures import judgment_records, write_human_labels, write_run
from test_notebooks import outputs_text, stderr_text
from test_pipeline import KEY, KEY_ENV

from alignbench_utils.cli import main
from alignbench_utils.paths import REPO_ROOT
from alignbench_utils.pipeline import JUDGES_NOTEBOOK, NOTEBOOKS
from alignbench_utils.prepare import (
    LAB_KERNEL,
    LAB_KERNEL_DISPLAY,
    ensure_kernel,
    install_kernel,
    prepare_notebooks,
)

PLACEHOLDER = "runs/notebook"  # run_dir of the committed notebooks


def write_config(root: Path, models: str, judges: str, extra: str = "") -> Path:
    """A run YAML under ``root`` whose run folder is ``root/runs/prep``."""
    path = root / "prep.yaml"
    path.write_text(f"""\
name: prep
dataset: {{source: v1.1, per_category: 1, seed: 0}}
models:
{models}
judges:
{judges}
concurrency: 4
statistics: {{n_boot: 200, seed: 1}}
output: {{run_dir: {root / "runs" / "prep"}, report_dir: {root / "reports" / "prep"}}}
{extra}""", encoding="utf-8")
    return path


def endpoint(name: str, url: str, model_id: str, extra: str = "") -> str:
    return f"  - {{name: {name}, base_url: {url}, model_id: {model_id}{extra}}}\n"


DEAD = "http://127.0.0.1:9/v1"  # 03-06 read records only: never called
SYNTHETIC_MODELS = (endpoint("strong", DEAD, "s") + endpoint("weak", DEAD, "w")
                    + "  - {name: reference, base_url: reference}\n")
SYNTHETIC_JUDGES = endpoint("judge-a", DEAD, "a") + endpoint("judge-b", DEAD, "b")


@pytest.fixture
def lab_kernel(tmp_path, monkeypatch) -> Path:
    """The project kernel registered as `make lab` does, in a private prefix."""
    spec = install_kernel(tmp_path / "kernel-prefix")
    monkeypatch.setenv("JUPYTER_PATH", str(spec.parent.parent))
    return spec


def execute(path: Path) -> str:
    """Run a prepared copy like JupyterLab does (its kernelspec, cwd = its folder), save it,
    return its text outputs."""
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata.kernelspec.name == LAB_KERNEL
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, str(path))
    return outputs_text(path)


def test_prepared_03_to_06_read_the_run(tmp_path, monkeypatch, lab_kernel, capsys):
    monkeypatch.chdir(tmp_path)  # relative paths in the config are read from here
    run_dir = write_run(tmp_path / "runs" / "prep", judges=("judge-a", "judge-b"))
    write_human_labels(tmp_path / "human.csv", judgment_records("judge-a"))
    config = write_config(tmp_path, SYNTHETIC_MODELS, SYNTHETIC_JUDGES,
                          "agreement: {human_labels: human.csv}\n")
    assert main(["notebook", str(config)]) == 0
    out = capsys.readouterr().out
    prepared = run_dir / "notebooks" / "prepared"
    assert sorted(p.stem for p in prepared.glob("*.ipynb")) == [*NOTEBOOKS, JUDGES_NOTEBOOK]
    assert (run_dir / "judging.json").is_file()  # the prepared copies combine judgments so
    assert "open with: make -C " in out and f"lab OPEN={prepared}" in out
    assert not list((run_dir / "notebooks").glob("*.ipynb"))  # not taken for executed ones

    text = execute(prepared / "03_aggregate.ipynb")
    assert "judges: judge-a, judge-b (primary: judge-a)" in text and "3 models" in text
    board = pd.read_csv(run_dir / "results" / "leaderboard.csv")
    assert set(board["模型"]) == {"strong", "weak", "reference"}

    text = execute(prepared / "04_analysis.ipynb")
    assert "judges judge-a, judge-b: 3 models, 200 bootstrap resamples" in text
    assert "seed 1" in text
    assert (run_dir / "figures" / "radar__judge-b.pdf").is_file()

    text = execute(prepared / "05_agreement.ipynb")
    assert f"human labels: {tmp_path / 'human.csv'}" in text  # made absolute
    assert "second judge: judge-b" in text
    assert (run_dir / "results" / "agreement_human.csv").is_file()
    assert (run_dir / "results" / "agreement_judges.csv").is_file()

    path = prepared / "06_error_analysis.ipynb"
    text = execute(path)
    assert "4 failed judgments" in text and "judge-a vs judge-b" in text
    assert not stderr_text(path)
    assert not (prepared / "runs").exists() and not (tmp_path / PLACEHOLDER).exists()


def test_prepared_01_and_02_call_the_run_endpoints(tmp_path, monkeypatch, lab_kernel,
                                                   fault_server):
    monkeypatch.setenv(KEY_ENV, KEY)
    fault_server.configure(malformed_rate=0.2, seed=3)
    url = fault_server.base_url
    models = (endpoint("m1", url, "fake-1", f", api_key_env: {KEY_ENV}")
              + "  - {name: reference, base_url: reference}\n")
    judges = endpoint("j1", url, "fake-judge", f", api_key_env: {KEY_ENV}, max_reasks: 0")
    paths = prepare_notebooks(write_config(tmp_path, models, judges),
                              ["02_judge", "01_generate"])
    assert [p.stem for p in paths] == ["01_generate", "02_judge"]  # pipeline order
    for path in paths:
        written = path.read_text(encoding="utf-8")
        assert KEY_ENV in written and KEY not in written
    run_dir = tmp_path / "runs" / "prep"

    assert "8 questions from v1.1" in execute(paths[0])
    answers = [json.loads(line) for line in
               (run_dir / "answers" / "m1.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(answers) == 8 and all(a["status"] == "ok" for a in answers)
    assert "judge j1 on m1, reference: done" in execute(paths[1])
    judged = [json.loads(line) for line in
              (run_dir / "judgments" / "j1" / "m1.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(judged) == 8 and fault_server.stats["answer"] == 8


def test_local_endpoints_stay_local_and_say_so(tmp_path, lab_kernel):
    models = "  - {name: small, base_url: local}\n"
    judges = "  - {name: small-judge, base_url: local}\n"
    path, = prepare_notebooks(write_config(tmp_path, models, judges), ["01_generate"])
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata.papermill.parameters["models"][0]["base_url"] == "local"
    assert "alignbench serve-local" in nb.cells[0].source
    with pytest.raises(CellExecutionError, match="serve-local"):
        execute(path)  # stops before any request, saying what to do


def test_cli_errors_and_changed_copies(tmp_path, capsys):
    config = str(write_config(tmp_path, SYNTHETIC_MODELS, SYNTHETIC_JUDGES))
    assert main(["notebook", config, "07_missing"]) == 2
    err = capsys.readouterr().err
    assert "unknown notebooks ['07_missing']" in err and ", ".join(NOTEBOOKS) in err
    assert not (tmp_path / "runs").exists()

    assert main(["notebook", config, "06_error_analysis"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "runs" / "prep" / "notebooks" / "prepared" / "06_error_analysis.ipynb"
    assert f"prepared: {path}" in out and f"OPEN={path}" in out
    fresh = path.read_bytes()
    assert main(["notebook", config, "06_error_analysis"]) == 0  # unchanged: same bytes
    assert path.read_bytes() == fresh

    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("my_analysis = 1"))  # work done in the lab
    nbformat.write(nb, str(path))
    assert main(["notebook", config, "06_error_analysis"]) == 2
    assert "--force" in capsys.readouterr().err and b"my_analysis" in path.read_bytes()
    assert main(["notebook", config, "06_error_analysis", "--force"]) == 0
    assert path.read_bytes() == fresh


def test_a_key_pasted_into_the_config_is_never_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_ENV, KEY)
    models = endpoint("m1", DEAD, "fake-1",
                      f", api_key_env: {KEY_ENV}, sampling: {{system_prompt: '{KEY}'}}")
    config = write_config(tmp_path, models, SYNTHETIC_JUDGES)
    assert main(["notebook", str(config)]) == 1
    err = capsys.readouterr().err
    assert "API key value" in err and "01_generate" in err and KEY not in err
    written = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    assert written == []


def test_kernel_is_this_interpreter(lab_kernel):
    spec = json.loads((lab_kernel / "kernel.json").read_text(encoding="utf-8"))
    assert spec["argv"][0] == sys.executable and "alignbench" in spec["display_name"]


def test_prepared_copy_runs_under_plain_papermill_with_the_installed_kernel(tmp_path,
                                                                            monkeypatch):
    """pip installs the project kernel with the package (pyproject's data-files into
    <prefix>/share/jupyter/kernels), so `papermill` finds it without `make lab`."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = pyproject["tool"]["setuptools"]["data-files"]
    prefix = tmp_path / "prefix"  # where pip would put them
    for target, sources in data_files.items():
        (prefix / target).mkdir(parents=True)
        for source in sources:
            shutil.copy(REPO_ROOT / source, prefix / target)
    spec = json.loads((prefix / "share/jupyter/kernels" / LAB_KERNEL / "kernel.json").read_text(
        encoding="utf-8"))
    assert spec["display_name"] == LAB_KERNEL_DISPLAY
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.chdir(tmp_path)
    run_dir = write_run(tmp_path / "runs" / "prep")
    config = write_config(tmp_path, SYNTHETIC_MODELS, SYNTHETIC_JUDGES)
    [path] = prepare_notebooks(config, ["03_aggregate"])
    out = tmp_path / "out.ipynb"
    result = subprocess.run([sys.executable, "-m", "papermill", str(path), str(out)],
                            capture_output=True, text=True, timeout=300, cwd=path.parent,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "judges: judge-a (primary: judge-a)" in outputs_text(out)
    assert (run_dir / "results" / "leaderboard.csv").is_file()


def test_an_editable_install_gets_the_kernel_registered_once(tmp_path, monkeypatch):
    """`pip install -e` skips data-files: `alignbench notebook` registers the kernel itself
    where Jupyter looks (here a private prefix on JUPYTER_PATH), once."""
    import jupyter_core.paths

    env = str(tmp_path / "prefix" / "share" / "jupyter")  # as if this were the environment
    monkeypatch.setattr(jupyter_core.paths, "ENV_JUPYTER_PATH", [env])
    monkeypatch.setattr(jupyter_core.paths, "SYSTEM_JUPYTER_PATH", [str(tmp_path / "system")])
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))  # no user kernel either
    spec = ensure_kernel(tmp_path / "prefix")
    assert spec == tmp_path / "prefix" / "share" / "jupyter" / "kernels" / LAB_KERNEL
    assert json.loads((spec / "kernel.json").read_text(encoding="utf-8"))["argv"][0] == (
        sys.executable)
    assert ensure_kernel(tmp_path / "prefix") is None
