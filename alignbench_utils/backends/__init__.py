"""Backends, registered by name: ``http`` (any OpenAI-compatible endpoint) and
``reference`` (the reference-answer control). See :mod:`.base` for the interface."""

from . import http, reference  # noqa: F401  (registers the built-in backends)
from .base import BACKENDS, Backend, open_backend, register_backend

__all__ = ["BACKENDS", "Backend", "open_backend", "register_backend"]
