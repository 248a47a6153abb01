"""Run YAML validation: shipped files load, bad files fail with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignbench_utils.config import ConfigError, load_config
from alignbench_utils.paths import REPO_ROOT

SHIPPED = sorted((REPO_ROOT / "runs").glob("*.yaml"))

BASE = """\
name: t
dataset:
  per_category: 2
models:
  - name: m
    base_url: http://127.0.0.1:9/v1
    model_id: m-1
    api_key_env: SOME_KEY
    sampling:
      temperature: 0.3
judges:
  - name: j
    base_url: [http://127.0.0.1:9/v1, http://127.0.0.1:10/v1]
    model_id: j-1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configs_are_valid():
    names = {p.stem for p in SHIPPED}
    assert {"demo", "example-openai", "example-vllm"} <= names
    for path in SHIPPED:
        cfg = load_config(path)
        assert cfg.name == path.stem
        assert all(not spec.api_key_env or spec.api_key_env.isupper()
                   for spec in [*cfg.models, *cfg.judges])


def test_demo_is_local_with_reference_and_structured_judge():
    cfg = load_config(REPO_ROOT / "runs" / "demo.yaml")
    assert cfg.uses_local
    assert [m.base_url for m in cfg.models] == ["local", "reference"]
    assert cfg.judges[0].base_url == "local" and cfg.judges[0].structured != "none"
    assert cfg.dataset.per_category == 1 and cfg.judges[0].samples == 2
    assert cfg.run_dir == (Path.cwd() / "runs" / "demo").resolve()


def test_vllm_example_has_several_base_urls():
    cfg = load_config(REPO_ROOT / "runs" / "example-vllm.yaml")
    assert isinstance(cfg.models[0].base_url, list) and len(cfg.models[0].base_url) == 2
    assert cfg.second_judge == cfg.judges[1].name


def test_valid_config_types_and_defaults(tmp_path):
    cfg = load_config(write(tmp_path, BASE))
    assert cfg.models[0].sampling.temperature == 0.3
    assert cfg.models[0].sampling.max_tokens == 2048
    assert cfg.models[0].timeout_s == 120.0
    assert cfg.judges[0].base_url == ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"]
    assert cfg.statistics.n_boot >= 1 and cfg.statistics.correction == "holm"
    assert not cfg.uses_local and cfg.second_judge is None
    assert "source_path" not in cfg.to_dict()
    assert (cfg.figures.width, cfg.figures.formats) == ("page", ["pdf", "svg", "png"])
    assert (cfg.tables.english, cfg.tables.decimals) == (False, 2)


@pytest.mark.parametrize("old, new, field, line, words", [
    ("      temperature: 0.3", "      temprature: 0.3", "models[0].sampling.temprature", 10,
     "did you mean 'temperature'"),
    ("      temperature: 0.3", "      temperature: hot", "models[0].sampling.temperature", 10,
     "expected float or null"),
    ("    model_id: m-1\n", "", "models[0].model_id", 5, "required for a remote endpoint"),
    ("  - name: m\n", "  - base_url: x\n", "models[0]", 5, "missing required key 'name'"),
    ("  per_category: 2", "  per_category: two", "dataset.per_category", 3, "expected int"),
    ("    api_key_env: SOME_KEY", "    api_key_env: sk-abc123", "models[0].api_key_env", 8,
     "NAME of an environment variable"),
    ("    base_url: http://127.0.0.1:9/v1", ("    base_url: reference\n  - name: m\n"
     "    base_url: reference"), "models[1].name", 7, "duplicate name 'm'"),
    ("  - name: j\n", "  - name: j/../x\n", "judges[0].name", 12, "file name"),
    ("judges:\n", "figures:\n  width: half\njudges:\n", "figures.width", 12,
     "expected one of 'column', 'page'"),
    ("judges:\n", "figures:\n  formats: [pdf, jpg]\njudges:\n", "figures.formats[1]", 12,
     "unknown format 'jpg'; allowed: pdf, svg, png"),
    ("judges:\n", "figures:\n  formats: []\njudges:\n", "figures.formats", 12,
     "needs at least one of pdf, svg, png"),
    ("judges:\n", "tables:\n  decimals: 9\njudges:\n", "tables.decimals", 12,
     "between 0 and 6"),
])
def test_errors_name_file_line_and_key_path(tmp_path, old, new, field, line, words):
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.field == field, str(err)
    assert err.line == line, str(err)
    assert err.path == str(path)
    assert words in str(err) and str(path) in str(err)


def test_judge_cannot_be_reference(tmp_path):
    text = BASE.replace("    base_url: [http://127.0.0.1:9/v1, http://127.0.0.1:10/v1]",
                        "    base_url: reference")
    with pytest.raises(ConfigError, match="judge cannot be the reference"):
        load_config(write(tmp_path, text))


def test_yaml_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE + "concurrency: [1, 2\n"))
    assert info.value.line is not None and "not valid YAML" in str(info.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="no such run config"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="empty"):
        load_config(write(tmp_path, "# nothing\n"))
