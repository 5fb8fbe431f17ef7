"""The one exception tree of hms-recordings.

Every failure the project raises on purpose is one of these classes, so that each face (MCP, REST, skill, CLI)
translates errors in exactly one place (:func:`hms_recordings.runtime.outcome.failure_from_exception`) and gives the
same text for the same cause::

    HmsRecordingsError
    ├── CapabilityError            a capability file cannot be read or used (carries file, line, YAML path)
    │   └── BindingError           a bound variable (``binds``) is missing at start-up
    ├── ConfigError                the command line or environment is inconsistent (refuse to start)
    ├── ToolInputError             a tool's arguments are rejected before anything is sent upstream
    │   └── UnknownToolError       no tool of that name is served (a protocol error on MCP)
    ├── CredentialError            no usable upstream credential (nothing to send, or the upstream refused it)
    ├── DomainError                a business rule said no (e.g. "room already recording"), with a next step
    └── UpstreamError              the upstream call failed (``.operation`` names it)
        ├── UpstreamTransportError the request got no HTTP answer
        │   ├── UpstreamTimeout    connect/read/total deadline exceeded
        │   └── UpstreamConnectError  refused, DNS, TLS, dropped connection
        ├── UpstreamStatusError    the upstream answered with a status >= 400 (``.status``, ``.message``, ``.body``)
        │   └── RateLimited        429 (``.retry_after`` seconds, when the upstream said)
        ├── UpstreamAnswerError    an answer that is not a result: too large, or not the JSON declared
        └── RetryBudgetExhausted   retries ran out; ``.last`` is the final failure

Messages are written for the reader who must act on them (a model, a script, a human) and never contain secrets:
callers pass already-redacted text, and :mod:`hms_recordings.runtime.redact` scrubs what comes from the upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "BindingError",
    "CapabilityError",
    "ConfigError",
    "CredentialError",
    "DomainError",
    "Finding",
    "HmsRecordingsError",
    "RateLimited",
    "RetryBudgetExhausted",
    "ToolInputError",
    "UnknownToolError",
    "UpstreamAnswerError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamStatusError",
    "UpstreamTimeout",
    "UpstreamTransportError",
]


class HmsRecordingsError(Exception):
    """Base of every error this project raises on purpose."""

    #: A stable, machine-readable kind shared by every face (MCP ``isError`` text, REST problem ``type``, CLI exit).
    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Finding:
    """One problem found in a capability file, located by YAML path and line (1-based; 0 when unknown)."""

    path: str
    line: int
    message: str
    fix: str = ""
    severity: str = "error"
    file: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else f"line {self.line}"
        text = f"{where}: {self.path}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class CapabilityError(HmsRecordingsError):
    """A capability file cannot be loaded or served. ``findings`` lists every problem with its location."""

    kind = "capability_error"

    def __init__(self, message: str, findings: list[Finding] | None = None, file: str = "") -> None:
        super().__init__(message)
        self.findings = list(findings or [])
        self.file = file


class BindingError(CapabilityError):
    """A variable named in ``binds`` is not set; start-up stops and names it."""

    kind = "binding_error"


class ConfigError(HmsRecordingsError):
    """The requested configuration cannot work (e.g. no credentials and no emulator)."""

    kind = "config_error"


class ToolInputError(HmsRecordingsError):
    """Arguments rejected before any upstream request. ``fields`` names the offending arguments."""

    kind = "invalid_arguments"

    def __init__(self, message: str, fields: list[str] | None = None, tool: str = "") -> None:
        super().__init__(message)
        self.fields = list(fields or [])
        self.tool = tool


class UnknownToolError(ToolInputError):
    kind = "unknown_tool"


class CredentialError(HmsRecordingsError):
    """No credential to send, or the upstream rejected the one we sent; says which variable to check."""

    kind = "credentials"


class DomainError(HmsRecordingsError):
    """A business rule refused the call. ``data`` carries structured context (e.g. the active recording)."""

    kind = "conflict"

    def __init__(self, message: str, *, kind: str | None = None, status: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.status = status
        self.data = data


class UpstreamError(HmsRecordingsError):
    """The upstream call failed. ``operation`` is ``namespace.operation`` from the capability file."""

    kind = "upstream_error"

    def __init__(self, message: str, *, operation: str = "", method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.operation = operation
        self.method = method
        self.url = url


class UpstreamTransportError(UpstreamError):
    kind = "upstream_unavailable"


class UpstreamTimeout(UpstreamTransportError):
    kind = "upstream_timeout"


class UpstreamConnectError(UpstreamTransportError):
    kind = "upstream_unavailable"


class UpstreamStatusError(UpstreamError):
    """The upstream answered ``status`` >= 400; ``upstream_message`` is its own ``message`` field when it had one."""

    kind = "upstream_status"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        upstream_message: str = "",
        body: Any = None,
        operation: str = "",
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, operation=operation, method=method, url=url)
        self.status = status
        self.upstream_message = upstream_message
        self.body = body


class RateLimited(UpstreamStatusError):
    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamAnswerError(UpstreamError):
    """The upstream answered, but not with a result: more than the size cap, or not the JSON the operation declares."""

    kind = "upstream_error"


class RetryBudgetExhausted(UpstreamError):
    """Every allowed attempt failed, or the total deadline passed; ``last`` is the final failure."""

    kind = "retry_budget_exhausted"

    def __init__(self, message: str, *, last: UpstreamError, attempts: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.last = last
        self.attempts = attempts
