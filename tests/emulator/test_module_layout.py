"""Issue 12's layout rules for the emulator package: no import cycles, test-only code out of the wheel."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import hms_recordings.emulator

PACKAGE = Path(hms_recordings.emulator.__file__).parent


def imports_within_package() -> dict[str, set[str]]:
    """Module -> the sibling modules it imports, counting ``if TYPE_CHECKING:`` imports too (every node is walked)."""
    graph: dict[str, set[str]] = {}
    names = {path.stem for path in PACKAGE.glob("*.py")}
    for path in PACKAGE.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    found.add(node.module.split(".")[0])
                elif node.level == 1:
                    found.update(alias.name for alias in node.names)
                elif node.module and node.module.startswith("hms_recordings.emulator."):
                    found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("hms_recordings.emulator."))
        graph[path.stem] = (found & names) - {path.stem}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph[node]):
            if cycle := visit(target):
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if cycle := visit(start):
            return cycle
    return None


@pytest.mark.requirement("LAYOUT")
def test_emulator_modules_import_each_other_without_a_cycle_even_for_type_checking() -> None:
    """Issue 12: no import cycles, type-only ones included (webhook payloads apart from delivery, admin over state)."""
    graph = imports_within_package()
    assert {"events", "webhooks", "admin", "state", "app"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
    assert "state" not in graph["webhooks"] and "app" not in graph["admin"]


@pytest.mark.requirement("LAYOUT")
def test_the_cycle_finder_reports_a_cycle_it_is_given() -> None:
    """The check above can fail: a two-module loop is found and named."""
    assert find_cycle({"a": {"b"}, "b": {"a"}, "c": set()}) == ["a", "b", "a"]


@pytest.mark.requirement("LAYOUT")
def test_the_requirements_manifest_is_test_code_not_part_of_the_package() -> None:
    """Issue 12: test-only modules live under tests/, out of the wheel."""
    assert importlib.util.find_spec("hms_recordings.emulator.requirements") is None
    assert (Path(__file__).parent / "requirements.py").is_file()
