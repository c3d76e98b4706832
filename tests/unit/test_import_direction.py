"""Imports point one way (docs/architecture.md, "Layers"): `app.py`, then `api/`, then the feature
packages (reporting, webhooks, report_providers, oauth) and services, then `auth/` and `events/`, then `store/`, then `dicom/`, with the leaf
utilities (config, errors, clock, booleans, outbound, collector, allocator) below everything. A module imports its own
layer or a lower one, never a higher one, and no two modules or packages import each other, even
through others and even inside a function. Read from the source (AST), nothing is imported."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Highest first. A package of `chalicelib/` in no layer fails `test_every_package_has_a_layer`.
LAYERS: list[tuple[str, ...]] = [
    ("app",),
    ("api",),
    ("services", "reporting", "webhooks", "report_providers", "oauth"),
    ("serializers",),
    ("auth", "events"),
    ("store",),
    ("dicom",),
    ("config", "errors", "clock", "booleans", "outbound", "collector", "allocator"),
]
RANK = {room: len(LAYERS) - i for i, rooms in enumerate(LAYERS) for room in rooms}

# Known exceptions, each with its reason: (importer, imported) module names. Empty: none left.
DEBT: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in (ROOT / "chalicelib").rglob("*.py")}
    found["app"] = ROOT / "app.py"
    return found


def _imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, anywhere in the file (functions and TYPE_CHECKING too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets.add(base)
            targets |= {f"{base}.{alias.name}" for alias in node.names}
    return {t for t in targets if t in known and t != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, set(modules)) for name, path in modules.items()}


def room(module: str) -> str:
    """The layer member a module belongs to: `chalicelib.store.users` -> `store`, `app` -> `app`."""
    parts = module.split(".")
    return parts[1] if parts[0] == "chalicelib" and len(parts) > 1 else parts[0]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_debt(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if (m, t) not in DEBT} for m, targets in graph.items()}


def test_every_package_has_a_layer():
    assert sorted({room(m) for m in _modules()} - set(RANK) - {"chalicelib"}) == []


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} -> {t}" for m, targets in _without_debt(_graph()).items() for t in sorted(targets)
              if room(t) != "chalicelib" and RANK.get(room(m), 0) < RANK.get(room(t), 0)]
    assert sorted(upward) == []


def test_no_import_cycle_between_modules():
    assert _cycles(_without_debt(_graph())) == []


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _without_debt(_graph()).items():
        packages[room(module)] |= {room(t) for t in targets if room(t) not in (room(module), "chalicelib")}
    assert _cycles(dict(packages)) == []


def test_the_checks_see_an_upward_import_and_a_cycle():
    graph = {"chalicelib.store.x": {"chalicelib.api.y"}, "chalicelib.api.y": {"chalicelib.store.x"}}
    assert _cycles(graph) == [["chalicelib.api.y", "chalicelib.store.x"]]
    assert RANK[room("chalicelib.store.x")] < RANK[room("chalicelib.api.y")]
    assert "chalicelib.store.users" in _graph()["chalicelib.auth.issued"]
