"""Running the faces: build the engine once, then serve MCP over stdio or Streamable HTTP (and REST when declared).

Over HTTP every face runs in this one process, each on its port: MCP (``--port``), REST with ``/openapi.json``,
``/docs`` and the skill catalog (``--rest-port``, else the rest expose's port), and the operations routes
(``/health/*``, ``/metrics``) on each of them, or only on the control expose's port when the capability declares one.
Every HTTP face gets request ids and access logs, Host/Origin checks and, when ``HMS_RECORDINGS_AUTH_TOKEN`` is set,
inbound bearer authentication.

``--emulator`` starts the embedded emulator on a free loopback port in the same event loop, points every consumed API
hosted on ``api.100ms.live`` at it, and gives the engine the emulator's credentials (the app key and secret, and a
management token minted from them) so that it works with nothing configured.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.capability.model import Capability
from hms_recordings.config import ServeConfig, is_loopback
from hms_recordings.errors import ConfigError
from hms_recordings.faces.mcp import build_mcp_server
from hms_recordings.faces.ops import (
    HostOriginCheck,
    RequestContextMiddleware,
    control_expose,
    metrics_for,
    ops_routes,
    problem_response,
)
from hms_recordings.logs import configure_logging
from hms_recordings.runtime.engine import Engine, RuntimeSettings
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts
from hms_recordings.tokens import AppCredentials, mint_management_token

__all__ = [
    "UPSTREAM_HOSTS",
    "BearerAuthMiddleware",
    "build_http_app",
    "build_rest_http_app",
    "guard_http_face",
    "open_engine",
    "run_server",
]

logger = logging.getLogger("hms_recordings.serve")

#: Hosts the emulator stands in for.
UPSTREAM_HOSTS = frozenset({"api.100ms.live", "api-nonprod.100ms.live"})
MAX_REQUEST_BYTES = 1_048_576


@dataclass
class EngineTarget:
    """Where the engine's upstream calls go, decided once."""

    upstreams: dict[str, str]
    env: Mapping[str, str]
    transports: dict[str, Any]


def emulator_env(env: Mapping[str, str], creds: AppCredentials) -> dict[str, str]:
    """The environment as seen with ``--emulator``: the emulator's key and secret, and a token minted from them."""
    out = dict(env)
    out["HMS_ACCESS_KEY"] = creds.access_key
    out["HMS_APP_SECRET"] = creds.app_secret
    out["HMS_MANAGEMENT_TOKEN"] = mint_management_token(creds)
    return out


def emulated_upstreams(capability: Capability, base_url: str) -> dict[str, str]:
    out = {}
    for namespace, api in capability.consumes.items():
        parts = urlsplit(api.base_uri)
        if parts.hostname in UPSTREAM_HOSTS:
            out[namespace] = base_url.rstrip("/") + parts.path
    return out


@asynccontextmanager
async def open_engine(
    capability: Capability,
    *,
    read_only: bool = False,
    tools: tuple[str, ...] | None = None,
    upstreams: Mapping[str, str] | None = None,
    emulator: str | None = None,
    env: Mapping[str, str] | None = None,
    check_credentials: bool = True,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    max_concurrency: int | None = None,
) -> AsyncIterator[Engine]:
    """An engine for ``serve`` and ``call``.

    ``emulator``: ``"socket"`` (a real loopback server, so presigned URLs can be downloaded by anyone),
    ``"inprocess"`` (ASGI transport, no socket) or ``None``.
    """
    env = dict(os.environ if env is None else env)
    async with AsyncExitStack() as stack:
        targets = dict(upstreams or {})
        transports: dict[str, Any] = {}
        if emulator is not None:
            from hms_recordings.emulator import EmulatorConfig, create_app, serve_in_background

            creds = AppCredentials.from_env(env, allow_development=True)
            assert creds is not None
            config = EmulatorConfig(credentials=creds)
            if emulator == "socket":
                running = await stack.enter_async_context(serve_in_background(config))
                targets.update(emulated_upstreams(capability, running.base_url))
            else:
                import httpx2

                base = "http://emulator.invalid"
                mapped = emulated_upstreams(capability, base)
                app = create_app(config)
                # The emulator's lifespan runs its webhook sender and clock ticker; ASGITransport does not run it.
                await stack.enter_async_context(app.router.lifespan_context(app))
                transport = httpx2.ASGITransport(app=app)
                targets.update(mapped)
                transports.update({ns: transport for ns in mapped})
            env = emulator_env(env, creds)
        # Upstream resilience from ServeConfig (HMS_RECORDINGS_RETRY_*, _TIMEOUT_*, _MAX_CONCURRENCY); None = default.
        tuning: dict[str, Any] = {"retry": retry, "timeouts": timeouts, "max_concurrency": max_concurrency}
        engine = Engine(
            capability,
            RuntimeSettings(
                upstreams=targets,
                transports=transports,
                env=env,
                read_only=read_only,
                tools=tools,
                **{k: v for k, v in tuning.items() if v is not None},
            ),
        )
        stack.push_async_callback(engine.aclose)
        problems = engine.credential_problems()
        if problems and check_credentials:
            raise ConfigError(
                "no upstream credentials: "
                + "; ".join(problems)
                + ". Or pass --emulator to try everything against the embedded 100ms emulator."
            )
        yield engine


