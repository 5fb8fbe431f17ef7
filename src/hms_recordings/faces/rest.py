"""The REST face: the capability's ``rest`` expose served as declared, through the engine's one invocation path.

Each operation of each exposed resource becomes a route. An operation with ``x-tool: <MCP tool>`` runs that tool with
:meth:`Engine.call` (same schema, same result, same error as on MCP); a plain alpha2 operation (``call``, ``with``,
``inputParameters``) is compiled like a tool and run with :meth:`Engine.call_compiled`.

Arguments come from the path, the query string (strings coerced to the schema's integer, number and boolean types;
a repeated key for an array), declared header/cookie parameters, and the fields of a JSON object body (POST, PUT,
PATCH). Rejected before the engine, with a 4xx problem and nothing sent upstream: a body that is not JSON or not an
object, a field given twice (path and body, query and body, or a repeated query key), a body over 1 MiB (413).
Unknown fields reach the engine, which refuses them with the very text the MCP face gives.

Success is ``200`` with the result as JSON (notes, when any, as a ``notes`` list if the result is an object without
one). Every failure is an RFC 9457 ``application/problem+json`` document: see :func:`problem_from_error` and
``docs/rest.md``. Routes whose tool is not served (``--read-only``, ``--tools``) are not mounted and not documented.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hms_recordings.capability.model import ExposedRest, RestOperation, RestResource
from hms_recordings.errors import CapabilityError
from hms_recordings.faces.docs_page import docs_html
from hms_recordings.faces.openapi import build_openapi
from hms_recordings.faces.ops import metrics_for, problem_response
from hms_recordings.runtime.engine import CompiledTool, Engine
from hms_recordings.runtime.outcome import ErrorInfo, Outcome

__all__ = ["MAX_BODY_BYTES", "RestRoute", "build_rest_app", "plan_routes", "problem_from_error"]

MAX_BODY_BYTES = 1_048_576
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}|\{([A-Za-z0-9_.-]+)\}")


@dataclass(frozen=True)
class RestRoute:
    """One mounted route: where it is, which compiled tool answers it, and where each argument is read from."""

    path: str  # OpenAPI/Starlette template, e.g. /recordings/{recording_id}
    method: str
    operation_id: str
    expose: ExposedRest
    resource: RestResource
    operation: RestOperation
    tool: CompiledTool
    locations: dict[str, str] = field(default_factory=dict)  # argument -> path | query | header | cookie | body

    @property
    def by_tool_name(self) -> bool:
        """``x-tool`` routes run the served MCP tool by name, so their calls count as that tool's."""
        return self.operation.x_tool is not None

    def args_in(self, location: str) -> list[str]:
        return [name for name, where in self.locations.items() if where == location]


class _Rejected(Exception):
    """A request refused by the REST face itself, before any tool runs."""

    def __init__(self, status: int, message: str, fields: tuple[str, ...] = (), kind: str = "invalid_arguments"):
        super().__init__(message)
        self.status, self.message, self.fields, self.kind = status, message, fields, kind


# ---------------------------------------------------------------------------------------------------------- planning


def _template(path: str) -> tuple[str, list[str]]:
    """``/a/{{x}}/{y}`` -> (``/a/{x}/{y}``, [x, y]): both placeholder spellings, as for consumed paths (rule 3)."""
    names: list[str] = []

    def repl(match: re.Match[str]) -> str:
        names.append(match.group(1) or match.group(2))
        return "{" + names[-1] + "}"

    return "/" + _PLACEHOLDER.sub(repl, path).lstrip("/"), names


def _served(engine: Engine, expose: ExposedRest, op: RestOperation) -> CompiledTool | None:
    """The compiled tool behind an operation, or None when the engine's tool selection leaves it out."""
    if op.x_tool is not None:
        if op.x_tool not in engine.all_tools:
            raise CapabilityError(
                f"REST operation {op.method} {op.name or op.tool.name}: x-tool {op.x_tool!r} names no MCP tool "
                f"(known: {', '.join(engine.all_tools)})"
            )
        return engine.tools.get(op.x_tool)
    if engine.settings.tools is not None:
        return None  # --tools names MCP tools: a plain REST operation is not among them
    compiled = engine.compile_tool(op.tool, expose.namespace)
    if engine.settings.read_only and not compiled.read_only:
        return None
    return compiled


