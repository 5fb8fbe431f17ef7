"""Per-tool scopes and per-caller limits, decided before a call runs.

:func:`admission` builds the one decision both HTTP faces use: a caller without a scope the tool needs gets a 403
with ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`` (the scopes the tool needs, which is what an
OAuth client steps up to); a caller over its rate gets a 429 with ``Retry-After``. The REST face asks it per route.

MCP carries the tool's name inside the JSON-RPC body, and the specification's scope challenge is an HTTP 403 on the
request, which is also what the SDK's client reacts to (it re-authorizes with the named scopes). So
:class:`McpCallGate` reads the body of each ``POST /mcp`` (bounded, then handed on unchanged), and answers a
``tools/call`` that is not admitted itself; every other message passes. The MCP face checks the scopes once more
when the call arrives (and filters ``tools/list``), so nothing depends on this layer alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms_recordings.runtime.access import Admission, Principal, Refusal, ScopePolicy, principal_of
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.service import Service
from hms_recordings.server.oauth import FaceAuth, JwksCache, JwtVerifier, OAuthAuth, challenge, check_issuer
from hms_recordings.server.ratelimit import TokenBuckets
from hms_recordings.server.settings import ServeSettings
from hms_recordings.taxonomy import KINDS, PROBLEM_BASE

__all__ = ["Access", "McpCallGate", "admission", "open_access"]


def admission(policy: ScopePolicy, buckets: TokenBuckets | None, resource: str) -> Admission:
    def admit(principal: Principal, tool: CompiledTool) -> Refusal | None:
        needed = policy.required(tool)
        if not needed <= principal.scopes:
            scopes = sorted(needed)
            missing = ", ".join(sorted(needed - principal.scopes))
            message = f"{tool.name} needs the scope {missing}, which this access token does not grant"
            header = challenge(resource, scopes, "insufficient_scope", message)
            return Refusal(403, "insufficient_scope", message, {"WWW-Authenticate": header})
        wait = buckets.take(principal.subject) if buckets is not None else None
        if wait is not None:
            seconds = TokenBuckets.retry_after(wait)
            message = f"too many calls from {principal.subject}; retry in {seconds} s"
            return Refusal(429, "caller_rate_limited", message, {"Retry-After": str(seconds)}, float(seconds))
        return None

    return admit


def _tool_name(body: bytes) -> str | None:
    """The tool a ``tools/call`` message names; ``None`` for anything else (which the SDK answers as it does)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return name if isinstance(name, str) else None


class McpCallGate:
    """Admits or refuses each MCP ``tools/call`` at the HTTP layer (see the module docstring)."""

    def __init__(self, app: ASGIApp, service: Service, admit: Admission, *, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.admit = admit
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(scope)
        if scope["type"] != "http" or scope.get("method") != "POST" or principal is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body_bytes or not message.get("more_body", False):
                break  # too large: handed on as it is, and the SDK refuses it (413)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        name = _tool_name(body) if size <= self.max_body_bytes else None
        tool = self.service.tool(name) if name is not None else None
        refusal = self.admit(principal, tool) if tool is not None else None
        if refusal is not None:
            scope.setdefault("state", {})["rejection"] = refusal.kind
            payload: dict[str, Any] = {"error": refusal.kind, "error_description": refusal.message}
            if refusal.retry_after is not None:
                payload["retry_after"] = refusal.retry_after
            await JSONResponse(payload, status_code=refusal.status, headers=dict(refusal.headers))(scope, receive, send)
            return
        pending = list(messages)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)


@dataclass
class Access:
    """Everything a hosted server needs to accept OAuth callers: the verifier, the scope policy, the buckets."""

    verifier: JwtVerifier
    policy: ScopePolicy
    buckets: TokenBuckets | None

    @property
    def issuer(self) -> str:
        return self.verifier.issuer

    def layer(self, face: FaceAuth, open_paths: tuple[str, ...] = ()) -> Callable[[ASGIApp], ASGIApp]:
        # open_paths authenticate their callers themselves (the webhook receiver's secret header); the problem pages
        # are public like /docs: a problem's `type` must resolve for a caller without a token.
        pages = ("/problems", *(PROBLEM_BASE + kind for kind in KINDS))
        exempt = ("/health/live", "/docs", *pages, *open_paths)
        return lambda app: OAuthAuth(app, self.verifier, face, exempt=exempt)

    def admission(self, resource: str) -> Admission:
        return admission(self.policy, self.buckets, resource)

    async def aclose(self) -> None:
        await self.verifier.keys.aclose()


def open_access(settings: ServeSettings, *, client: httpx2.AsyncClient | None = None) -> Access | None:
    """The OAuth setup the settings ask for (``None`` when ``HMS_RECORDINGS_OAUTH_ISSUER`` is not set)."""
    if settings.oauth_issuer is None or settings.oauth_audience is None:
        return None
    check_issuer(settings.oauth_issuer)
    keys = JwksCache(
        settings.oauth_issuer,
        jwks_url=settings.oauth_jwks_url,
        client=client,
        cache_seconds=settings.jwks_cache_seconds,
        refetch_interval=settings.jwks_refetch_interval,
    )
    verifier = JwtVerifier(keys, audience=settings.oauth_audience, leeway=settings.oauth_leeway)
    policy = ScopePolicy(read=settings.oauth_read_scope, write=settings.oauth_write_scope)
    return Access(verifier, policy, TokenBuckets(settings.rate_limit, settings.rate_burst))
