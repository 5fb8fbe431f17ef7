"""The 100ms error model and cheap JSON responses.

Every error body is ``{"code": <status>, "message": <text>}`` plus ``"details": [...]`` when there is more to say
(reference §2). Responses are serialised with :mod:`json` directly: no pydantic on the hot path.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

__all__ = ["ApiError", "error_body", "json_response"]


class ApiError(Exception):
    """An answer the real API gives as an error; raised anywhere below a handler, rendered once by the app."""

    def __init__(
        self, status: int, message: str, details: list[str] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers

    def response(self) -> Response:
        return json_response(error_body(self.status, self.message, self.details), self.status, self.headers)


def error_body(status: int, message: str, details: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": status, "message": message}
    if details:
        body["details"] = details
    return body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(payload, status, headers, media_type="application/json")