def plan_routes(engine: Engine) -> list[RestRoute]:
    """Every route of every ``rest`` expose that the engine serves; fails loudly on declarations that cannot work."""
    routes: list[RestRoute] = []
    seen: set[tuple[str, str]] = set()
    for expose in engine.capability.rest:
        for resource in expose.resources:
            path, path_params = _template(resource.path)
            for op in resource.operations:
                where = f"REST operation {op.method} {path}"
                if (op.method, path) in seen:
                    raise CapabilityError(f"{where} is declared twice")
                seen.add((op.method, path))
                tool = _served(engine, expose, op)
                if tool is None:
                    continue
                properties = tool.input_schema.get("properties") or {}
                missing = [p for p in path_params if p not in properties]
                if missing:
                    raise CapabilityError(
                        f"{where}: path parameter {', '.join(missing)} is not an argument of {tool.name} "
                        f"(its arguments: {', '.join(properties) or 'none'})"
                    )
                declared = {p.name: p.location for p in op.params if p.value is None}
                rest_of = "body" if op.method in BODY_METHODS else "query"
                locations = {
                    name: "path" if name in path_params else declared.get(name, rest_of) for name in properties
                }
                routes.append(
                    RestRoute(path, op.method, op.x_tool or op.name or tool.name, expose, resource, op, tool, locations)
                )
    return routes


# --------------------------------------------------------------------------------------------------------- arguments


def _coerce(text: str, prop: dict[str, Any]) -> Any:
    """A query, path or header string as the schema's type; left as text when it does not read as one, so that the
    engine's validator reports the type error in its usual words."""
    kind = prop.get("type")
    try:
        if kind == "integer" and re.fullmatch(r"[+-]?\d{1,18}", text.strip()):
            return int(text)
        if kind == "number":
            number = float(text)
            if math.isfinite(number):
                return int(number) if re.fullmatch(r"[+-]?\d{1,18}", text.strip()) else number
        if kind == "boolean" and text.lower() in ("true", "false", "1", "0"):
            return text.lower() in ("true", "1")
        if kind == "object":
            return json.loads(text)
    except ValueError:
        pass
    return text


