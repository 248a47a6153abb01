"""Start and stop the embedded local OpenAI-compatible server (llama.cpp ``llama-server``).

Why: ``base_url: local`` must run the whole benchmark offline, like a database project that
defaults to SQLite. The server is a child process in its own process group, bound to
127.0.0.1 on a free port; it is stopped (terminate, wait, kill the group) when the
``with`` block ends for any reason, by a finalizer at interpreter exit, and, when started
from the main thread, by the kernel if this process dies (``PR_SET_PDEATHSIG``), so it
never outlives its owner. llama-server honours ``response_format`` json_schema and
``grammar``, which small local judges need to emit parseable scores.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from alignbench_utils.errors import RunError
from alignbench_utils.local.llama_build import ensure_llama_server, find_llama_server
from alignbench_utils.local.local_models import (
    LocalSetupError,
    cache_dir,
    fetch_model,
    is_model_ready,
    model_path,
    model_spec,
    tail,
)

__all__ = [
    "LocalServer",
    "LocalServerError",
    "free_port",
    "is_setup_complete",
    "serve_local",
    "server_command",
    "setup_local",
]

_STOP_TIMEOUT_S = 10.0


class LocalServerError(RunError):
    """The local server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_local(model: str = "0.5b", *, log: Callable[[str], None] = print) -> tuple[Path, Path]:
    """Build/find the server binary and fetch+verify the model; returns (binary, model file).

    Idempotent and fast when both are cached. The model downloads while the server builds
    (network against CPU: the fetch's 8 s come off a fresh setup).
    """
    spec = model_spec(model)
    with ThreadPoolExecutor(1) as pool:
        model_file = pool.submit(fetch_model, spec, log=log)
        return ensure_llama_server(log=log), model_file.result()


def is_setup_complete(model: str = "0.5b") -> bool:
    """Whether :func:`setup_local` would do nothing (binary runs, model verified)."""
    try:
        return find_llama_server() is not None and is_model_ready(model_spec(model))
    except LocalSetupError:
        return False


def server_command(binary: Path, model_file: Path, *, model_id: str, chat_template: str,
                   port: int, parallel: int, ctx: int,
                   flags: tuple[str, ...] = ()) -> list[str]:
    """The llama-server command line; extra ``flags`` come last.

    ``--no-jinja`` comes before ``--chat-template`` so the named built-in template is used
    rather than the GGUF's Jinja one; ``-c`` is the total context, split across slots.

    >>> cmd = server_command(Path("s"), Path("m.gguf"), model_id="q", chat_template="chatml",
    ...                      port=8080, parallel=4, ctx=16384)
    >>> cmd[:6], cmd[-1]
    (['s', '-m', 'm.gguf', '--alias', 'q', '--host'], '--cache-prompt')
    """
    return [str(binary), "-m", str(model_file), "--alias", model_id,
            "--host", "127.0.0.1", "--port", str(port),
            "-c", str(ctx), "-np", str(parallel),
            "--no-jinja", "--chat-template", chat_template, "--no-webui",
            "--cache-prompt",  # a prompt prefix evaluated before is reused
            *flags]


def _load_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # loaded in the parent: the forked child only makes the call


def _die_with_parent() -> None:
    """Child side: ask the kernel for SIGTERM when the parent thread dies (Linux only)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_group(proc: subprocess.Popen, log_file: TextIO) -> None:
    """Terminate, wait, then kill the server's process group; safe to call twice."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_STOP_TIMEOUT_S)
    with contextlib.suppress(Exception):
        log_file.close()


class LocalServer:
    """A llama-server child process; a context manager that starts it and always stops it.

    ``base_url`` (``http://127.0.0.1:PORT/v1``), ``model_id`` and ``log_path`` are set
    once started. ``model_file`` serves any GGUF instead of a registered model; ``flags``
    are added to the command line (benchmarks compare settings with them).
    """

    def __init__(self, model: str = "0.5b", *, log_dir: str | os.PathLike | None = None,
                 parallel: int = 4, ctx: int = 16384, port: int | None = None,
                 startup_timeout_s: float = 180.0, setup: bool = True,
                 model_file: str | os.PathLike | None = None,
                 flags: tuple[str, ...] = (),
                 log: Callable[[str], None] = print) -> None:
        self.spec = model_spec(model)
        self.model_id = Path(model_file).stem if model_file else self.spec.model_id
        self.model_file = Path(model_file) if model_file else None
        self.log_dir = Path(log_dir) if log_dir else cache_dir() / "logs"
        self.parallel, self.ctx, self.port = parallel, ctx, port
        self.startup_timeout_s = startup_timeout_s
        self.setup, self.flags, self._log = setup, flags, log
        self.log_path: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``.../v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """The server's process id (also its process group id), None before start."""
        return self.proc.pid if self.proc else None

    def _resolve(self) -> tuple[Path, Path]:
        if self.model_file:
            binary = ensure_llama_server(log=self._log) if self.setup else find_llama_server()
            model_file = self.model_file
        elif self.setup:
            binary, model_file = setup_local(self.spec.name, log=self._log)
        else:
            binary, model_file = find_llama_server(), model_path(self.spec)
            binary = binary if is_model_ready(self.spec) else None
        if binary is None:
            raise LocalSetupError(f"local model {self.spec.name!r} is not set up; run "
                                  f"`alignbench setup-local --model {self.spec.name}`")
        return binary, model_file

    def start(self) -> Self:
        """Start the server and wait until ``GET /health`` answers 200 (bounded in time)."""
        if self.proc is not None:
            raise RuntimeError("this LocalServer was already started")
        binary, model_file = self._resolve()
        self.port = self.port or free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.log_path = self.log_dir / f"llama-server-{self.spec.name}-{stamp}-{self.port}.log"
        cmd = server_command(binary, model_file, model_id=self.model_id,
                             chat_template=self.spec.chat_template, port=self.port,
                             parallel=self.parallel, ctx=self.ctx, flags=self.flags)
        log_file = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed on stop)
        log_file.write(f"$ {' '.join(cmd)}\n")
        log_file.flush()
        # Only from the main thread: PDEATHSIG fires when the spawning *thread* exits.
        main = threading.current_thread() is threading.main_thread()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent if main else None)  # noqa: PLW1509
        self._finalizer = weakref.finalize(self, _stop_group, self.proc, log_file)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None and self.log_path is not None
        url = f"http://127.0.0.1:{self.port}/health"
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LocalServerError(
                    f"llama-server exited with code {self.proc.returncode} during startup; "
                    f"last lines of {self.log_path}:\n{tail(self.log_path)}")
            with contextlib.suppress(urllib.error.URLError, OSError), \
                    urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.2)
        raise LocalServerError(f"llama-server not healthy after {self.startup_timeout_s:.0f} s; "
                               f"last lines of {self.log_path}:\n{tail(self.log_path)}")

    def stop(self) -> None:
        """Stop the server and its process group (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_local(model: str = "0.5b", *, log_dir: str | os.PathLike | None = None,
                parallel: int = 4, ctx: int = 16384, port: int | None = None,
                startup_timeout_s: float = 180.0, **kwargs: Any) -> LocalServer:
    """A :class:`LocalServer` to use as ``with serve_local() as srv: ... srv.base_url``.

    Setup (build + fetch) runs on entry if needed; ``setup=False`` fails fast instead.
    """
    return LocalServer(model, log_dir=log_dir, parallel=parallel, ctx=ctx, port=port,
                       startup_timeout_s=startup_timeout_s, **kwargs)
