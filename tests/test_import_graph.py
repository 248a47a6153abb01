"""No import cycle in the package, counting imports inside functions.

Module names come from file paths only (``a/b/__init__.py`` is ``a.b``), so the check keeps
working when modules move between subpackages. Every ``import`` and ``from ... import`` in a
module counts, at module level or inside a function; relative imports are resolved against
the module's package; ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
else to ``pkg``. Imports under ``if TYPE_CHECKING:`` never run and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import alignbench_utils

PACKAGE = Path(alignbench_utils.__file__).parent


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name → (file, is a package's ``__init__``)."""
    out = {}
    for file in sorted(root.rglob("*.py")):
        parts = list(file.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (file, is_package)
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the package modules it imports (anywhere in its file)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, (file, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        skipped = _type_checking_nodes(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        edges.add(sub)
                    elif target in modules:
                        edges.add(target)
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    graph = import_graph()
    assert "alignbench_utils.data.records" in graph["alignbench_utils.stages.judge"]
    assert "alignbench_utils.data.official" in graph["alignbench_utils.analysis.aggregate"]  # in a function
    assert len(graph) > 60


def test_find_cycle_reports_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_config_imports_no_stage_and_no_runtime_module():
    graph = import_graph()
    config = next(m for m in graph if m.rsplit(".", 1)[-1] == "config")
    reached = {m.rsplit(".", 1)[-1] for m in _reachable(graph, config)}
    forbidden = {"generate", "judge", "compare", "judge_eval", "estimate",
                 "pairwise_leaderboard", "engine", "client", "budget", "http", "batch",
                 "pipeline", "cli"}
    assert not reached & forbidden, sorted(reached & forbidden)


def test_the_folders_show_the_layers():
    """At most 15 modules at the top of the package; the rest live in a layer's folder."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(top) <= 15, top
    layers = {"stages", "protocols", "backends", "running", "data", "judgebench", "analysis",
              "report", "local", "testing"}
    assert layers <= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    graph = import_graph()
    assert not any(m.startswith(f"{PACKAGE.name}.analysis") for m in
                   graph[f"{PACKAGE.name}.data.records"] | graph[f"{PACKAGE.name}.data.store"])
