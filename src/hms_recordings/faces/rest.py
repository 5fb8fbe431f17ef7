"""The REST face: the capability's ``rest`` exposes served as declared, every call through the service's one path.

Routes come from :func:`~hms_recordings.faces.rest_routes.plan_routes` over ``service.rest_entries()``; an entry it
cannot route is left out (and reported there), the rest is served. An ``x-tool`` operation runs that MCP tool, a plain
alpha2 operation (``call``, ``with``, ``inputParameters``) its own compiled entry: both through
:meth:`Service.call_entry`, so the schema, the result and the error are the ones every other face gives.

Arguments come from the path, the query string (a repeated key only for an array argument), declared header and
cookie parameters, and the fields of a JSON object body (POST, PUT, PATCH). Path, query, header and cookie values are
*text*: their names go to the invoker in ``CallContext.text_fields`` and the schema reads them (``"10"`` is an integer
where the schema says so, a 24-digit id stays a string). Body values are JSON and are never coerced.

Refused here, with a 4xx problem and nothing sent upstream: a body over ``max_body_bytes`` (413; by default
:data:`MAX_BODY_BYTES`, the server passes its ``--max-request-bytes``), a body that is
not ``application/json`` (415), not UTF-8 JSON, not an object, or that holds ``NaN``/``Infinity`` or a lone surrogate
(400), and a field given twice (path and query, path and body, query and body, or a repeated query key). Unknown
fields reach the invoker, which refuses them with the very text the MCP face gives.

Success is ``200`` with the result as JSON (notes, when any, as a ``notes`` list if the result is an object without
one). Every failure is an RFC 9457 ``application/problem+json`` document: see :func:`problem_from_error` and
``docs/rest.md``. A refusal of the face's own is written to the request's ASGI state as ``rejection`` (its kind), and
the served route template as ``route``, for the hosting layer's metrics and access log.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hms_recordings.faces.docs_page import docs_html
from hms_recordings.faces.openapi import build_openapi
from hms_recordings.faces.problems import problem_pages, problem_response
from hms_recordings.faces.request_body import BodyTooLarge, read_capped
from hms_recordings.faces.rest_forward import forward_routes
from hms_recordings.faces.rest_routes import BODY_METHODS, RestRoute, plan_routes
from hms_recordings.runtime.access import Admission, principal_of
from hms_recordings.runtime.invoker import CallContext
from hms_recordings.runtime.outcome import ErrorInfo, Outcome
from hms_recordings.runtime.service import Service

__all__ = ["MAX_BODY_BYTES", "build_rest_app", "problem_from_error", "read_arguments"]

MAX_BODY_BYTES = 1_048_576  # 1 MiB by default: larger bodies are refused with 413 while they are read


class _Rejected(Exception):
    """A request refused by the REST face itself, before any entry runs."""

    def __init__(self, status: int, message: str, fields: tuple[str, ...] = (), kind: str = "invalid_arguments"):
        super().__init__(message)
        self.status, self.message, self.fields, self.kind = status, message, fields, kind


# --------------------------------------------------------------------------------------------------------- arguments


def _no_constant(name: str) -> Any:
    raise _Rejected(400, f"the request body is not valid JSON ({name} is not a JSON number)")


def _valid_text(body: Any) -> bool:
    """Whether every string (and key) in the parsed body is valid Unicode; the C encoder does the walk."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _read_body(request: Request, limit: int) -> dict[str, Any]:
    try:
        raw = await read_capped(request, limit)
    except BodyTooLarge:
        raise _Rejected(413, f"the request body is larger than {limit} bytes", kind="too_large") from None
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise _Rejected(415, "send the request body as JSON, with Content-Type: application/json")
    try:
        # JSON on the wire is UTF-8 (RFC 8259); the strict decode also refuses encoded surrogates.
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _Rejected(400, "the request body is not valid JSON (not UTF-8)") from None
    except json.JSONDecodeError as exc:  # the decoder's message gives the position, never the content
        raise _Rejected(400, f"the request body is not valid JSON ({exc.msg})") from None
    except RecursionError:  # nesting deeper than the decoder's stack
        raise _Rejected(400, "the request body is nested too deeply") from None
    except ValueError:  # an integer longer than Python converts (4,300 digits): no schema allows one
        raise _Rejected(400, "the request body is not valid JSON (a number with too many digits)") from None
    if not isinstance(body, dict):
        raise _Rejected(400, f"the request body must be a JSON object, not {type(body).__name__}")
    if not _valid_text(body):  # "\ud800" escapes decode to lone surrogates, which no upstream can be sent
        raise _Rejected(400, "the request body holds text that is not valid Unicode (a lone surrogate)")
    return body


