"""``hms-recordings call TOOL --help``: one tool's arguments, read from the schema it publishes.

Rendered from the compiled tool (the same input schema MCP lists and the invoker validates against), so the help
cannot drift from what ``call`` accepts: each argument with its type, whether it is required, its allowed values,
bounds, pattern and default, and its description.
"""

from __future__ import annotations

import json
from typing import Any

from hms_recordings.capability.model import Capability
from hms_recordings.runtime.inventory import compile_inventory

__all__ = ["tool_help"]


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "|".join(str(v) for v in prop["enum"])
    kind = prop.get("type", "value")
    return "|".join(kind) if isinstance(kind, list) else str(kind)


def _facts(prop: dict[str, Any]) -> list[str]:
    facts = []
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None or high is not None:
        facts.append(f"{'' if low is None else low}..{'' if high is None else high}")
    if "pattern" in prop:
        facts.append(f"pattern {prop['pattern']}")
    if "maxLength" in prop:
        facts.append(f"at most {prop['maxLength']} characters")
    if prop.get("type") == "object":
        facts.append("JSON object")
    if "default" in prop:
        facts.append(f"default {json.dumps(prop['default'])}")
    return facts


def tool_help(capability: Capability, name: str) -> str:
    """The help text of tool ``name``; ``KeyError`` (naming the known tools) when there is none."""
    tools = compile_inventory(capability).tools
    if name not in tools:
        raise KeyError(f"no tool {name!r}; known: {', '.join(tools)}")
    tool = tools[name]
    schema = tool.input_schema
    required = set(schema.get("required") or ())
    props: dict[str, Any] = schema.get("properties") or {}
    usage = " ".join(
        f"--arg {arg}=<{_type(p)}>" if arg in required else f"[--arg {arg}=<{_type(p)}>]" for arg, p in props.items()
    )
    effect = "read-only" if tool.read_only else "writes (changes state upstream)"
    lines = [f"usage: hms-recordings call {name} {usage}".rstrip(), "", tool.tool.description or name, effect, ""]
    lines.append("arguments:" if props else "arguments: none")
    for arg, prop in props.items():
        need = "required" if arg in required else "optional"
        facts = "; ".join([need, *_facts(prop)])
        lines.append(f"  {arg} <{_type(prop)}>  ({facts})")
        if prop.get("description"):
            lines.append(f"      {prop['description']}")
    lines += [
        "",
        "Values after --arg are read by this schema (ids stay strings, numbers and booleans are parsed, objects are",
        "JSON); --args-json passes them all as one JSON object.",
    ]
    return "\n".join(lines)
