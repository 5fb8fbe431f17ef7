"""The layers in front of every HTTP face: request ids and the access log, Host/Origin checks, bearer auth.

:func:`guard` stacks them, outermost first: :class:`RequestContext` (an id per request, one access-log line),
:class:`HostOriginCheck` (DNS-rebinding protection, 421/403 problems), then :class:`BearerAuth` when
``HMS_RECORDINGS_AUTH_TOKEN`` is set. Rejections are counted in the server's :class:`~.metrics.Metrics`.
:class:`SessionFairness` sits in front of the stateful MCP endpoint only (one client cannot hold every session).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms_recordings.faces.problems import problem_response, reset_request_id, set_request_id
from hms_recordings.runtime.access import principal_of
from hms_recordings.server.logging import install_request_ids
from hms_recordings.server.metrics import Metrics
from hms_recordings.server.settings import ServeSettings, is_loopback

__all__ = [
    "BearerAuth",
    "HostOriginCheck",
    "RequestContext",
    "SessionFairness",
    "bearer_token",
    "escape_for_log",
    "guard",
    "transport_security",
]

access_log = logging.getLogger("hms_recordings.access")
logger = logging.getLogger("hms_recordings.server")

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


@dataclass
class _Session:
    client: str
    last_seen: float
    in_flight: int = 0


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value)
    return None


class SessionFairness:
    """Bounds the stateful MCP sessions each client holds, and makes room for a new client when all are taken.

    The SDK's session manager bounds the sessions of everyone together (``max_sessions``, then 503) and reaps one
    idle for ``idle_timeout``. Alone, that lets one client open them all with bare ``initialize`` requests and lock
    every other client out until they expire. This layer, in front of the endpoint, follows each session from the
    answer that opened it (its ``Mcp-Session-Id``) to its end (``DELETE``, a 404, or ``idle_timeout`` without a
    request in flight, the SDK's own rule), per client: the remote address (one shared inbound token names no
    caller), or the OAuth subject when the caller was authenticated as one. Then:

    - a client that holds ``per_client`` sessions gets **429** with ``Retry-After`` (when its oldest idle session
      expires) instead of another one;
    - when ``max_sessions`` are open, the least recently used *idle* session of the client holding the most is
      closed (a ``DELETE`` on its behalf), so the newcomer is served; its owner's next request gets 404 and, as the
      protocol says, initializes again;
    - when none is idle, the SDK's 503 goes out with a ``Retry-After``.

    What it keeps is bounded by the live sessions (at most ``max_sessions``, plus those expired since the last
    opening request, which prunes them)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_client: int,
        max_sessions: int,
        idle_timeout: float,
        path: str = "/mcp",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_client = per_client
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.path = path
        self.clock = clock
        self._sessions: dict[str, _Session] = {}
        self._opening_now: Counter[str] = Counter()  # per client: opening requests not answered yet

    def held_by(self, client: str) -> int:
        return sum(1 for s in self._sessions.values() if s.client == client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"mcp-session-id")
        if given is not None:
            await self._existing(given.decode("latin-1"), scope, receive, send)
        elif scope.get("method") == "POST":
            await self._opening(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _existing(self, sid: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._sessions.get(sid)
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if session is not None:
            session.in_flight += 1
        try:
            await self.app(scope, receive, watch)
        finally:
            if session is not None:
                session.in_flight -= 1
                session.last_seen = self.clock()
                if status == 404 or (scope.get("method") == "DELETE" and status < 300):
                    self._sessions.pop(sid, None)

    def _prune(self, now: float) -> None:
        expired = [
            sid for sid, s in self._sessions.items() if s.in_flight == 0 and now - s.last_seen >= self.idle_timeout
        ]
        for sid in expired:
            del self._sessions[sid]

    def _retry_after(self, sessions: list[_Session], now: float) -> int:
        """Seconds until the first of ``sessions`` expires (the idle timeout when all are busy), at least 1."""
        ends = [s.last_seen + self.idle_timeout - now for s in sessions if s.in_flight == 0]
        return max(1, math.ceil(min(ends) if ends else self.idle_timeout))

    async def _opening(self, scope: Scope, receive: Receive, send: Send) -> None:
        now = self.clock()
        self._prune(now)
        client = _client_key(scope)
        mine = [s for s in self._sessions.values() if s.client == client]
        if len(mine) + self._opening_now[client] >= self.per_client:
            wait = self._retry_after(mine, now)
            message = (
                f"this client already holds {self.per_client} open MCP sessions; close one (DELETE /mcp with its "
                f"Mcp-Session-Id) or retry after {wait} s, when its oldest idle one expires"
            )
            scope.setdefault("state", {})["rejection"] = "too_many_sessions"  # counted by RequestContext
            await _json_rpc_refusal(send, 429, message, wait)
            return
        # Openings still in flight count too: the SDK admits them before they answer, and concurrent newcomers
        # must each find room (each one closes its own idle session rather than all seeing the same free place).
        self._opening_now[client] += 1
        pending = True
        status, opened = 500, ""

        def settled() -> None:
            nonlocal pending
            if pending:
                pending = False
                self._opening_now[client] -= 1
                if self._opening_now[client] <= 0:
                    del self._opening_now[client]

        async def watch(message: Message) -> None:
            nonlocal status, opened
            if message["type"] == "http.response.start":
                status = message["status"]
                given = next((v for k, v in message.get("headers", []) if k.lower() == b"mcp-session-id"), None)
                if status < 400 and given is not None:
                    opened = bytes(given).decode("latin-1")
                    self._sessions[opened] = _Session(client, self.clock(), in_flight=1)
                settled()
                if status == 503:  # the SDK's own limit: say when to come back
                    wait = self._retry_after(list(self._sessions.values()), self.clock())
                    message = {**message, "headers": [*message.get("headers", []), (b"retry-after", b"%d" % wait)]}
            await send(message)

        try:
            if len(self._sessions) + sum(self._opening_now.values()) > self.max_sessions:
                await self._make_room(scope)
            await self.app(scope, receive, watch)
        finally:
            settled()
            session = self._sessions.get(opened) if opened else None
            if session is not None:
                session.in_flight -= 1
                session.last_seen = self.clock()

    async def _make_room(self, scope: Scope) -> None:
        """Close the least recently used idle session of the client that holds the most (see the class docstring)."""
        counts: dict[str, int] = {}
        for s in self._sessions.values():
            counts[s.client] = counts.get(s.client, 0) + 1
        idle = [(sid, s) for sid, s in self._sessions.items() if s.in_flight == 0]
        if not idle:
            return
        sid, _victim = min(idle, key=lambda item: (-counts[item[1].client], item[1].last_seen))
        keep = (b"host", b"origin", b"authorization", b"mcp-protocol-version")
        headers = [(k, v) for k, v in scope.get("headers", []) if k in keep] + [(b"mcp-session-id", sid.encode())]
        closing: Scope = {**scope, "method": "DELETE", "headers": headers, "query_string": b""}

        async def nothing_more() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            return None

        logger.info("closing idle MCP session %s… of %s to admit a new client", sid[:8], escape_for_log(_victim.client))
        self._sessions.pop(sid, None)
        await self.app(closing, nothing_more, discard)


def _client_key(scope: Scope) -> str:
    """Who holds a session: the OAuth subject when the caller was authenticated as one, else the remote address."""
    principal = principal_of(scope)
    if principal is not None:
        return f"subject {principal.subject}"
    return str((scope.get("client") or ("unknown", 0))[0])


async def _json_rpc_refusal(send: Send, status: int, message: str, retry_after: int) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(retry_after).encode()),
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
    open_paths: tuple[str, ...] = (),
) -> ASGIApp:
    """Request ids and access log (outermost), Host/Origin checks, then inbound auth when a token is configured.

    ``sdk_checked``: path prefixes whose Host/Origin check the MCP SDK already makes (it answers in its own format);
    on such a face a 401 is the plain JSON MCP clients expect, elsewhere a problem document. ``oauth`` wraps the app
    in the OAuth layer (:class:`~hms_recordings.server.oauth.OAuthAuth`) instead of the static bearer check.
    ``open_paths``: paths that authenticate their callers themselves (the webhook receiver's secret header), exempt
    from the static token."""
    token = settings.bearer_token()
    if oauth is not None:
        app = oauth(app)
    elif token:
        exempt = ("/health/live", "/docs", "/problems", "/problems/", *open_paths)
        app = BearerAuth(app, token, exempt=exempt, reject=None if sdk_checked else _unauthorized)
    app = HostOriginCheck(app, transport_security(settings), exempt=sdk_checked, metrics=metrics)
    return RequestContext(app, metrics=metrics)