async def read_arguments(
    request: Request, route: RestRoute, *, max_body_bytes: int = MAX_BODY_BYTES
) -> tuple[dict[str, Any], frozenset[str]]:
    """The entry's arguments from one request, and the names of those that arrived as text (see the module
    docstring for the rules)."""
    properties: dict[str, Any] = route.tool.input_schema.get("properties") or {}
    args: dict[str, Any] = {}
    origin: dict[str, str] = {}  # where each argument was found, for the "given twice" refusals

    def put(name: str, value: Any, where: str) -> None:
        if origin.get(name) == "the path":
            raise _Rejected(400, f"`{name}` is part of the path; do not repeat it in {where}", (name,))
        if name in origin:
            raise _Rejected(400, f"`{name}` is given both in {origin[name]} and in {where}; give it once", (name,))
        args[name], origin[name] = value, where

    for param, value in request.path_params.items():
        put(route.path_args.get(param, param), str(value), "the path")
    for name in dict.fromkeys(request.query_params.keys()):
        values = request.query_params.getlist(name)
        if len(values) > 1 and (properties.get(name) or {}).get("type") != "array":
            raise _Rejected(400, f"`{name}` is given {len(values)} times in the query string; give it once", (name,))
        put(name, values if (properties.get(name) or {}).get("type") == "array" else values[0], "the query string")
    for name in route.args_in("header"):
        if name in request.headers:
            put(name, request.headers[name], "a header")
    for name in route.args_in("cookie"):
        if name in request.cookies:
            put(name, request.cookies[name], "a cookie")
    text_fields = frozenset(args)
    if route.method in BODY_METHODS:
        for name, value in (await _read_body(request, max_body_bytes)).items():
            put(name, value, "the body")
    return args, text_fields


# ---------------------------------------------------------------------------------------------------------- answers


Words = Callable[[str], str]


def rest_words(routes: list[RestRoute]) -> Words:
    """Messages are written once for every face and name tools; on REST each tool it serves is named by its route
    (``hms-list-recordings`` -> ``GET /recordings``), so that a REST caller reads its own vocabulary."""
    names: dict[str, str] = {}
    for route in routes:
        names.setdefault(route.tool.name, f"{route.method} {route.path}")
    if not names:
        return lambda text: text
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w-])({alternatives})(?![\w-])")
    return lambda text: pattern.sub(lambda m: names[m.group(1)], text)


