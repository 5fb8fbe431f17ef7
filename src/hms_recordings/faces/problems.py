"""RFC 9457 problem documents, shared by every HTTP face, and the id of the HTTP request being handled.

The request id is set by the hosting middleware (:mod:`hms_recordings.server.middleware`) and read here, so that a
problem quotes it and a user's report can be found in the log.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from starlette.responses import JSONResponse, Response

from hms_recordings.taxonomy import problem_type, title

__all__ = ["PROBLEM_JSON", "current_request_id", "problem_response", "reset_request_id", "set_request_id"]

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
