"""`alignbench estimate` against what a real run is billed by the fault server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alignbench_utils.cli import main
from alignbench_utils.config import ConfigError, load_config
from alignbench_utils.pipeline import run_pipeline
from alignbench_utils.stages.estimate import billed_tokens, compare_estimate, estimate_run

STAGES = ("01_generate", "02_judge")


def write_config(tmp_path: Path, base_url: str, *, per_category: int, extra: str = "") -> Path:
    """A run of one priced model, the reference control and one priced judge."""
    path = tmp_path / "est.yaml"
    path.write_text(f"""\
name: est
dataset: {{source: v1.1, per_category: {per_category}, seed: 0}}
models:
  - name: m1
    base_url: {base_url}
    model_id: fake-1
    price: {{prompt: 0.5, completion: 1.5}}
    sampling: {{max_tokens: 512}}{extra}
  - name: reference
    base_url: reference
judges:
  - name: j1
    base_url: {base_url}
    model_id: fake-judge
    price: {{prompt: 2.5, completion: 10.0}}
    max_reasks: 0
concurrency: 4
output: {{run_dir: {tmp_path / "runs" / "est"}, report_dir: {tmp_path / "reports" / "est"}}}
""", encoding="utf-8")
    return path


def test_estimate_is_within_20_percent_of_the_billed_tokens(tmp_path, fault_server):
    """A first small run gives past records; the estimate of a larger run (new questions,
    answers not recorded yet, judged on estimated answers) is then checked against what the
    fault server bills for it, per model and per judge × model."""
    fault_server.configure(answer_bytes=300)
    run_pipeline(write_config(tmp_path, fault_server.base_url, per_category=1),
                 notebooks=STAGES, progress=False)
    config = load_config(write_config(tmp_path, fault_server.base_url, per_category=3))
    before = billed_tokens(config.run_dir)
    rows = estimate_run(config)
    by_key = {(r.role, r.name, r.answers_of): r for r in rows}
    assert by_key[("model", "m1", "")].recorded > 0  # the first run's answers are skipped
    assert "not yet recorded" in by_key[("judge", "j1", "m1")].input_basis
    assert by_key[("model", "reference", "")].input_tokens == 0

    run_pipeline(config, notebooks=STAGES, progress=False)
    table = compare_estimate(rows, before, billed_tokens(config.run_dir))
    table = table[table["role"].eq("judge") | table["name"].eq("m1")]
    assert (table["requests_estimated"] == table["records_written"]).all()
    for column in ("input_error_pct", "output_error_pct", "total_error_pct"):
        assert table[column].abs().max() <= 20, table.to_string()
    assert sum(r.requests for r in estimate_run(config)) == 0  # all recorded now


def test_estimate_without_past_records_bounds_output_and_applies_batch_discount(
        tmp_path, fault_server, capsys):
    path = write_config(tmp_path, fault_server.base_url, per_category=1,
                        extra="\n    backend: batch\n    budget_usd: 5.0")
    rows = {(r.role, r.name, r.answers_of): r for r in estimate_run(path)}
    model = rows[("model", "m1", "")]
    assert model.requests == 8 and model.output_tokens_expected is None
    assert model.output_tokens_bound == 8 * 512
    full = (model.input_tokens * 0.5 + model.output_tokens_bound * 1.5) / 1e6
    assert model.cost_bound_usd == pytest.approx(full * 0.5)  # batch: half price
    judge = rows[("judge", "j1", "m1")]
    assert "max_tokens 512 (upper bound)" in judge.input_basis
    assert rows[("judge", "j1", "reference")].input_basis.endswith("the reference answers")
    assert main(["estimate", str(path), "--csv", str(tmp_path / "e.csv")]) == 0
    out = capsys.readouterr().out
    assert "nothing sent" in out and "$5.0000" in out and "no past records" in out
    assert (tmp_path / "e.csv").read_text(encoding="utf-8").startswith("role,name")
    assert fault_server.stats["total"] == 0 and fault_server.stats["batch"] == {
        "max_submissions": 0}


@pytest.mark.parametrize(("extra", "message"), [
    ("\n    backend: nope", "unknown backend 'nope'"),
    ("\n    budget_usd: 0", "must be > 0"),
    ("\n    price: {prompt: 1, completion: 1, batch_discount: 1.5}", "must be in [0, 1)"),
])
def test_bad_backend_budget_and_price_settings_are_located(tmp_path, extra, message):
    text = write_config(tmp_path, "http://127.0.0.1:9/v1", per_category=1).read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("    price: {prompt: 0.5, completion: 1.5}\n", "")
                    .replace("sampling: {max_tokens: 512}", "sampling: {max_tokens: 512}" + extra),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as exc:
        load_config(path)
    assert exc.value.line is not None


def test_budget_needs_a_price_and_batch_needs_a_remote_url(tmp_path):
    text = write_config(tmp_path, "http://127.0.0.1:9/v1", per_category=1).read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("price: {prompt: 0.5, completion: 1.5}", "budget_usd: 1.0"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="needs a price table"):
        load_config(path)
    path.write_text(text.replace("    model_id: fake-1\n", "    model_id: fake-1\n"
                                 "    backend: batch\n").replace(
        "base_url: http://127.0.0.1:9/v1\n    model_id: fake-1",
        "base_url: local\n    model_id: fake-1"), encoding="utf-8")
    with pytest.raises(ConfigError, match="one remote base_url"):
        load_config(path)
