"""Lazy public names of a package: a submodule is imported when one of its names is first used.

``alignbench judge`` must not pay for pandas, scipy and statsmodels to do nothing (issue 25):
the package ``__init__`` re-exports names from the science modules, so importing any
submodule would load them all. A package instead lists where each public name lives and takes
:func:`lazy_exports`'s ``__getattr__`` and ``__dir__`` (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package`` whose public names ``exports``
    maps to the submodule (relative, e.g. ``".aggregate"``) that defines them.

    >>> getattr_, dir_ = lazy_exports("alignbench_utils", {"leaderboard": ".aggregate"})
    >>> getattr_("leaderboard").__module__
    'alignbench_utils.analysis.aggregate'
    >>> getattr_("nothing")
    Traceback (most recent call last):
    ...
    AttributeError: module 'alignbench_utils' has no attribute 'nothing'
    """
    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name], package), name)

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
