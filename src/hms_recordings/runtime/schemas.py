"""Tool input schemas: one JSON Schema that is both the published contract and the validator.

Rule 6: a tool's ``inputParameters`` when present (each property ``{type, description}`` plus the ``x-schema``
extension merged in); otherwise derived from ``with`` references and the consumed operation's parameters (their
``type``, ``required``, and ``x-schema``). Unknown arguments are always rejected (``additionalProperties: false``).

Validation turns jsonschema's errors into one message that names the fields and says what is expected, without
echoing the rejected values (they may be huge or hostile).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, cast

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from hms_recordings.capability.model import ToolParam
from hms_recordings.capability.templates import Template
from hms_recordings.errors import ToolInputError
from hms_recordings.runtime.request import ArgRef, RequestPlan, WithPlan

__all__ = ["ArgumentValidator", "derive_schema", "schema_from_params"]

_JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def _property(kind: str | None, description: str, extra: dict[str, Any]) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": kind if kind in _JSON_TYPES else "string"}
    if description:
        prop["description"] = description
    prop.update(extra)
    return prop


def schema_from_params(params: tuple[ToolParam, ...]) -> dict[str, Any]:
    properties = {p.name: _property(p.type, p.description, p.schema) for p in params}
    required = [p.name for p in params if p.required]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def derive_schema(plan: RequestPlan, with_plan: WithPlan, bound: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Schema from what the request needs (:meth:`RequestPlan.needs`), named as the tool's arguments.

    ``with`` may rename a value (a reference: the argument is asked under its own name) or fill it (a literal, or a
    template whose own variables are then asked for instead). Bound variables (binds' keys) are never asked."""
    operation = plan.operation
    references = with_plan.references()
    filled = {key: src for key, src in with_plan.entries if not isinstance(src, ArgRef)}
    properties: dict[str, Any] = {}
    required: list[str] = []

    def add(name: str, prop: dict[str, Any], needed: bool) -> None:
        if name in bound:
            return
        properties.setdefault(name, prop)
        if needed and name not in required:
            required.append(name)

    for need in plan.needs():
        needed = need.required or need.location == "path"
        if need.name in filled:
            source = filled[need.name]
            if not isinstance(source, Template):
                continue  # a literal: the file gives the value
            own = [n for n in source.names if n not in bound and "." not in n]
            for name in own:
                add(name, _property("string", f"Fills `{{{{{name}}}}}` in `{need.name}`.", {}), needed)
            if own:
                continue
            needed = False  # rule 4: a template that may stay unresolved falls back to the argument, if given
        arg = references.get(need.name, need.name)
        param = need.param
        if param is not None:
            description = param.description or (
                f"{param.location.capitalize()} parameter `{param.name}` of {operation.method} {operation.path}."
            )
            kind = param.type or ("object" if param.location == "body" and param.name == "body" else "string")
            add(arg, _property(kind, description, param.schema), needed)
        elif need.location == "path":
            add(arg, _property("string", f"Fills `{{{need.name}}}` in the path {operation.path}.", {}), needed)
        elif plan.body_plan is not None and need.name in plan.body_plan.whole_names:
            # The whole value of a body field: any JSON value goes in as it is.
            add(arg, {"description": f"The `{need.name}` value of the request body (any JSON value)."}, needed)
        else:
            add(arg, _property("string", f"Fills `{{{{{need.name}}}}}` in the request.", {}), needed)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


@functools.lru_cache(maxsize=256)
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a JSON Schema (ECMA-262) pattern for Python: there ``$`` is the end of the input, while Python's ``$``
    also matches before a final newline, which would let ``"<24 hex>\\n"`` through an id pattern."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "]":
            in_class = False
            out.append(char)
        elif char == "$" and not in_class:
            out.append(r"\Z")
        else:
            out.append(char)
    return re.compile("".join(out))


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"does not match {pattern!r}")


_Validator: Any = validators.extend(Draft202012Validator, {"pattern": _pattern_keyword})  # type: ignore[no-untyped-call]


def _field(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path)


def _describe(error: ValidationError, schema: dict[str, Any]) -> tuple[str, list[str]]:
    where = _field(error)
    validator, expected = error.validator, cast(Any, error.validator_value)
    if validator == "required":
        missing = [name for name in expected if isinstance(error.instance, dict) and name not in error.instance]
        names = [f"{where}.{m}" if where else m for m in missing]
        return ", ".join(f"`{n}` is required" for n in names), names
    if validator == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys()) if isinstance(error.schema, dict) else []
        extra = (
            sorted(k for k in (error.instance or {}) if k not in allowed) if isinstance(error.instance, dict) else []
        )
        names = [f"{where}.{e}" if where else e for e in extra]
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown argument{'s' if len(names) > 1 else ''} {', '.join(f'`{n}`' for n in names)}{hint}", names
    label = f"`{where}`" if where else "the arguments"
    messages = {
        "type": f"{label} must be of type {expected}",
        "pattern": f"{label} must match the pattern {expected}",
        "enum": f"{label} must be one of {', '.join(map(str, expected)) if isinstance(expected, list) else expected}",
        "const": f"{label} must be {expected!r}",
        "minimum": f"{label} must be >= {expected}",
        "maximum": f"{label} must be <= {expected}",
        "exclusiveMinimum": f"{label} must be > {expected}",
        "exclusiveMaximum": f"{label} must be < {expected}",
        "minLength": f"{label} must have at least {expected} characters",
        "maxLength": f"{label} must have at most {expected} characters",
        "minItems": f"{label} must have at least {expected} items",
        "maxItems": f"{label} must have at most {expected} items",
        "uniqueItems": f"{label} must not repeat items",
        "format": f"{label} must be a valid {expected}",
    }
    text = messages.get(str(validator), f"{label} is not valid ({validator})")
    example = error.schema.get("examples") if isinstance(error.schema, dict) else None
    if isinstance(example, list) and example:
        text += f", for example {example[0]!r}"
    return text, [where] if where else []


class ArgumentValidator:
    """Validates arguments against a schema compiled once."""

    def __init__(self, tool: str, schema: dict[str, Any], *, check: bool = True) -> None:
        if check:
            Draft202012Validator.check_schema(schema)
        self.tool = tool
        self.schema = schema
        self._validator = _Validator(schema)
        self._defaults = {
            name: prop["default"]
            for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict) and "default" in prop
        }

    def validate(self, arguments: Any) -> dict[str, Any]:
        if not isinstance(arguments, dict):
            raise ToolInputError(
                f"invalid arguments for {self.tool}: the arguments must be a JSON object", [], self.tool
            )
        errors = sorted(self._validator.iter_errors(arguments), key=lambda e: (list(e.absolute_path), str(e.validator)))
        if not errors:
            if not self._defaults.keys() - arguments.keys():
                return arguments
            return {**self._defaults, **arguments}  # declared defaults are sent, so the upstream sees what we publish
        texts: list[str] = []
        fields: list[str] = []
        for error in errors[:5]:
            text, names = _describe(error, self.schema)
            if text not in texts:
                texts.append(text)
            fields.extend(n for n in names if n not in fields)
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ToolInputError(f"invalid arguments for {self.tool}: {'; '.join(texts)}{more}", fields, self.tool)