async def _read_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Rejected(413, f"the request body is larger than {MAX_BODY_BYTES} bytes", kind="too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Rejected(413, f"the request body is larger than {MAX_BODY_BYTES} bytes", kind="too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise _Rejected(415, "send the request body as JSON, with Content-Type: application/json")
    try:
        body = json.loads(raw)
    except ValueError as exc:  # the decoder's message gives the position, never the content
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise _Rejected(400, f"the request body is not valid JSON ({reason})") from None
    except RecursionError:  # nesting deeper than the decoder's stack
        raise _Rejected(400, "the request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise _Rejected(400, f"the request body must be a JSON object, not {type(body).__name__}")
    return body


async def read_arguments(request: Request, route: RestRoute) -> dict[str, Any]:
    """The tool's arguments from one request (see the module docstring for the rules)."""
    properties: dict[str, Any] = route.tool.input_schema.get("properties") or {}
    args: dict[str, Any] = {}
    for name, value in request.path_params.items():
        args[name] = _coerce(str(value), properties.get(name) or {})
    for name in dict.fromkeys(request.query_params.keys()):
        if name in args:
            raise _Rejected(400, f"`{name}` is part of the path; do not repeat it in the query string", (name,))
        values = request.query_params.getlist(name)
        prop = properties.get(name) or {}
        if prop.get("type") == "array":
            args[name] = [_coerce(v, prop.get("items") or {}) for v in values]
        elif len(values) > 1:
            raise _Rejected(400, f"`{name}` is given {len(values)} times in the query string; give it once", (name,))
        else:
            args[name] = _coerce(values[0], prop)
    for name in route.args_in("header"):
        if name in request.headers:
            args[name] = _coerce(request.headers[name], properties.get(name) or {})
    for name in route.args_in("cookie"):
        if name in request.cookies:
            args[name] = _coerce(request.cookies[name], properties.get(name) or {})
    if route.method in BODY_METHODS:
        body = await _read_body(request)
        for name, value in body.items():
            if name in request.path_params:
                raise _Rejected(400, f"`{name}` is part of the path; do not repeat it in the body", (name,))
            if name in args:
                raise _Rejected(
                    400, f"`{name}` is given both in the query string and in the body; give it once", (name,)
                )
            args[name] = value
    return args


# ---------------------------------------------------------------------------------------------------------- answers


def problem_from_error(error: ErrorInfo) -> Response:
    """The problem document for a tool error: the MCP text as ``detail``, the taxonomy's kind, the mapped status.

    Upstream 4xx keep their meaning (404 stays 404, 409 stays 409, 429 with ``Retry-After``), a failed upstream is
    502, an upstream timeout 504; a refused upstream credential is 502 too, since it is this server's to fix."""
    extra: dict[str, Any] = {}
    if error.upstream_status is not None:
        extra["upstream_status"] = error.upstream_status
    if error.retry_after is not None:
        extra["retry_after"] = error.retry_after
    if error.data is not None:
        extra["data"] = error.data
    headers = {"Retry-After": str(math.ceil(error.retry_after))} if error.retry_after is not None else None
    return problem_response(
        error.kind, error.http_status, error.message, fields=error.fields, extra=extra, headers=headers
    )


def _success(outcome: Outcome) -> Response:
    data = outcome.data
    if outcome.notes and isinstance(data, dict) and "notes" not in data:
        data = {**data, "notes": list(outcome.notes)}
    return JSONResponse(data)


def _endpoint(engine: Engine, route: RestRoute) -> Any:
    metrics = metrics_for(engine)

    async def endpoint(request: Request) -> Response:
        request.state.route = route.path
        try:
            args = await read_arguments(request, route)
        except _Rejected as exc:
            metrics.reject(exc.kind)
            return problem_response(exc.kind, exc.status, exc.message, fields=exc.fields)
        if route.by_tool_name:
            outcome = await engine.call(route.tool.name, args)
        else:
            outcome = await engine.call_compiled(route.tool, args)
        return problem_from_error(outcome.error) if outcome.error is not None else _success(outcome)

    return endpoint


async def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return problem_response("no_route", 404, f"no route {request.method} {request.url.path}; see /openapi.json")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return problem_response(
            "method_not_allowed",
            405,
            f"{request.url.path} does not take {request.method}" + (f"; it takes {allowed}" if allowed else ""),
            headers={"Allow": allowed} if allowed else None,
        )
    if exc.status_code == 413:
        return problem_response("too_large", 413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    kind = "invalid_arguments" if 400 <= exc.status_code < 500 else "internal_error"
    return problem_response(kind, exc.status_code, str(exc.detail))


def build_rest_app(engine: Engine, *, extra_routes: list[BaseRoute] | None = None, bearer: bool = False) -> Starlette:
    """The REST face as a bare Starlette app: the declared routes, ``/openapi.json``, ``/docs`` and ``extra_routes``
    (operations, skill catalog). ``hms_recordings.serve`` adds request ids, Host/Origin checks and inbound auth
    (``bearer`` says that it does, for the OpenAPI document)."""
    routes = plan_routes(engine)
    openapi = build_openapi(engine, routes, bearer=bearer)
    title = openapi["info"]["title"]

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_html(title), headers={"Cache-Control": "no-store"})

    async def home(request: Request) -> Response:
        return RedirectResponse("/docs")

    mounted: list[BaseRoute] = [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/", home, methods=["GET"]),
    ]
    mounted += [Route(r.path, _endpoint(engine, r), methods=[r.method], name=r.operation_id) for r in routes]
    mounted += extra_routes or []
    return Starlette(routes=mounted, exception_handlers={HTTPException: _http_problem})
