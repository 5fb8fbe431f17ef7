"""REST ``forward``: a resource whose requests are relayed to a consumed API as they came (the format's proxy).

As the Java engine does (``ResourceRestlet.handleFromForwardSpec``): the method and the body go as they are, the
part of the path the resource's ``{path}`` placeholder matches is appended to the API's ``baseUri``, only the
headers listed in ``trustedHeaders`` are passed on (plus the body's ``Content-Type``), and the API's own fixed
parameters and credential are added by the runtime. One deliberate difference: the query string is relayed too (a
proxy that drops it changes the request).

Refused here, with a problem document and nothing sent: a path segment that could climb out of the API's base
(``..``, ``.``, a backslash, a control character, an encoded ``/`` or ``%``), a query with a control character,
and a body over the REST face's ``max_body_bytes``. The answer keeps the upstream's status, body and content type,
and nothing else of its headers (no ``Set-Cookie``, no ``Location`` into the upstream).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hms_recordings.errors import ToolInputError
from hms_recordings.faces.problems import problem_response
from hms_recordings.faces.request_body import BodyTooLarge, read_capped
from hms_recordings.runtime.bodies import EncodedBody
from hms_recordings.runtime.inventory import ForwardEntry
from hms_recordings.runtime.request import check_path_value
from hms_recordings.runtime.service import Service
from hms_recordings.runtime.upstreams import RelayRequest

__all__ = ["forward_routes"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}|\{([A-Za-z0-9_.-]+)\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _route_path(path: str) -> str:
    """The resource path as a Starlette template: ``{path}`` takes the rest of the path, other placeholders a
    segment each (read, not relayed: the Java engine relays ``path`` alone)."""
    count = 0

    def one(match: re.Match[str]) -> str:
        nonlocal count
        name = match.group(1) or match.group(2)
        if name == "path":
            return "{path:path}"
        count += 1
        return "{p" + str(count) + "}"

    return "/" + _PLACEHOLDER.sub(one, path).lstrip("/")


def _relayed_path(raw: str) -> str:
    segments = raw.split("/")
    kept = [check_path_value("path", s) for s in segments if s]  # climbs and encoded tricks are refused here
    trailing = "/" if raw.endswith("/") and kept else ""
    return ("/" + "/".join(kept) + trailing) if kept else ""


def _endpoint(service: Service, entry: ForwardEntry, limit: int) -> Callable[[Request], Awaitable[Response]]:
    trusted = {h.lower() for h in entry.forward.trusted_headers}

    async def endpoint(request: Request) -> Response:
        request.state.route = entry.resource.path
        try:
            raw = bytes(request.scope.get("raw_path") or b"").lower()
            if b"%2f" in raw or b"%5c" in raw:  # decoded before routing, an encoded slash would become a real one
                raise ToolInputError("`path` must not hold an encoded `/` or `\\`", ["path"])
            path = _relayed_path(str(request.path_params.get("path", "")))
            query = tuple(parse_qsl(request.url.query, keep_blank_values=True))
            if any(_CONTROL.search(k) or _CONTROL.search(v) for k, v in query):
                raise ToolInputError("the query must not contain control characters", [])
            content = await read_capped(request, limit) or None
        except ToolInputError as exc:
            return problem_response("invalid_arguments", 400, exc.message, fields=exc.fields)
        except BodyTooLarge:
            return problem_response("too_large", 413, f"the request body is larger than {limit} bytes")
        headers = tuple((k, v) for k, v in request.headers.items() if k.lower() in trusted)
        body = None
        if content is not None:
            body = EncodedBody(request.headers.get("content-type", "application/octet-stream"), content=content)
        relayed = await service.relay(entry, RelayRequest(request.method, path, query, headers, body))
        if relayed.error is not None:
            error = relayed.error
            return problem_response(error.kind, error.http_status, error.message, fields=error.fields)
        # The content type exactly as the upstream said it (Starlette would add a charset to a text type).
        answer_headers = {"Content-Type": relayed.content_type} if relayed.content_type else None
        return Response(relayed.content, relayed.status, headers=answer_headers)

    return endpoint


def forward_routes(service: Service, max_body_bytes: int) -> list[Route]:
    """One route per forwarding resource, every method the format knows."""
    return [
        Route(_route_path(e.resource.path), _endpoint(service, e, max_body_bytes), methods=_METHODS)
        for e in service.forwards()
    ]
