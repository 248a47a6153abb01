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
    maps to the submodule (relative, e.g. ``".analysis.aggregate"``) that defines them; a name
    that is its submodule's own name (``"stats": ".analysis.stats"``) is the submodule.

    >>> getattr_, dir_ = lazy_exports("alignbench_utils", {"leaderboard": ".analysis.aggregate",
    ...                                                    "stats": ".analysis.stats"})
    >>> getattr_("leaderboard").__module__, getattr_("stats").__name__
    ('alignbench_utils.analysis.aggregate', 'alignbench_utils.analysis.stats')
    >>> getattr_("nothing")
    Traceback (most recent call last):
    ...
    AttributeError: module 'alignbench_utils' has no attribute 'nothing'
    """
    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name], package)
        return module if module.__name__.rpartition(".")[2] == name else getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
