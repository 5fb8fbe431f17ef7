"""RFC 9457 problem documents, shared by every HTTP face, and the id of the HTTP request being handled.

The request id is set by the hosting middleware (:mod:`hms_recordings.server.middleware`) and read here, so that a
problem quotes it and a user's report can be found in the log.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hms_recordings.taxonomy import KINDS, PROBLEM_BASE, problem_type, title

__all__ = [
    "PROBLEM_JSON",
    "current_request_id",
    "problem_pages",
    "problem_response",
    "reset_request_id",
    "set_request_id",
]

PROBLEM_JSON = "application/problem+json"
_request_id: ContextVar[str | None] = ContextVar("hms_recordings_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the HTTP request being handled in this task, if any."""
    return _request_id.get()


def set_request_id(rid: str) -> Token[str | None]:
    return _request_id.set(rid)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


def problem_response(
    kind: str,
    status: int,
    detail: str,
    *,
    request_id: str | None = None,
    fields: tuple[str, ...] | list[str] = (),
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 ``application/problem+json`` answer; the request id is quoted in ``detail`` and as a member."""
    rid = request_id or current_request_id()
    body: dict[str, Any] = {
        "type": problem_type(kind),
        "title": title(kind),
        "status": status,
        "detail": f"{detail} (request {rid})" if rid else detail,
        "kind": kind,
    }
    if fields:
        body["fields"] = list(fields)
    body.update(extra or {})
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _page(heading: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(heading)}</title>"
        f"<body style='font-family:sans-serif;max-width:48em;margin:2em auto'><h1>{escape(heading)}</h1>{body}</body>"
        "</html>"
    )


def problem_pages() -> list[BaseRoute]:
    """``GET /problems`` and ``GET /problems/{kind}``: the pages a problem's ``type`` points to, from the taxonomy
    (what the kind means, what to do next). Served without the bearer token, like ``/docs``."""

    async def index(request: Request) -> Response:
        items = "".join(
            f"<li><a href='{PROBLEM_BASE}{kind}'><code>{kind}</code></a>: {escape(k.meaning)}</li>"
            for kind, k in KINDS.items()
        )
        return HTMLResponse(_page("Problem types", f"<ul>{items}</ul>"))

    async def one(request: Request) -> Response:
        kind = request.path_params["kind"]
        known = KINDS.get(kind)
        if known is None:
            return problem_response("no_route", 404, f"no problem type {kind!r}; see {PROBLEM_BASE.rstrip('/')}")
        body = (
            f"<p><b>{escape(title(kind))}</b> (<code>{kind}</code>): {escape(known.meaning)}.</p>"
            f"<p>What to do: {escape(known.next_step)}.</p>"
            f"<p><a href='{PROBLEM_BASE.rstrip('/')}'>All problem types</a></p>"
        )
        return HTMLResponse(_page(title(kind), body))

    return [
        Route(PROBLEM_BASE.rstrip("/"), index, methods=["GET"]),
        Route(PROBLEM_BASE + "{kind}", one, methods=["GET"]),
    ]
