"""Arguments as they arrive, made ready for validation: one schema-driven coercion and the hostile-input checks.

Every face hands the invoker what it received. Values that arrived as *text* (CLI ``--arg``, REST path, query and
header parameters, URI template variables of a resource) are read by the schema: ``"10"`` is an integer where the
schema says ``integer``, stays ``"10"`` where it says ``string`` (so a 24-digit id is never turned into a number), and
an ``object`` or ``array`` is read as JSON. JSON values (MCP arguments, REST bodies, ``--args-json``) are never
coerced: a JSON caller says what it means.

Before the schema sees anything, the whole value is walked once, iteratively (no recursion to exhaust), and refused
with :class:`~hms_recordings.errors.ToolInputError` when it is nested deeper than ``max_depth``, holds more than
``max_nodes`` values, holds a non-finite number (``NaN``, ``Infinity``: JSON has none, Python's decoder accepts them),
or holds a string or key that is not valid Unicode text (a lone UTF-16 surrogate such as ``\\ud800``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from hms_recordings.errors import ToolInputError

__all__ = ["ArgumentLimits", "check_value", "coerce_text", "prepare_arguments"]

_INTEGER = re.compile(r"[+-]?\d{1,18}")


@dataclass(frozen=True)
class ArgumentLimits:
    max_depth: int = 32  # nesting of objects and arrays; the built-in tools need 4
    max_nodes: int = 10_000  # values in all, keys included


def coerce_text(value: Any, prop: dict[str, Any]) -> Any:
    """A text value read as the schema's type; left as it is when it does not read as one, so that the validator
    reports the type error in its usual words."""
    items: dict[str, Any] = prop["items"] if isinstance(prop.get("items"), dict) else {}
    if isinstance(value, list):
        return [coerce_text(v, items) for v in value]
    if not isinstance(value, str):
        return value
    kind = prop.get("type")
    text = value.strip()
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number":
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if kind == "boolean" and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1")
    if kind in ("object", "array") and text[:1] in "{[":
        try:
            return json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return value
    if kind == "array":
        return [coerce_text(value, items)]
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _bad_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_value(value: Any, limits: ArgumentLimits, *, what: str = "the arguments") -> None:
    """Refuse values no schema should have to look at (see the module docstring); iterative, bounded work."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    nodes = 0
    while stack:
        node, depth, where = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            container = re.sub(r"\[\d+\]$", "", where)  # the list or object that holds too many values
            at = f" (at `{container}`)" if container else ""
            raise ToolInputError(
                f"{what} hold more than {limits.max_nodes} values{at}", [container] if container else []
            )
        field = [re.split(r"[.[]", where)[0]] if where else []
        if isinstance(node, float) and not math.isfinite(node):
            raise ToolInputError(f"`{where or 'value'}` is {node}, which is not a number JSON allows", field)
        if isinstance(node, str):
            if _bad_text(node):
                raise ToolInputError(f"`{where or 'value'}` is not valid Unicode text (a lone surrogate?)", field)
            continue
        if isinstance(node, dict | list):
            if depth >= limits.max_depth:
                raise ToolInputError(f"{what} are nested deeper than {limits.max_depth} levels", field)
            if isinstance(node, dict):
                for key, child in node.items():
                    if isinstance(key, str) and _bad_text(key):
                        raise ToolInputError(f"a key in {what} is not valid Unicode text (a lone surrogate?)", field)
                    stack.append((child, depth + 1, f"{where}.{key}" if where else str(key)))
            else:
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(node))


def prepare_arguments(
    raw: Any, schema: dict[str, Any], *, text_fields: Collection[str] = (), limits: ArgumentLimits | None = None
) -> Any:
    """``raw`` checked and, for the names in ``text_fields``, coerced by ``schema``; anything else is left for the
    validator (which says that arguments must be an object, names unknown fields, and so on)."""
    limits = limits or ArgumentLimits()
    if raw is None:
        return {}
    check_value(raw, limits)
    if not isinstance(raw, dict) or not text_fields:
        return raw
    properties = schema.get("properties") or {}
    return {
        name: coerce_text(value, properties.get(name) or {}) if name in text_fields else value
        for name, value in raw.items()
    }
