"""The house's rings, read from the source: no arrow from an inner ring outward, no circle.

core/ (the domain and its rules) <- services/, shared/ (engines, gRPC) <- bootstrap/ (the
composition root: settings, the container, the stage and worker processes) <- api/ (REST,
GraphQL, CLI, web page). Every import counts, at module level or inside a function. An
entry point (``__main__.py``) stands outside every ring: it only starts one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bootstrap.container import ENGINES
from core.stages import PROGRESS_ORDER, SERVED, STAGES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "services", "shared", "bootstrap", "api")
# What each ring may import from the others (itself always).
ALLOWED = {
    "core": set(),
    "shared": {"core"},
    "services": {"core", "shared"},
    "bootstrap": {"core", "services", "shared"},
    "api": {"core", "services", "shared", "bootstrap"},
}
GENERATED = "shared/stubs/callytics"


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(GENERATED) or path.name == "__main__.py":
                continue
            name = rel.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
            found[name] = path
    return found


MODULES = modules()


def imports_of(path: Path) -> set[str]:
    """The project modules ``path`` imports: ``from a.b import c`` counts ``a.b.c`` where that
    is a module, ``a.b`` otherwise (a package's ``__init__`` runs before any of its modules
    and is not counted as imported by them)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def test_the_graph_is_read() -> None:
    assert len(MODULES) > 100
    assert "core.analysis.pipeline" in GRAPH["bootstrap.container"]
    assert "core.domain" in GRAPH["core.analysis.pipeline"]


@pytest.mark.parametrize("ring", PACKAGES)
def test_no_arrow_points_outward(ring: str) -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.split(".")[0] == ring
        for target in targets
        if target.split(".")[0] not in ALLOWED[ring] | {ring}
    )
    assert not wrong, f"{ring} imports an outer ring: {wrong}"


def test_no_import_circle() -> None:
    """Tarjan's strongly connected components: every one must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # recursive; the graph is a few hundred modules deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_one_stage_registry() -> None:
    """The container has an engine for exactly the served stages, in the registry's order,
    and the progress order is the registry's."""
    assert tuple(ENGINES) == SERVED
    assert tuple(s.name for s in STAGES) == PROGRESS_ORDER
    assert len(set(PROGRESS_ORDER)) == len(PROGRESS_ORDER)
