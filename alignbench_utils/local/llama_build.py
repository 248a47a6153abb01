"""Find or build the ``llama-server`` binary that serves the embedded default model.

Why build from source: prebuilt wheels on PyPI were compiled with ``-march=native`` for
someone else's CPU and can die with an illegal instruction here. Building only the
``llama-server`` target from the pinned llama.cpp sources (about 3 min on 2 cores) gives a
static binary for *this* machine, cached under
``<cache>/bin/llama-server-<version>-<flavour>-<flags hash>`` with its build log. The
registry's ``build_tuning`` CMake file (``llama_build.cmake``) shortens the build by compiling
the code off the token path with less optimisation, without patching the sources.
``GGML_NATIVE=ON`` without AMX (default; see ``local_models.json``) is safe because the binary is built on,
and cached for, the machine that runs it; a cached binary that no longer runs (e.g. a
cache shared with another CPU) is rebuilt. ``ALIGNBENCH_LLAMA_NATIVE=0`` builds a portable
x86-64 binary instead; ``ALIGNBENCH_LLAMA_SERVER=/path/to/llama-server`` skips the build.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

from alignbench_utils.local.local_models import (
    REGISTRY,
    LocalSetupError,
    ServerSource,
    cache_dir,
    file_lock,
    server_source,
    tail,
)

__all__ = [
    "binary_dir",
    "build_flags",
    "build_llama_server",
    "ensure_llama_server",
    "find_llama_server",
    "native_build",
    "runs",
    "tuning_file",
]

_CHUNK = 4 << 20


def native_build(value: str | None = None) -> bool:
    """Whether to tune for this CPU: ``value`` or ``$ALIGNBENCH_LLAMA_NATIVE``, default on.

    >>> native_build("0"), native_build("off"), native_build("ON"), native_build("1")
    (False, False, True, True)
    """
    value = os.environ.get("ALIGNBENCH_LLAMA_NATIVE", "1") if value is None else value
    return value.strip().lower() not in {"0", "off", "false", "no"}


def tuning_file(source: ServerSource) -> Path:
    """The CMake file that tunes the build (``build_tuning``, relative to the registry)."""
    return REGISTRY.parent / source.build_tuning


def _recipe_flags(source: ServerSource, native: bool) -> list[str]:
    return [*source.cmake_flags,
            *(source.native_cmake_flags if native else source.portable_cmake_flags)]


def build_flags(source: ServerSource, native: bool) -> list[str]:
    """The CMake flags of a ``native`` or portable build of ``source``."""
    return [*_recipe_flags(source, native), f"-DCMAKE_PROJECT_INCLUDE={tuning_file(source)}"]


def binary_dir(source: ServerSource, native: bool) -> Path:
    """Cache folder of the binary built from ``source``, keyed by version, flavour and a hash
    of the build flags and the tuning file's text (not its path, which differs between
    checkouts), so that a binary built otherwise is never reused."""
    flavour = "native" if native else "portable"
    digest = hashlib.sha256("\n".join(_recipe_flags(source, native)).encode())
    digest.update(tuning_file(source).read_bytes())
    return cache_dir() / "bin" / f"llama-server-{source.version}-{flavour}-{digest.hexdigest()[:8]}"


def runs(binary: Path) -> bool:
    """Whether ``binary --version`` exits cleanly (catches a binary built for another CPU)."""
    try:
        proc = subprocess.run([str(binary), "--version"], check=False, capture_output=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def find_llama_server(*, native: bool | None = None) -> Path | None:
    """The usable binary: ``$ALIGNBENCH_LLAMA_SERVER`` or the cached build, else None."""
    override = os.environ.get("ALIGNBENCH_LLAMA_SERVER")
    if override:
        if not runs(Path(override)):
            raise LocalSetupError(f"ALIGNBENCH_LLAMA_SERVER={override} does not run "
                                  "(`--version` failed)")
        return Path(override)
    native = native_build() if native is None else native
    binary = binary_dir(server_source(), native) / "llama-server"
    return binary if binary.is_file() and runs(binary) else None


def _download(source: ServerSource, dest: Path, timeout_s: float) -> Path:
    tarball = dest / Path(source.sdist_url).name
    digest = hashlib.sha256()
    with urllib.request.urlopen(source.sdist_url, timeout=timeout_s) as resp, \
            open(tarball, "wb") as fh:
        while chunk := resp.read(_CHUNK):
            digest.update(chunk)
            fh.write(chunk)
    size, got = tarball.stat().st_size, digest.hexdigest()
    if (size, got) != (source.sdist_bytes, source.sdist_sha256):
        raise LocalSetupError(f"{source.sdist_url}: {size} bytes, sha256 {got}; expected "
                              f"{source.sdist_bytes} bytes, sha256 {source.sdist_sha256}")
    return tarball


def _extract(tarball: Path, dest: Path, subdir: str) -> Path:
    with tarfile.open(tarball) as tar:
        top = tar.getmembers()[0].name.split("/")[0]
        prefix = f"{top}/{subdir}/"
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(dest, members=members, filter="data")
    return dest / top / subdir


def _run_logged(cmd: list[str], log: IO[str], deadline: float) -> None:
    """Run ``cmd`` into ``log``; on timeout kill its whole process group (make, compilers)."""
    log.write(f"$ {shlex.join(cmd)}\n")
    log.flush()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise LocalSetupError(f"build step timed out: {shlex.join(cmd)}") from None
    if code != 0:
        raise LocalSetupError(f"build step failed (exit {code}): {shlex.join(cmd)}")


def build_llama_server(*, native: bool | None = None, jobs: int | None = None,
                       log: Callable[[str], None] = print, timeout_s: float = 3600.0) -> Path:
    """Download the pinned sources, build ``llama-server`` and cache it; returns its path."""
    native = native_build() if native is None else native
    source = server_source()
    jobs = jobs or os.cpu_count() or 2
    out_dir = binary_dir(source, native)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "build.log"
    start = time.monotonic()
    deadline = start + timeout_s
    flags = build_flags(source, native)
    log(f"building llama-server {source.version} ({'native' if native else 'portable'}, "
        f"-j{jobs}); log: {log_path}")
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".build-") as tmp, \
            open(log_path, "w", encoding="utf-8") as fh:
        try:
            fh.write(f"# llama-server from {source.sdist_url}\n")
            src = _extract(_download(source, Path(tmp), timeout_s=300), Path(tmp),
                           source.source_subdir)
            build = Path(tmp) / "build"
            _run_logged(["cmake", "-S", str(src), "-B", str(build), *flags], fh, deadline)
            _run_logged(["cmake", "--build", str(build), "--config", "Release",
                         "--target", source.target, "-j", str(jobs)], fh, deadline)
        except (LocalSetupError, OSError) as exc:
            fh.flush()
            raise LocalSetupError(f"{exc}\nlast lines of {log_path}:\n{tail(log_path)}") from exc
        partial = out_dir / "llama-server.partial"
        shutil.copy2(build / "bin" / source.target, partial)
        os.replace(partial, out_dir / "llama-server")
        fh.write(f"# built in {time.monotonic() - start:.0f} s\n")
    binary = out_dir / "llama-server"
    if not runs(binary):
        raise LocalSetupError(f"the freshly built {binary} does not run; see {log_path}")
    log(f"llama-server ready: {binary} (built in {time.monotonic() - start:.0f} s)")
    return binary


def ensure_llama_server(*, native: bool | None = None, log: Callable[[str], None] = print,
                        timeout_s: float = 3600.0) -> Path:
    """The binary, building it once if needed (idempotent, safe across processes)."""
    found = find_llama_server(native=native)
    if found:
        return found
    with file_lock("llama-server"):
        return find_llama_server(native=native) or build_llama_server(
            native=native, log=log, timeout_s=timeout_s)
