"""Route planning for the REST face: which declared operation answers which method and path, and where each argument
is read from.

:func:`plan_routes` takes the service's REST entries as they are (the inventory's ``select`` already applied
``--tools``, ``--toolsets`` and ``--read-only``: nothing is filtered again here) and returns the routes it can serve
and, for each entry it cannot, one problem sentence. A problem is never fatal: the entry is left out and the rest is
served (the server logs the problems, and refuses to start on them only with ``--strict``). An entry cannot be served
when:

- a path parameter names no argument of the entry, even after the one evident respelling below;
- its method and path are those of an earlier operation (the paths compared with their parameters unnamed, since
  ``/a/{x}`` and ``/a/{y}`` are the same route): the first one declared is served.

**Respelled path parameters.** Published files often spell a path parameter differently from the argument it feeds:
``/zones/{zone-id}`` for the argument ``zone_id``. When a placeholder is not an argument's name but exactly one
argument has the same name up to case and ``-``/``.``/``_``, the route reads that argument from it, and the served
(and documented) path names the argument: ``/zones/{zone_id}``. Two or more candidates are ambiguous and reported.
A path with a single placeholder that names no argument, on an operation that declares a single ``in: path``
argument, reads that argument (``/users/{{username}}`` over ``user_name``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from hms_recordings.capability.model import RestOperation, RestResource
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.inventory import RestEntry
from hms_recordings.runtime.service import Service

__all__ = ["BODY_METHODS", "RestRoute", "plan_routes"]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}|\{([A-Za-z0-9_.-]+)\}")
_STARLETTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # what Starlette accepts as a path parameter's name
_LOCATIONS = ("path", "query", "header", "cookie", "body")


@dataclass(frozen=True)
class RestRoute:
    """One served route: where it is, which compiled entry answers it, and where each argument is read from."""

    path: str  # the OpenAPI template, placeholders named after the arguments: /recordings/{recording_id}
    method: str
    operation_id: str
    entry: RestEntry
    locations: dict[str, str] = field(default_factory=dict)  # argument -> path | query | header | cookie | body
    #: Starlette's template; differs from ``path`` only where an argument's name is not a Python identifier.
    route_path: str = ""
    #: Starlette path parameter -> argument.
    path_args: dict[str, str] = field(default_factory=dict)

    @property
    def tool(self) -> CompiledTool:
        return self.entry.tool

    @property
    def resource(self) -> RestResource:
        return self.entry.resource

    @property
    def operation(self) -> RestOperation:
        return self.entry.operation

    @property
    def namespace(self) -> str:
        return self.entry.expose_namespace

    def args_in(self, location: str) -> list[str]:
        return [name for name, where in self.locations.items() if where == location]


def _normal(name: str) -> str:
    return re.sub(r"[-._]", "_", name.lower())


def _argument_for(placeholder: str, properties: dict[str, Any]) -> str | None:
    """The argument a path placeholder names: itself, or the one argument spelled the same up to case and ``-._``."""
    if placeholder in properties:
        return placeholder
    candidates = [name for name in properties if _normal(name) == _normal(placeholder)]
    return candidates[0] if len(candidates) == 1 else None


def _fresh(properties: dict[str, Any], taken: dict[str, str]) -> str:
    """A Starlette name for an argument whose own name is not one (``recording-id``): no argument's, no other's."""
    n = 0
    while f"p{n}" in properties or f"p{n}" in taken:
        n += 1
    return f"p{n}"


def _only_declared_path_argument(op: RestOperation, properties: dict[str, Any], raw: str) -> str | None:
    """A path with one placeholder and an operation declaring one other ``in: path`` argument: that argument (the
    Naftiko examples write ``/users/{{username}}`` over ``inputParameters: [{name: user_name, in: path}]``)."""
    declared = [p.name for p in op.params if p.location == "path" and p.value is None and p.name in properties]
    return declared[0] if len(declared) == 1 and len(_PLACEHOLDER.findall(raw)) == 1 else None


def _route(entry: RestEntry) -> tuple[RestRoute | None, str | None]:
    """The route of one entry, or why it has none."""
    tool, op = entry.tool, entry.operation
    properties: dict[str, Any] = tool.input_schema.get("properties") or {}
    where = f"REST operation {op.method} {entry.resource.path}"
    path_args: dict[str, str] = {}
    unknown: list[str] = []
    doc_parts: list[str] = []
    route_parts: list[str] = []
    last = 0
    raw = "/" + entry.resource.path.lstrip("/")
    for match in _PLACEHOLDER.finditer(raw):
        placeholder = match.group(1) or match.group(2)
        literal = raw[last : match.start()]
        last = match.end()
        argument = _argument_for(placeholder, properties)
        if argument is None:
            argument = _only_declared_path_argument(op, properties, raw)
        if argument is None:
            unknown.append(placeholder)
            continue
        if argument in path_args.values():
            return None, f"{where}: the path names the argument {argument} twice"
        param = argument if _STARLETTE_NAME.fullmatch(argument) else _fresh(properties, path_args)
        path_args[param] = argument
        doc_parts += [literal, "{" + argument + "}"]
        route_parts += [literal, "{" + param + "}"]
    if unknown:
        return None, (
            f"{where}: path parameter {', '.join(unknown)} is not an argument of {tool.name} "
            f"(its arguments: {', '.join(properties) or 'none'}); the operation is not served over REST"
        )
    doc_parts.append(raw[last:])
    route_parts.append(raw[last:])
    declared = {p.name: p.location for p in op.params if p.value is None and p.location in _LOCATIONS}
    rest_of = "body" if op.method in BODY_METHODS else "query"
    in_path = set(path_args.values())
    locations = {name: "path" if name in in_path else declared.get(name, rest_of) for name in properties}
    route = RestRoute(
        path="".join(doc_parts),
        method=op.method,
        operation_id=op.x_tool or op.name or tool.name,
        entry=entry,
        locations=locations,
        route_path="".join(route_parts),
        path_args=path_args,
    )
    return route, None


def plan_routes(service: Service) -> tuple[list[RestRoute], list[str]]:
    """The routes of the service's REST entries, and one problem sentence per entry left out (see the module
    docstring). Operation ids are made unique (``name``, ``name-2``, ...) since OpenAPI requires it."""
    routes: list[RestRoute] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], RestRoute] = {}
    ids: set[str] = set()
    for entry in service.rest_entries():
        route, problem = _route(entry)
        if route is None:
            problems.append(problem or f"REST operation {entry.operation.method} {entry.resource.path} is not served")
            continue
        key = (route.method, _PLACEHOLDER.sub("{}", route.path))
        first = seen.get(key)
        if first is not None:
            problems.append(
                f"REST operation {route.method} {entry.resource.path} ({route.operation_id}) has the method and path "
                f"of {first.operation_id}, declared first and served; this one is not served"
            )
            continue
        seen[key] = route
        operation_id, n = route.operation_id, 1
        while operation_id in ids:
            n += 1
            operation_id = f"{route.operation_id}-{n}"
        ids.add(operation_id)
        if operation_id != route.operation_id:
            route = replace(route, operation_id=operation_id)
        routes.append(route)
    return routes, problems