class BearerAuthMiddleware:
    """Requires ``Authorization: Bearer <HMS_RECORDINGS_AUTH_TOKEN>`` on every HTTP request, compared in constant time.

    The inbound token is ours alone: it is checked here and never forwarded upstream (the engine builds upstream
    requests from the capability file only)."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        *,
        exempt: tuple[str, ...] = ("/health/live",),
        reject: Callable[[], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self._token = token.encode()
        self.exempt = exempt
        self.reject = reject  # builds the 401 answer instead of the default JSON (REST: a problem document)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                given = value
                break
        # The auth-scheme is case-insensitive (RFC 7235 §2.1): "bearer <token>" is the same credential. Only the
        # token is secret, so only it needs the constant-time comparison.
        # Regression test: tests/reliability/test_inbound_http.py::test_the_bearer_scheme_is_case_insensitive
        scheme, _, presented = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(b" "), self._token):
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


def transport_security(config: ServeConfig) -> TransportSecuritySettings:
    """Host and Origin checks on every address (the SDK only adds them by itself on loopback)."""
    extra = [h.strip() for h in os.environ.get("HMS_RECORDINGS_ALLOWED_HOSTS", "").split(",") if h.strip()]
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if not is_loopback(config.host) and config.host not in ("0.0.0.0", "::"):
        hosts.append(f"{config.host}:*")
    hosts += [h if ":" in h else f"{h}:*" for h in extra]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def _unauthorized() -> ASGIApp:
    return problem_response(
        "unauthorized",
        401,
        "send Authorization: Bearer <HMS_RECORDINGS_AUTH_TOKEN>",
        headers={"WWW-Authenticate": 'Bearer realm="hms-recordings"'},
    )


def guard_http_face(app: ASGIApp, engine: Engine, config: ServeConfig, *, sdk_checked: tuple[str, ...] = ()) -> ASGIApp:
    """Request ids and access log (outermost), Host/Origin checks, then inbound auth when a token is configured.

    ``sdk_checked``: path prefixes whose Host/Origin check the MCP SDK already makes (it answers in its own format)."""
    metrics = metrics_for(engine)
    if config.auth_token:
        app = BearerAuthMiddleware(
            app, config.auth_token, exempt=("/health/live", "/docs"), reject=None if sdk_checked else _unauthorized
        )
    app = HostOriginCheck(app, transport_security(config), exempt=sdk_checked, metrics=metrics)
    return RequestContextMiddleware(app, metrics=metrics)


def build_http_app(
    engine: Engine, config: ServeConfig, *, with_ops: bool = True, extra_routes: tuple[Route, ...] = ()
) -> ASGIApp:
    """The MCP face over Streamable HTTP at ``/mcp``, plus the operations routes unless a control port serves them."""
    server = build_mcp_server(engine, log_level=config.log_level)
    for route in [*(ops_routes(engine) if with_ops else []), *extra_routes]:
        server.custom_route(route.path, methods=sorted(route.methods or ["GET"]))(route.endpoint)
    app: ASGIApp = server.streamable_http_app(
        host=config.host,
        stateless_http=config.stateless,
        json_response=config.json_response,
        max_request_body_size=MAX_REQUEST_BYTES,
        transport_security=transport_security(config),
    )
    return guard_http_face(app, engine, config, sdk_checked=("/mcp",))


def build_rest_http_app(
    engine: Engine, config: ServeConfig, *, with_ops: bool = True, with_skills: bool = True
) -> ASGIApp:
    """The REST face (declared routes, ``/openapi.json``, ``/docs``, the skill catalog, operations), guarded."""
    from hms_recordings.faces.rest import build_rest_app
    from hms_recordings.faces.skill import build_skills, skill_routes

    extra: list[BaseRoute] = list(ops_routes(engine)) if with_ops else []
    if with_skills and engine.capability.skills:
        extra += skill_routes(build_skills(engine.capability, engine))
    app = build_rest_app(engine, extra_routes=extra, bearer=bool(config.auth_token))
    return guard_http_face(app, engine, config)


class _FollowerServer(uvicorn.Server):
    # One process, several servers: signals are handled once, by _serve_all, which stops them all together.
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve_all(servers: Sequence[uvicorn.Server]) -> None:
    """Serve until one server ends, Ctrl-C or SIGTERM, or a port cannot be taken; then stop them all gracefully.

    A server whose own ``capture_signals`` is active (a plain ``uvicorn.Server``) handles signals itself; its end
    stops the others just the same."""
    refused: list[str] = []
    interrupted: list[int] = []  # signals received so far

    def stop_all(force: bool = False) -> None:
        for server in servers:
            server.force_exit = server.force_exit or force
            server.should_exit = True

    async def run(server: uvicorn.Server) -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn's way of saying it could not listen (its error line above says why)
            refused.append(f"{server.config.host}:{server.config.port}")
        finally:
            stop_all()

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                stop_all(force=signum == signal.SIGINT and bool(interrupted))  # a second Ctrl-C: do not wait
                interrupted.append(signum)

    async with anyio.create_task_group() as outer:
        if threading.current_thread() is threading.main_thread():
            outer.start_soon(watch_signals)
        async with anyio.create_task_group() as tg:
            for server in servers:
                tg.start_soon(run, server)
        outer.cancel_scope.cancel()
    if refused:
        raise ConfigError(f"cannot listen on {', '.join(refused)} (is the port taken?); choose another port")
    # Stopped by a signal: a clean stop, so ``serve`` exits with 0.


async def run_server(capability: Capability, config: ServeConfig) -> None:
    async with open_engine(
        capability,
        read_only=config.read_only,
        tools=config.tools,
        upstreams=config.upstreams,
        emulator="socket" if config.emulator else None,
        retry=config.retry,
        timeouts=config.timeouts,
        max_concurrency=config.max_concurrency,
    ) as engine:
        configure_logging(config.log_level, engine.redactor, json_lines=config.json_logs)
        if config.transport == "stdio":
            server = build_mcp_server(engine, log_level=config.log_level)
            logger.info("serving %d tools over stdio", len(engine.tools))
            await server.run_stdio_async()
            return
        control = control_expose(capability)
        rest = config.rest_port is not None
        faces: list[tuple[str, int, ASGIApp]] = [
            ("MCP", config.port, build_http_app(engine, config, with_ops=control is None))
        ]
        if config.rest_port is not None:
            app = build_rest_http_app(engine, config, with_ops=control is None)
            faces.append(("REST", config.rest_port, app))
        if control is not None:
            ops_app = guard_http_face(Starlette(routes=ops_routes(engine)), engine, config)
            faces.append(("operations", control[1], ops_app))
        used = [port for _, port, _ in faces if port != 0]
        if len(used) != len(set(used)):
            named = ", ".join(f"{face} {port}" for face, port, _ in faces)
            raise ConfigError(f"each face needs its own port (--port, --rest-port, control expose), got {named}")
        servers = [
            _FollowerServer(
                uvicorn.Config(
                    app,
                    host=config.host,
                    port=port,
                    log_level=config.log_level.lower(),
                    lifespan="on",
                    log_config=None,
                    access_log=False,
                )
            )
            for _, port, app in faces
        ]
        # A banner on stderr whatever the log level: the lines a user needs to connect a client or open the docs.
        print(
            f"hms-recordings: MCP on http://{config.host}:{config.port}/mcp, {len(engine.tools)} tools"
            + (", upstream: embedded emulator" if config.emulator else ""),
            file=sys.stderr,
            flush=True,
        )
        if rest:
            base = f"http://{config.host}:{config.rest_port}"
            print(f"hms-recordings: REST on {base}, docs at {base}/docs", file=sys.stderr, flush=True)
        if control is not None:
            print(f"hms-recordings: /health and /metrics on port {control[1]}", file=sys.stderr, flush=True)
        await _serve_all(servers)
