"""Backends, registered by name: ``http`` (any OpenAI-compatible endpoint), ``batch`` (its
Batch API: files + batches, at the batch price) and ``reference`` (the reference-answer
control). See :mod:`.base` for the interface."""

from alignbench_utils.backends import batch, http, reference  # noqa: F401  (registers the built-in backends)
from alignbench_utils.backends.base import BACKENDS, Backend, open_backend, register_backend

__all__ = ["BACKENDS", "Backend", "open_backend", "register_backend"]
