"""The tool surface as data: what ``tools --json`` prints, what the committed snapshot holds, and the README table.

``tests/builtin/test_surface_snapshot.py`` fails when the code, ``tests/snapshots/tools.json`` and the README's table
disagree; ``UPDATE_SNAPSHOTS=1`` rewrites the snapshot and the table for review as a diff.
"""

from __future__ import annotations

from typing import Any

from hms_recordings.faces.mcp import describe_tools
from hms_recordings.runtime.engine import Engine

__all__ = ["README_END", "README_START", "readme_table", "replace_readme_table", "tool_surface"]

README_START = "<!-- tools:start (generated from tests/snapshots/tools.json; UPDATE_SNAPSHOTS=1 pytest rewrites it) -->"
README_END = "<!-- tools:end -->"


def tool_surface(engine: Engine) -> list[dict[str, Any]]:
    surface = describe_tools(engine)
    for entry in surface:
        compiled = engine.all_tools[entry["name"]]
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


def replace_readme_table(readme: str, table: str) -> str:
    start, end = readme.index(README_START), readme.index(README_END)
    return readme[: start + len(README_START)] + "\n" + table + "\n" + readme[end:]
