"""The package's import graph: no cycles (type-only and function-level imports included), and layers respected.

Every ``import`` / ``from ... import`` anywhere in a module counts, because a cycle hidden behind ``TYPE_CHECKING``
or a lazy import is still two modules that cannot be understood (or tested) one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "hms_recordings"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in (SRC / PACKAGE).rglob("*.py")}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an import names: the longest known prefix (``a.b.c`` imported as ``from a.b import c``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                if not target.startswith(PACKAGE):
                    continue
                resolved = _resolve(target, known)
                if resolved and resolved != name and not name.startswith(resolved + "."):
                    graph[name].add(resolved)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return cycles


def test_the_package_has_no_import_cycles() -> None:
    assert find_cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle_it_is_shown() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: Which packages a layer may import. The runtime and the format know nothing of the faces, the server or 100ms.
LAYERS = {
    "hms_recordings.capability": {"hms_recordings.capability", "hms_recordings.errors", "hms_recordings"},
    "hms_recordings.runtime": {
        "hms_recordings.runtime",
        "hms_recordings.capability",
        "hms_recordings.errors",
        "hms_recordings",
    },
    "hms_recordings.faces": {
        "hms_recordings.faces",
        "hms_recordings.runtime",
        "hms_recordings.capability",
        "hms_recordings.errors",
        "hms_recordings.taxonomy",
        "hms_recordings",
    },
}


def _layer_of(module: str) -> str:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return module


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    graph = import_graph()
    allowed = LAYERS[layer]
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if _layer_of(module) == layer
        for target in targets
        if _layer_of(target) not in allowed and target not in allowed
    )
    assert wrong == []


def _string_literals(path: Path) -> list[str]:
    """Every string constant of a module that is not a docstring (docstrings may explain what 100ms does)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


#: What only 100ms code may say: its hosts, its environment variables, the built-in tools' names.
_HMS_WORDS = (
    "100ms.live",
    "HMS_ACCESS_KEY",
    "HMS_APP_SECRET",
    "HMS_MANAGEMENT_TOKEN",
    "hms-start-",
    "hms-stop-",
    "hms-list-",
    "hms-get-",
    "hms-wait-",
    "hms-pause-",
)


@pytest.mark.parametrize("layer", ["capability", "runtime", "faces"])
def test_the_generic_layers_name_no_100ms_host_variable_or_tool(layer: str) -> None:
    found = sorted(
        f"{path.relative_to(SRC)}: {text!r}"
        for path in (SRC / PACKAGE / layer).rglob("*.py")
        for text in _string_literals(path)
        if any(word in text for word in _HMS_WORDS)
    )
    assert found == []
