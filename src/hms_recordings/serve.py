"""Running the faces: build the engine once, then serve MCP over stdio or Streamable HTTP (and REST when declared).

Over HTTP every face runs in this one process, each on its port: MCP (``--port``), REST with ``/openapi.json``,
``/docs`` and the skill catalog (``--rest-port``, else the rest expose's port), and the operations routes
(``/health/*``, ``/metrics``) on each of them, or only on the control expose's port when the capability declares one.
Every HTTP face gets request ids and access logs, Host/Origin checks and, when ``HMS_RECORDINGS_AUTH_TOKEN`` is set,
inbound bearer authentication.

Where upstream calls go (the real API, ``--upstream`` overrides, or the embedded emulator) is
:mod:`hms_recordings.targets`' business.
"""

from __future__ import annotations

import hmac
import logging
import signal
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
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
from hms_recordings.runtime.engine import Engine
from hms_recordings.targets import open_engine

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "BearerAuthMiddleware",
    "build_http_app",
    "build_rest_http_app",
    "guard_http_face",
    "run_server",
]

logger = logging.getLogger("hms_recordings.serve")

MAX_REQUEST_BYTES = 1_048_576


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
    extra = config.allowed_hosts
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


@dataclass(frozen=True)
class Face:
    """One HTTP face of one engine: what it is, its port and its ASGI app."""

    name: str
    port: int
    app: ASGIApp


def http_faces(capability: Capability, engine: Engine, config: ServeConfig) -> list[Face]:
    """Every HTTP face the capability declares: MCP, REST when it has a port, operations on a control port."""
    control = control_expose(capability)
    faces = [Face("MCP", config.port, build_http_app(engine, config, with_ops=control is None))]
    if config.rest_port is not None:
        faces.append(Face("REST", config.rest_port, build_rest_http_app(engine, config, with_ops=control is None)))
    if control is not None:
        ops_app = guard_http_face(Starlette(routes=ops_routes(engine)), engine, config)
        faces.append(Face("operations", control[1], ops_app))
    return faces


def http_server(app: ASGIApp, config: ServeConfig, port: int) -> uvicorn.Server:
    """A uvicorn server for one face; :func:`serve_all` owns the signals of all of them."""
    import uvicorn  # here, not at the top: a stdio server never needs it, and start-up time counts

    class _FollowerServer(uvicorn.Server):
        # One process, several servers: signals are handled once, by serve_all, which stops them all together.
        @contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return _FollowerServer(
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


async def serve_all(servers: Sequence[uvicorn.Server]) -> None:
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
        faces = http_faces(capability, engine, config)
        used = [face.port for face in faces if face.port != 0]
        if len(used) != len(set(used)):
            named = ", ".join(f"{face.name} {face.port}" for face in faces)
            raise ConfigError(f"each face needs its own port (--port, --rest-port, control expose), got {named}")
        servers = [http_server(face.app, config, face.port) for face in faces]
        # A banner on stderr whatever the log level: the lines a user needs to connect a client or open the docs.
        print(
            f"hms-recordings: MCP on http://{config.host}:{config.port}/mcp, {len(engine.tools)} tools"
            + (", upstream: embedded emulator" if config.emulator else ""),
            file=sys.stderr,
            flush=True,
        )
        for face in faces[1:]:
            base = f"http://{config.host}:{face.port}"
            shown = f"{base}, docs at {base}/docs" if face.name == "REST" else f"{base} (/health, /metrics)"
            print(f"hms-recordings: {face.name} on {shown}", file=sys.stderr, flush=True)
        await serve_all(servers)
