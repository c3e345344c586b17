"""The layering rules of docs/architecture.md, checked on the source.

The import graph is read from every module's syntax tree (module-level *and* function-level
imports, so a lazy import cannot hide a cycle), without importing anything.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import quantlib

ROOT = Path(quantlib.__file__).resolve().parent

#: Packages that compute: they read data and return numbers, tables and plans.
ENGINE_PACKAGES = ("data", "kpi", "forecast", "customers", "ops", "pricing", "finance", "risk", "maintenance",
                   "connectors")
#: Packages that deliver what the engines compute to people and machines.
DELIVERY_PACKAGES = ("viz", "publish", "apps", "api", "cli", "schedule", "alerts", "notify", "stream")
#: What a module of a domain's ``views/`` may not import either: views build tables and charts,
#: they neither run, publish nor serve.
FORBIDDEN_IN_ENGINES = tuple(f"quantlib.{name}" for name in DELIVERY_PACKAGES)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Every quantlib module ``name`` imports (resolved to modules, not to names inside them)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            # ``from a.b import c`` imports a.b, and a.b.c when c is a module.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("quantlib") and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _is_package_of(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), ignoring the edge from a
    module to a package ``__init__`` that contains it (Python runs the parent first, not a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def edges(v: str):
        return [w for w in graph[v] if not _is_package_of(w, v) and not _is_package_of(v, w)]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_lazy_imports():
    # A function-level import counts: the checker would miss cycles otherwise.
    assert "quantlib.data.gold" in GRAPH["quantlib.kpi.registry"]
    assert any("quantlib.customers" in m for m in GRAPH["quantlib.apps.churn_explorer"])


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"p": set(), "p.x": {"p"}, "p.y": {"p.x"}}) == []


def test_no_import_cycle_in_quantlib():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("package", ENGINE_PACKAGES)
def test_engines_import_no_delivery_package(package):
    offenders = {
        module: sorted(t for t in targets if t.startswith(FORBIDDEN_IN_ENGINES))
        for module, targets in GRAPH.items()
        if _is_package_of(f"quantlib.{package}", module)
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_the_toolkit_and_core_modules_import_no_engine_or_delivery_package():
    # quantlib.views, quantlib.parameters, quantlib.config and quantlib.errors sit under every layer.
    lower = [m for m in GRAPH if _is_package_of("quantlib.views", m)
             or m in ("quantlib.parameters", "quantlib.config", "quantlib.errors")]
    layered = tuple(f"quantlib.{p}" for p in ENGINE_PACKAGES + DELIVERY_PACKAGES)
    assert {m: sorted(t for t in GRAPH[m] if t.startswith(layered)) for m in lower
            if any(t.startswith(layered) for t in GRAPH[m])} == {}


def test_apps_live_in_quantlib_apps():
    # An ipywidgets app anywhere else would make an engine depend on the widget stack.
    users = sorted(name for name, path in MODULES.items()
                   if "ipywidgets" in path.read_text(encoding="utf-8") and not _is_package_of("quantlib.apps", name))
    assert users == []


def test_every_module_imports():
    for info in pkgutil.walk_packages(quantlib.__path__, "quantlib."):
        if not info.name.endswith(".__main__"):  # runs the CLI
            importlib.import_module(info.name)


def test_every_test_module_imports_under_its_package_name():
    # Without __init__.py two test files of the same name in different folders would clash.
    tests_root = Path(__file__).resolve().parent
    folders = {p.parent for p in tests_root.rglob("test_*.py")}
    assert sorted(str(f.relative_to(tests_root)) for f in folders if not (f / "__init__.py").is_file()) == []
