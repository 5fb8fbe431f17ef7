"""The result of one tool invocation, and the one place where exceptions become error results.

Every face renders an :class:`Outcome`: MCP as a ``CallToolResult`` (``isError`` for failures), REST as JSON or an
``application/problem+json`` document, the CLI as stdout or stderr with an exit code. Because they all go through
:func:`failure_from_exception`, the same cause gives the same ``kind`` and the same text everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hms_recordings.errors import (
    CredentialError,
    DomainError,
    HmsRecordingsError,
    RateLimited,
    RetryBudgetExhausted,
    ToolInputError,
    UnknownToolError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamTransportError,
)
from hms_recordings.runtime.redact import Redactor

__all__ = ["ErrorInfo", "Outcome", "failure_from_exception"]

logger = logging.getLogger("hms_recordings.runtime")


@dataclass(frozen=True)
class ErrorInfo:
    kind: str  # stable taxonomy: invalid_arguments, unknown_tool, credentials, not_found, conflict, ...
    message: str
    http_status: int  # what the REST face answers
    fields: tuple[str, ...] = ()
    upstream_status: int | None = None
    retry_after: float | None = None
    data: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.upstream_status is not None:
            out["upstream_status"] = self.upstream_status
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass(frozen=True)
class Outcome:
    tool: str
    data: Any = None
    error: ErrorInfo | None = None
    notes: tuple[str, ...] = field(default=())
    text: str | None = None  # the JSON text of ``data``, when the engine already wrote it

    @property
    def ok(self) -> bool:
        return self.error is None


def _upstream_kind(status: int) -> tuple[str, int]:
    if status == 400:
        return "invalid_request", 400
    if status in (401, 403):
        return "credentials", 502
    if status == 404:
        return "not_found", 404
    if status == 409:
        return "conflict", 409
    if status == 413:
        return "too_large", 413
    if status == 422:
        return "invalid_request", 422
    if status == 429:
        return "rate_limited", 429
    if 400 <= status < 500:
        return "upstream_rejected", status
    return "upstream_error", 502


def failure_from_exception(exc: BaseException, redactor: Redactor, *, tool: str = "") -> ErrorInfo:
    """Translate any exception into the shared taxonomy; unexpected ones keep their text on the server."""
    if isinstance(exc, UnknownToolError):
        return ErrorInfo("unknown_tool", redactor(exc.message), 404, tuple(exc.fields))
    if isinstance(exc, ToolInputError):
        return ErrorInfo("invalid_arguments", redactor(exc.message), 400, tuple(exc.fields))
    if isinstance(exc, CredentialError):
        return ErrorInfo("credentials", redactor(exc.message), 502)
    if isinstance(exc, DomainError):
        status = exc.status or 409
        return ErrorInfo(exc.kind, redactor(exc.message), status, data=exc.data)
    if isinstance(exc, RetryBudgetExhausted):
        inner = failure_from_exception(exc.last, redactor, tool=tool)
        return ErrorInfo(
            inner.kind,
            redactor(exc.message),
            inner.http_status,
            upstream_status=inner.upstream_status,
            retry_after=inner.retry_after,
        )
    if isinstance(exc, UpstreamStatusError):
        kind, http_status = _upstream_kind(exc.status)
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        return ErrorInfo(kind, redactor(exc.message), http_status, upstream_status=exc.status, retry_after=retry_after)
    if isinstance(exc, UpstreamTimeout):
        return ErrorInfo("upstream_timeout", redactor(exc.message), 504)
    if isinstance(exc, UpstreamTransportError):
        return ErrorInfo("upstream_unavailable", redactor(exc.message), 502)
    if isinstance(exc, UpstreamError):
        return ErrorInfo(exc.kind, redactor(exc.message), 502)  # the upstream's fault, not ours: a bad gateway
    if isinstance(exc, HmsRecordingsError):
        return ErrorInfo(exc.kind, redactor(exc.message), 500)
    # A bug: log it (scrubbed by the logging filter) and say nothing specific to the caller.
    logger.error("tool %s failed unexpectedly", tool or "?", exc_info=exc)
    return ErrorInfo("internal_error", f"{tool or 'the tool'} failed unexpectedly; see the server log", 500)
