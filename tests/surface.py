"""The tool surface and the command synopsis as data: what ``tools --json`` prints, the snapshot, the README.

``tests/builtin/test_surface_snapshot.py`` fails when the code, ``tests/snapshots/tools.json`` and the README's table
disagree; ``UPDATE_SNAPSHOTS=1`` rewrites the snapshot and the table for review as a diff.
"""

from __future__ import annotations

from typing import Any

from hms_recordings.faces.mcp import describe_tools
from hms_recordings.runtime.inventory import Inventory

__all__ = [
    "README_END",
    "README_START",
    "SYNOPSIS_END",
    "SYNOPSIS_START",
    "readme_table",
    "replace_between",
    "replace_readme_table",
    "tool_surface",
]

README_START = "<!-- tools:start (generated from tests/snapshots/tools.json; UPDATE_SNAPSHOTS=1 pytest rewrites it) -->"
README_END = "<!-- tools:end -->"
SYNOPSIS_START = "<!-- synopsis:start (generated from the argument parser; UPDATE_SNAPSHOTS=1 pytest rewrites it) -->"
SYNOPSIS_END = "<!-- synopsis:end -->"


def tool_surface(inventory: Inventory) -> list[dict[str, Any]]:
    """Every tool of the inventory as ``tools/list`` shows it, plus the toolset it belongs to."""
    surface = describe_tools(list(inventory.tools.values()))
    for entry in surface:
        compiled = inventory.tools[entry["name"]]
        if compiled.tool.toolset:
            entry["toolset"] = compiled.tool.toolset
    return surface


def _arguments(schema: dict[str, Any]) -> str:
    required = set(schema.get("required") or [])
    names = [f"`{name}`" + ("" if name in required else "?") for name in (schema.get("properties") or {})]
    return ", ".join(names) or "none"


def readme_table(surface: list[dict[str, Any]]) -> str:
    rows = ["| tool | toolset | read-only | arguments (`?` optional) | what it does |", "|---|---|---|---|---|"]
    for tool in surface:
        annotations = tool.get("annotations", {})
        read_only = "yes" if annotations.get("readOnlyHint") else "no"
        first = tool["description"].split(". ")[0].rstrip(".") + "."
        rows.append(
            f"| `{tool['name']}` | {tool.get('toolset', '')} | {read_only} | "
            f"{_arguments(tool['inputSchema'])} | {first.replace('|', '/')} |"
        )
    return "\n".join(rows)


def replace_between(text: str, start_marker: str, end_marker: str, body: str) -> str:
    start, end = text.index(start_marker), text.index(end_marker)
    return text[: start + len(start_marker)] + "\n" + body + "\n" + text[end:]


def replace_readme_table(readme: str, table: str) -> str:
    return replace_between(readme, README_START, README_END, table)
