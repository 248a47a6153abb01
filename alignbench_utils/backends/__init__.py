"""Backends, registered by name: ``http`` (any OpenAI-compatible endpoint), ``batch`` (its
Batch API: files + batches, at the batch price) and ``reference`` (the reference-answer
control), each imported when first opened. See :mod:`.base` for the interface and the types
every backend shares, :mod:`.settings` for backends' own options."""

from alignbench_utils.backends.base import (
    BACKENDS,
    BUILTIN_BACKENDS,
    Backend,
    CallError,
    CallResult,
    backend_names,
    open_backend,
    register_backend,
)
from alignbench_utils.backends.settings import BackendSettings, BatchSettings

__all__ = ["BACKENDS", "BUILTIN_BACKENDS", "Backend", "BackendSettings", "BatchSettings",
           "CallError", "CallResult", "backend_names", "open_backend", "register_backend"]
