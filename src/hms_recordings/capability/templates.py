"""Mustache-style ``{{name}}`` templates, compiled once.

Only variable substitution is supported (no sections, no escaping): that is all capability files use. A name may be
dotted: ``{{env.HMS_MANAGEMENT_TOKEN}}`` resolves through the bind namespace ``env`` (rule 2), ``{{step.field}}``
walks into a previous orchestration step's output.

    >>> t = Template.compile("Bearer {{env.TOKEN}}")
    >>> t.render(Scope(bindings={"TOKEN": "abc"}, namespaces=frozenset({"env"})))
    'Bearer abc'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MISSING", "Scope", "Template", "as_text"]

_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_.\-$]+)\s*\}\}")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Scope:
    """What a template can see: tool arguments (or step outputs) and bound variables."""

    args: Mapping[str, Any] = field(default_factory=dict)
    bindings: Mapping[str, str] = field(default_factory=dict)
    namespaces: frozenset[str] = frozenset()

    def lookup(self, name: str) -> Any:
        if name in self.args:
            return self.args[name]
        head, _, rest = name.partition(".")
        if rest and head in self.namespaces:
            return self.bindings.get(rest, MISSING)
        if rest and head in self.args:
            node: Any = self.args[head]
            for part in rest.split("."):
                if isinstance(node, Mapping) and part in node:
                    node = node[part]
                else:
                    return MISSING
            return node
        return self.bindings.get(name, MISSING)


def as_text(value: Any) -> str:
    """A value as template, query or comparison text: booleans as JSON, lists and objects as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))  # as the Java engine serialises lists before substitution
    return str(value)


@dataclass(frozen=True)
class Template:
    parts: tuple[str, ...]  # even indexes are literal text, odd indexes are variable names
    source: str

    @classmethod
    def compile(cls, source: str) -> Template:
        return cls(tuple(_VAR.split(source)), source)

    @property
    def names(self) -> tuple[str, ...]:
        return self.parts[1::2]

    @property
    def is_literal(self) -> bool:
        return len(self.parts) == 1

    @property
    def single_name(self) -> str | None:
        """The variable name when the whole template is exactly one ``{{name}}`` (its value keeps its type)."""
        return self.parts[1] if len(self.parts) == 3 and not self.parts[0] and not self.parts[2] else None

    def missing(self, scope: Scope) -> list[str]:
        return [name for name in self.names if scope.lookup(name) is MISSING]

    def render(self, scope: Scope) -> str:
        """Substitute every variable; a missing one renders as ``""`` (callers check :meth:`missing` first)."""
        if self.is_literal:
            return self.source
        out = []
        for index, part in enumerate(self.parts):
            if index % 2 == 0:
                out.append(part)
            else:
                value = scope.lookup(part)
                out.append("" if value is MISSING or value is None else as_text(value))
        return "".join(out)

    def value(self, scope: Scope) -> Any:
        """Like :meth:`render`, but a template that is exactly one variable keeps the variable's own type."""
        name = self.single_name
        return scope.lookup(name) if name is not None else self.render(scope)
