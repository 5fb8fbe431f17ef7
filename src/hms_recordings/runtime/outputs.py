"""Output mapping: from the upstream's JSON to the tool's result, by JSONPath compiled once.

Rule 7: ``$`` and ``$.`` mean the whole response, also for ``type: object`` without ``properties``. Otherwise an
output parameter maps by ``mapping`` (JSONPath; a missing path gives ``None``, as Jayway does), or is a static
``value``/``const``; ``properties`` build an object, ``items`` map each element of an array. As in the Java engine,
the first output parameter that yields a non-null value is the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hms_recordings.capability.model import OutputSpec
from hms_recordings.errors import CapabilityError

__all__ = ["OutputMapper", "output_schema_for"]

Mapper = Callable[[Any], Any]
_WHOLE = {"$", "$."}
_DOTTED = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_-]*)+$")
#: `$.properties.Participation Status.name`: published files (Notion's property names) write keys with spaces as if
#: they were plain names; JSONPath cannot read them, the evident intent is a key walk.
_SPACED = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_ -]*[A-Za-z0-9_-])+$")


def _compile_path(path: str) -> Mapper:
    if path.strip() in _WHOLE:
        return lambda data: data
    text = path.strip()
    if text.startswith("$.") and text.endswith("."):
        text = text[:-1]
    if _DOTTED.match(text) or _SPACED.match(text):
        # Plain `$.a.b` paths are most mappings and sit on the per-call path: a key walk gives the same answer as
        # JSONPath (a missing key is null) at a twentieth of the cost (bench/notes.md).
        keys = tuple(text[2:].split("."))

        def walk(data: Any) -> Any:
            for key in keys:
                if not isinstance(data, dict):
                    return None
                data = data.get(key)
            return data

        return walk
    import jsonpath  # only for paths beyond `$.a.b` (filters, wildcards, indexes): its import costs ~40 ms of start-up

    try:
        compiled = jsonpath.compile(text)
    except jsonpath.JSONPathError as exc:
        raise CapabilityError(f"output mapping {path!r} is not a valid JSONPath: {exc}") from None
    if isinstance(compiled, jsonpath.JSONPath) and compiled.singular_query():

        def singular(data: Any) -> Any:
            found = compiled.findall(data)
            return found[0] if found else None

        return singular
    return lambda data: compiled.findall(data)


def _compile(spec: OutputSpec) -> Mapper:
    if spec.has_const:
        const = spec.const
        return lambda _data: const
    if spec.mapping is None and spec.value is not None:
        static = spec.value
        return lambda _data: static
    locate = _compile_path(spec.mapping) if spec.mapping is not None else (lambda data: data)
    if spec.type == "object" and spec.properties:
        fields = {name: _compile(child) for name, child in spec.properties.items()}

        def build(data: Any) -> Any:
            node = locate(data)
            return None if node is None else {name: fn(node) for name, fn in fields.items()}

        return build
    if spec.type == "array" and spec.items is not None:
        each = _compile(spec.items)

        def build_list(data: Any) -> Any:
            node = locate(data)
            return None if node is None else [each(item) for item in (node if isinstance(node, list) else [node])]

        return build_list
    return locate


class OutputMapper:
    def __init__(self, specs: tuple[OutputSpec, ...]) -> None:
        self._mappers = [_compile(s) for s in specs]

    def __call__(self, data: Any) -> Any:
        if not self._mappers:
            return data
        for mapper in self._mappers:
            value = mapper(data)
            if value is not None:
                return value
        return None


_SCHEMA_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def output_schema_for(specs: tuple[OutputSpec, ...]) -> dict[str, Any]:
    """The MCP ``outputSchema``: always an object, because MCP structured content is an object."""
    if len(specs) == 1 and specs[0].type == "object":
        return _spec_schema(specs[0], root=True)
    return {"type": "object"}


def _spec_schema(spec: OutputSpec, *, root: bool = False) -> dict[str, Any]:
    kind = spec.type if spec.type in _SCHEMA_TYPES else "string"
    # Below the root every mapped value may be null: a JSONPath that finds nothing gives null (Jayway semantics).
    schema: dict[str, Any] = {"type": kind if root else [kind, "null"]}
    if spec.description:
        schema["description"] = spec.description
    if spec.properties:
        schema["properties"] = {name: _spec_schema(child) for name, child in spec.properties.items()}
    if spec.items is not None:
        schema["items"] = _spec_schema(spec.items)
    return schema