def problem_from_error(error: ErrorInfo, words: Words | None = None) -> Response:
    """The problem document for an entry's error: the shared text as ``detail``, the taxonomy's kind, the mapped
    status.

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
    message = words(error.message) if words is not None else error.message
    return problem_response(error.kind, error.http_status, message, fields=error.fields, extra=extra, headers=headers)


def _success(outcome: Outcome, words: Words) -> Response:
    data = outcome.data
    if outcome.notes and isinstance(data, dict) and "notes" not in data:
        data = {**data, "notes": [words(note) for note in outcome.notes]}
    return JSONResponse(data)


def _endpoint(
    service: Service, route: RestRoute, max_body_bytes: int, words: Words, admit: Admission | None = None
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request.state.route = route.path
        principal = principal_of(request.scope)
        refusal = admit(principal, route.tool) if admit is not None and principal is not None else None
        if refusal is not None:
            request.state.rejection = refusal.kind
            extra = {"retry_after": refusal.retry_after} if refusal.retry_after is not None else None
            return problem_response(
                refusal.kind, refusal.status, refusal.message, extra=extra, headers=dict(refusal.headers)
            )
        try:
            args, text_fields = await read_arguments(request, route, max_body_bytes=max_body_bytes)
        except _Rejected as exc:
            request.state.rejection = exc.kind
            return problem_response(exc.kind, exc.status, exc.message, fields=exc.fields)
        context = CallContext(
            face="rest",
            text_fields=text_fields,
            caller=principal.subject if principal else None,
            client=principal.client_id if principal else None,
        )
        outcome = await service.call_entry(route.tool, args, context)
        return problem_from_error(outcome.error, words) if outcome.error is not None else _success(outcome, words)

    return endpoint


_LOOSE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Endpoint = Callable[[Request], Awaitable[Response]]


def _loose(routes: list[tuple[RestRoute, Endpoint]]) -> list[tuple[str, re.Pattern[str], int, Endpoint]]:
    """Each route's template with parameters that may hold anything, ``/`` included, most literal first.

    A path value with a ``/`` in it (``..%2Fv2``, decoded before routing) can never match a route's one-segment
    parameter, so Starlette answers 404. Matched loosely instead, the request reaches the invoker, which refuses the
    value with the very words the MCP face and the CLI give: one error for one input on every face."""
    out = []
    for route, endpoint in routes:
        parts = _LOOSE_PARAM.split(route.route_path)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+)" for i, p in enumerate(parts))
        literal = sum(len(p) for p in parts[::2])
        out.append((route.method, re.compile(regex + r"\Z"), literal, endpoint))
    return sorted(out, key=lambda item: -item[2])


def _problems_handler(loose: list[tuple[str, re.Pattern[str], int, Endpoint]]) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            for method, pattern, _literal, endpoint in loose:
                match = pattern.match(request.url.path) if method == request.method else None
                if match is None:
                    continue
                values = match.groupdict()
                # Only a slash inside a value: a trailing one names another resource (``/recordings/x/``), no route.
                inner = any("/" in v.rstrip("/") for v in values.values())
                if inner and not any(v.endswith("/") for v in values.values()):
                    scope = {**request.scope, "path_params": values}
                    return await endpoint(Request(scope, request.receive))
        return await _http_problem(request, exc)

    return handler


async def _http_problem(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (and any other HTTPException) as problem documents."""
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
        return problem_response("too_large", 413, "the request body is too large")
    kind = "invalid_arguments" if 400 <= exc.status_code < 500 else "internal_error"
    return problem_response(kind, exc.status_code, str(exc.detail))


def build_rest_app(
    service: Service,
    *,
    extra_routes: list[BaseRoute] | None = None,
    bearer: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    admit: Admission | None = None,
) -> Starlette:
    """The REST face as a bare Starlette app: the declared routes, ``/openapi.json``, ``/docs``, ``/`` (to the docs)
    and ``extra_routes`` (health, metrics, the skill catalog). The hosting layer adds request ids, Host/Origin checks
    and inbound auth (``bearer`` says that it does, for the OpenAPI document). Entries that cannot be routed are left
    out; :func:`~hms_recordings.faces.rest_routes.plan_routes` says which and why. ``max_body_bytes``: the largest
    request body read (413 above it). ``admit``: asked before each operation runs when the hosting layer authenticated
    the caller (scopes, rate limits); its refusal is the answer (403 with the scope challenge, 429 with
    ``Retry-After``)."""
    if max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be at least 1, not {max_body_bytes}")
    routes, _problems = plan_routes(service)  # reported by the server, which plans once more to log them
    openapi = build_openapi(service, routes, bearer=bearer)
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
        *problem_pages(),
    ]
    words = rest_words(routes)
    endpoints = [(r, _endpoint(service, r, max_body_bytes, words, admit)) for r in routes]
    mounted += [Route(r.route_path, e, methods=[r.method], name=r.operation_id) for r, e in endpoints]
    mounted += forward_routes(service, max_body_bytes)  # after the operations: a declared operation wins its path
    mounted += extra_routes or []
    app = Starlette(routes=mounted, exception_handlers={HTTPException: _problems_handler(_loose(endpoints))})
    # No trailing-slash redirects: Starlette decides them on the decoded path, so `/recordings/abc%2F` would be sent
    # on to `/recordings/abc`, another id than the one given. A path is served as documented, or it is a 404.
    app.router.redirect_slashes = False
    return app
