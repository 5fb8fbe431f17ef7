"""The layers in front of every HTTP face: request ids and the access log, Host/Origin checks, bearer auth.

:func:`guard` stacks them, outermost first: :class:`RequestContext` (an id per request, one access-log line),
:class:`HostOriginCheck` (DNS-rebinding protection, 421/403 problems), then :class:`BearerAuth` when
``HMS_RECORDINGS_AUTH_TOKEN`` is set. Rejections are counted in the server's :class:`~.metrics.Metrics`.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms_recordings.faces.problems import problem_response, reset_request_id, set_request_id
from hms_recordings.server.logging import install_request_ids
from hms_recordings.server.metrics import Metrics
from hms_recordings.server.settings import ServeSettings, is_loopback

__all__ = [
    "BearerAuth",
    "HostOriginCheck",
    "RequestContext",
    "bearer_token",
    "escape_for_log",
    "guard",
    "transport_security",
]

access_log = logging.getLogger("hms_recordings.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Control characters (C0, DEL, C1) and the Unicode line separators: a decoded ``%0a`` in a path must not start a new
#: log line that looks like one of ours.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_LOGGED_PATH = 512


def escape_for_log(text: str) -> str:
    """``text`` with every control character written as ``\\xNN`` (or ``\\uNNNN``), cut to a bounded length."""
    escaped = _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text
    )
    return escaped if len(escaped) <= MAX_LOGGED_PATH else escaped[:MAX_LOGGED_PATH] + "…"


class RequestContext:
    """Outermost layer: assigns the request id, writes one access-log line, counts 401/421 and face rejections.

    The line says method, route (the path template when the face knows it, never the query string), status and
    duration; bodies and headers are never logged."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        install_request_ids()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        token = set_request_id(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            if self.metrics is not None and status == 401:
                self.metrics.reject("unauthorized")
            if self.metrics is not None and status == 421:
                self.metrics.reject("host_not_allowed")  # ours, or the SDK's own Host check on /mcp
            rejection = scope["state"].get("rejection")
            if self.metrics is not None and isinstance(rejection, str):
                self.metrics.reject(rejection)  # refused by the face itself (a body that is not an object...)
            route = scope["state"].get("route") or scope.get("path", "")
            access_log.info(
                "%s %s %d %.1f ms",
                escape_for_log(str(scope.get("method", ""))),
                escape_for_log(str(route)),
                status,
                elapsed,
                extra={"duration_ms": round(elapsed, 1)},
            )
            reset_request_id(token)


def _allowed(value: str, allowed: list[str]) -> bool:
    return value in allowed or any(a.endswith(":*") and value.startswith(a[:-1]) for a in allowed)


class HostOriginCheck:
    """DNS-rebinding protection with the same allowed hosts and origins as the MCP transport (421 / 403 problems)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: TransportSecuritySettings,
        *,
        exempt: tuple[str, ...] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.exempt = exempt  # path prefixes checked by someone else (the SDK checks /mcp itself)
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.settings.enable_dns_rebinding_protection
            or any(scope.get("path", "").startswith(p) for p in self.exempt)
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host, origin = headers.get("host", ""), headers.get("origin")
        problem = None
        if not host or not _allowed(host, self.settings.allowed_hosts):
            problem = problem_response("host_not_allowed", 421, f"Host {escape_for_log(host)!r} is not served here")
        elif origin and not _allowed(origin, self.settings.allowed_origins):
            problem = problem_response("host_not_allowed", 403, f"Origin {escape_for_log(origin)!r} is not allowed")
        if problem is None:
            await self.app(scope, receive, send)
            return
        if self.metrics is not None and problem.status_code == 403:
            self.metrics.reject("host_not_allowed")  # a 421 is counted by RequestContext
        await problem(scope, receive, send)


def bearer_token(scope: Scope) -> bytes | None:
    """The token of the request's ``Authorization: Bearer <token>`` header (scheme in any case), else ``None``."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, presented = value.partition(b" ")
            return presented.strip(b" ") if scheme.lower() == b"bearer" else None
    return None


class BearerAuth:
    """Requires ``Authorization: Bearer <HMS_RECORDINGS_AUTH_TOKEN>``, compared in constant time.

    The inbound token is ours alone: it is checked here and never forwarded upstream (upstream requests are built
    from the capability file only)."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        *,
        exempt: tuple[str, ...] = ("/health/live",),
        reject: Callable[[], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self._token = token.encode()
        self.exempt = exempt
        self.reject = reject  # builds the 401 answer instead of the default JSON (REST: a problem document)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        # An entry ending in "/" exempts everything under it (the problem pages); others exempt one exact path.
        if (
            scope["type"] != "http"
            or path in self.exempt
            or any(p.endswith("/") and path.startswith(p) for p in self.exempt)
        ):
            await self.app(scope, receive, send)
            return
        # The auth-scheme is case-insensitive (RFC 7235 §2.1): "bearer <token>" is the same credential. Only the
        # token is secret, so only it needs the constant-time comparison.
        # Regression test: tests/reliability/test_inbound_http.py::test_the_bearer_scheme_is_case_insensitive
        presented = bearer_token(scope)
        if presented is not None and hmac.compare_digest(presented, self._token):
            await self.app(scope, receive, send)
            return
        if self.reject is not None:
            await self.reject()(scope, receive, send)
            return
        body = b'{"error":"unauthorized","message":"send Authorization: Bearer <HMS_RECORDINGS_AUTH_TOKEN>"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="hms-recordings"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def transport_security(settings: ServeSettings) -> TransportSecuritySettings:
    """Host and Origin checks on every address (the SDK only adds them by itself on loopback)."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if not is_loopback(settings.host) and settings.host not in ("0.0.0.0", "::"):
        hosts.append(f"{settings.host}:*")
    hosts += [h if ":" in h else f"{h}:*" for h in settings.allowed_hosts or ()]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def _unauthorized() -> ASGIApp:
    return problem_response(
        "unauthorized",
        401,
        "send Authorization: Bearer <HMS_RECORDINGS_AUTH_TOKEN>",
        headers={"WWW-Authenticate": 'Bearer realm="hms-recordings"'},
    )


def guard(
    app: ASGIApp,
    settings: ServeSettings,
    metrics: Metrics | None,
    *,
    sdk_checked: tuple[str, ...] = (),
    oauth: Callable[[ASGIApp], ASGIApp] | None = None,
) -> ASGIApp:
    """Request ids and access log (outermost), Host/Origin checks, then inbound auth when a token is configured.

    ``sdk_checked``: path prefixes whose Host/Origin check the MCP SDK already makes (it answers in its own format);
    on such a face a 401 is the plain JSON MCP clients expect, elsewhere a problem document. ``oauth`` wraps the app
    in the OAuth layer (:class:`~hms_recordings.server.oauth.OAuthAuth`) instead of the static bearer check."""
    token = settings.bearer_token()
    if oauth is not None:
        app = oauth(app)
    elif token:
        app = BearerAuth(
            app,
            token,
            exempt=("/health/live", "/docs", "/problems", "/problems/"),
            reject=None if sdk_checked else _unauthorized,
        )
    app = HostOriginCheck(app, transport_security(settings), exempt=sdk_checked, metrics=metrics)
    return RequestContext(app, metrics=metrics)
