"""``serve``: build the service and its faces once, then serve MCP over stdio or Streamable HTTP (and REST).

Over HTTP every face runs in this one process, each on its port: MCP (``--port``), REST with ``/openapi.json``,
``/docs`` and the skill catalog (``--rest-port``, else the rest expose's port), and the operations routes
(``/health/*``, ``/metrics``) on each of them, or only on the control expose's port when the capability declares one.
Every HTTP face is guarded (:func:`~hms_recordings.server.middleware.guard`): request ids and access logs, Host/Origin
checks and, when ``HMS_RECORDINGS_AUTH_TOKEN`` is set, inbound bearer authentication.

One bad declaration does not take the file down: an entry the inventory could not compile, or a REST operation the
REST face cannot route, is logged (``not served: ...``) and the rest is served. Start-up fails only when nothing at
all can be served, or when ``--strict`` asks for every entry. Where upstream calls go is
:mod:`hms_recordings.server.targets`' business.

Stopping: ``SIGTERM`` drains. ``/health/ready`` answers 503 at once while calls are still served; ``drain_grace``
seconds later the listeners close (new connections are refused) and calls in flight get ``drain_timeout`` seconds to
finish. ``SIGINT`` (Ctrl-C) skips the grace; a second one does not wait for calls either. ``--workers N`` runs this
same server in N processes on one port (:mod:`hms_recordings.server.workers`).
"""

from __future__ import annotations

import logging
import math
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from hms_recordings.capability.model import Capability
from hms_recordings.connections import ConnectionTimeouts, uvicorn_options
from hms_recordings.errors import ConfigError
from hms_recordings.faces.mcp import build_mcp_server, mcp_http_app, run_stdio
from hms_recordings.runtime.inventory import Inventory
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.service import CapabilityService, Service
from hms_recordings.server.audit import AuditStore
from hms_recordings.server.events.wiring import Events, EventsPlug, open_events
from hms_recordings.server.gate import Access, McpCallGate, open_access
from hms_recordings.server.health import Drain, operations_routes
from hms_recordings.server.logging import CallLog, configure_logging
from hms_recordings.server.metrics import Metrics
from hms_recordings.server.middleware import SessionFairness, guard, transport_security
from hms_recordings.server.oauth import FaceAuth, metadata_route
from hms_recordings.server.settings import ServeSettings
from hms_recordings.server.targets import emulation, open_service, select_inventory

if TYPE_CHECKING:
    import uvicorn

__all__ = ["Face", "Hosted", "http_faces", "http_server", "mcp_face", "rest_face", "run_server", "serve_all"]

logger = logging.getLogger("hms_recordings.server")


@dataclass
class Hosted:
    """One server: what it serves (one service, or several combined), the files behind it, and its metrics.

    ``metrics`` counts only what it is told: the services must have been built with it among their observers
    (:func:`run_server` and :mod:`~hms_recordings.server.multi` do); the HTTP middleware adds the rejections."""

    service: Service
    services: list[CapabilityService]
    capabilities: list[Capability]
    metrics: Metrics = field(default_factory=Metrics)
    access: Access | None = None  # OAuth callers (HMS_RECORDINGS_OAUTH_ISSUER): verifier, scopes, rate limits
    events: Events | None = None  # the event log, bus and webhook routes, when the capability keeps events
    drain: Drain = field(default_factory=Drain)

    def operations(self) -> list[Route]:
        return operations_routes(self.services, self.metrics, self.drain)


@dataclass(frozen=True)
class Face:
    """One HTTP face of a server: what it is, its port and its ASGI app."""

    name: str
    port: int
    app: ASGIApp


def _has_entries(service: Service) -> bool:
    return bool(
        service.tools()
        or service.rest_entries()
        or service.forwards()
        or service.dynamic_resources()
        or service.files()
        or service.prompts()
    )


def control_only(capability: Capability) -> bool:
    """A file whose one expose is a control port (the format's own test files have dozens): served as that port
    alone, health and metrics, since that is all it declares."""
    declared = capability.rest or capability.skills or any(m.tools or m.resources or m.prompts for m in capability.mcp)
    return capability.control is not None and not declared


def check_servable(services: Sequence[CapabilityService], *, what: str, control: bool = False) -> None:
    """Refuse to start when not one tool, REST operation, resource or prompt is left to serve in any service
    (``control``: the file declares only a control port, which is served alone)."""
    if control or any(_has_entries(service) for service in services):
        return
    problems = [p for s in services for p in s.inventory.problems]
    why = f": {'; '.join(problems)}" if problems else " (check --tools, --toolsets and --read-only)"
    raise ConfigError(f"nothing to serve from {what}{why}")


def mcp_face(hosted: Hosted, settings: ServeSettings, *, with_ops: bool = True) -> ASGIApp:
    """The MCP face at ``/mcp`` over Streamable HTTP, plus the operations routes unless a control port has them.

    With OAuth: the protected-resource metadata at ``/.well-known/oauth-protected-resource/mcp``, a 401 challenge
    for a missing or bad token, ``tools/list`` filtered by the token's scopes, and each ``tools/call`` admitted (403
    scope challenge, 429 with ``Retry-After``) before it reaches the SDK."""
    access = hosted.access
    server = build_mcp_server(
        hosted.service,
        scopes=access.policy if access is not None else None,
        subscriptions=hosted.events.bus if hosted.events else None,
        state_keys=settings.state_keys(),
    )
    endpoint = mcp_http_app(
        server,
        stateless=settings.effective_stateless,
        json_response=settings.json_response,
        transport_security=transport_security(settings),
        max_request_body_size=settings.max_request_bytes,
        session_idle_timeout=settings.session_idle_timeout,
        max_sessions=settings.max_sessions,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Starlette does not run a mounted app's lifespan: the MCP endpoint's (its session manager) runs in ours.
        async with endpoint.router.lifespan_context(endpoint):
            yield

    mounted: ASGIApp = endpoint
    if not settings.stateless:  # a stateless endpoint keeps no session to hold
        mounted = SessionFairness(
            endpoint,
            per_client=settings.max_sessions_per_client,
            max_sessions=settings.max_sessions,
            idle_timeout=settings.session_idle_timeout,
        )
    from hms_recordings.faces.problems import problem_pages

    routes: list[BaseRoute] = [
        *(hosted.operations() if with_ops else []),
        *problem_pages(),  # where the problem documents' `type` points (401, Host/Origin)
        Mount("/", app=mounted),
    ]
    if access is None:
        return guard(Starlette(routes=routes, lifespan=lifespan), settings, hosted.metrics, sdk_checked=("/mcp",))
    resource = settings.oauth_resource or f"http://{settings.host}:{settings.port}/mcp"
    routes.insert(0, _metadata(hosted, access, resource))
    app: ASGIApp = Starlette(routes=routes, lifespan=lifespan)
    app = McpCallGate(app, hosted.service, access.admission(resource), max_body_bytes=settings.max_request_bytes)
    face = FaceAuth(resource, [access.policy.read], problems=False)
    return guard(app, settings, hosted.metrics, sdk_checked=("/mcp",), oauth=access.layer(face))


def _metadata(hosted: Hosted, access: Access, resource: str) -> Route:
    scopes = access.policy.supported(list(hosted.service.tools()))
    return metadata_route(resource, access.issuer, scopes, hosted.service.info.title or hosted.service.info.name)


def _skill_routes(capability: Capability, service: Service) -> list[BaseRoute]:
    """The declared skills' catalog routes (a capability without ``type: skill`` exposes serves none)."""
    if not capability.skills:
        return []
    from hms_recordings.faces.skill import build_skills, skill_routes
    from hms_recordings.hms.skill_text import setup_text

    return list(skill_routes(build_skills(capability, service.tools(), setup_text=setup_text(capability))))


def rest_face(hosted: Hosted, settings: ServeSettings, *, with_ops: bool = True) -> ASGIApp:
    """The REST face (declared routes, ``/openapi.json``, ``/docs``, skills, operations), guarded.

    Operations the face cannot route are logged and left out; with ``--strict`` they refuse start-up."""
    from hms_recordings.faces.rest import build_rest_app
    from hms_recordings.faces.rest_routes import plan_routes

    _routes, problems = plan_routes(hosted.service)
    if problems and settings.strict:
        raise ConfigError(f"--strict: the REST face cannot serve {len(problems)} operation(s): " + "; ".join(problems))
    for problem in problems:
        logger.warning("not served over REST: %s", problem)
    extra: list[BaseRoute] = list(hosted.operations()) if with_ops else []
    for capability in hosted.capabilities:
        extra += _skill_routes(capability, hosted.service)
    open_paths: tuple[str, ...] = ()
    if hosted.events is not None:
        extra += hosted.events.routes(hosted.service)
        open_paths = hosted.events.open_paths
    access = hosted.access
    if access is None:
        app = build_rest_app(hosted.service, extra_routes=extra, bearer=settings.bearer_token() is not None)
        return guard(app, settings, hosted.metrics, open_paths=open_paths)
    resource = settings.oauth_rest_resource or f"http://{settings.host}:{settings.rest_port}"
    extra.insert(0, _metadata(hosted, access, resource))
    app = build_rest_app(hosted.service, extra_routes=extra, bearer=True, admit=access.admission(resource))
    face = FaceAuth(resource, [access.policy.read], problems=True)
    return guard(app, settings, hosted.metrics, oauth=access.layer(face, open_paths))


def http_faces(capability: Capability, hosted: Hosted, settings: ServeSettings) -> list[Face]:
    """Every HTTP face the capability declares: MCP, REST when it has a port, operations on a control port."""
    control = capability.control
    faces = [Face("MCP", settings.port, mcp_face(hosted, settings, with_ops=control is None))]
    if settings.rest_port is not None:
        faces.append(Face("REST", settings.rest_port, rest_face(hosted, settings, with_ops=control is None)))
    if control is not None:
        faces.append(
            Face("operations", control[1], guard(Starlette(routes=hosted.operations()), settings, hosted.metrics))
        )
    return faces


def shared_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other processes may also listen on (``SO_REUSEPORT``): the kernel
    spreads new connections over every process listening there. A port nobody can take is a ConfigError."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another port") from None
    sock.set_inheritable(False)
    return sock


def http_server(app: ASGIApp, settings: ServeSettings, port: int) -> uvicorn.Server:
    """A uvicorn server for one face; :func:`serve_all` owns the signals of all of them.

    A worker of ``--workers N`` listens on a socket shared with the other workers (:func:`shared_port_socket`)."""
    import uvicorn  # here, not at the top: a stdio server never needs it, and start-up time counts

    class _FollowerServer(uvicorn.Server):
        # One process, several servers: signals are handled once, by serve_all, which stops them all together.
        @contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    server = _FollowerServer(
        uvicorn.Config(
            app,
            host=settings.host,
            port=port,
            log_level=settings.log_level.lower(),
            lifespan="on",
            log_config=None,
            access_log=False,
            **uvicorn_options(connection_timeouts(settings)),  # half-open and byte-a-time clients are cut off
            timeout_graceful_shutdown=math.ceil(settings.drain_timeout),
        )
    )
    if settings.workers > 1:
        server.hms_sockets = [shared_port_socket(settings.host, port)]  # type: ignore[attr-defined]
    return server


def connection_timeouts(settings: ServeSettings) -> ConnectionTimeouts:
    return ConnectionTimeouts(
        header=settings.header_timeout, body=settings.body_timeout, keep_alive=settings.keep_alive_timeout
    )


async def serve_all(servers: Sequence[uvicorn.Server], *, drains: Sequence[Drain] = (), grace: float = 0.0) -> None:
    """Serve until one server ends, Ctrl-C or SIGTERM, or a port cannot be taken; then stop them all gracefully.

    On SIGTERM the ``drains`` are set first (readiness turns false) and the servers keep serving ``grace`` more
    seconds, so that a balancer stops sending before the listeners close (see the module docstring)."""
    refused: list[str] = []
    interrupted: list[int] = []  # signals received so far
    stopping: list[bool] = []  # set once the servers have been told to stop

    def stop_all(force: bool = False) -> None:
        stopping.append(True)
        for server in servers:
            server.force_exit = server.force_exit or force
            server.should_exit = True

    async def stop_after_grace() -> None:
        await anyio.sleep(grace)
        stop_all()

    async def run(server: uvicorn.Server) -> None:
        try:
            await server.serve(sockets=getattr(server, "hms_sockets", None))
        except SystemExit:  # uvicorn's way of saying it could not listen (its error line above says why)
            refused.append(f"{server.config.host}:{server.config.port}")
        finally:
            stop_all()

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                first = not interrupted
                interrupted.append(signum)
                if signum == signal.SIGTERM and first and grace > 0:
                    for drain in drains:
                        drain.begin(grace)
                    logger.warning("SIGTERM: draining, not ready; listeners close in %gs", grace)
                    outer.start_soon(stop_after_grace)
                    continue
                stop_all(force=signum == signal.SIGINT and bool(stopping))  # a second Ctrl-C: do not wait

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


def check_ports(faces: Sequence[Face]) -> None:
    used = [face.port for face in faces if face.port != 0]  # port 0 asks the system for a free port
    if len(used) != len(set(used)):
        named = ", ".join(f"{face.name} {face.port}" for face in faces)
        raise ConfigError(f"each face needs its own port (--port, --rest-port, control expose), got {named}")


def banner(lines: Sequence[str]) -> None:
    """On stderr whatever the log level: the lines a user needs to connect a client or open the docs."""
    for line in lines:
        print(f"hms-recordings: {line}", file=sys.stderr, flush=True)


def audit_store(settings: ServeSettings) -> AuditStore | None:
    """The audit trail: kept when callers are told apart (OAuth) or when ``HMS_RECORDINGS_EVENTS_DB`` is set."""
    if not settings.oauth and settings.events_db is None:
        return None
    return AuditStore(settings.events_db_path(), max_rows=settings.audit_max_rows)


@asynccontextmanager
async def _closing(audit: AuditStore | None, access: Access | None) -> AsyncIterator[None]:
    try:
        yield
    finally:
        if access is not None:
            await access.aclose()
        if audit is not None:
            audit.close()


def events_plug(inventory: Inventory) -> EventsPlug | None:
    """The 100ms webhook plug when the served tools include the event log's reader (docs/events.md), else none."""
    from hms_recordings.hms.events import EVENTS_HANDLER, STREAM_PATH, WEBHOOK_PATH, parse_envelope, stream_topic

    if not any(tool.tool.handler == EVENTS_HANDLER for tool in inventory.tools.values()):
        return None
    return EventsPlug(WEBHOOK_PATH, parse_envelope, STREAM_PATH, stream_topic)


@asynccontextmanager
async def maybe_events(settings: ServeSettings, plug: EventsPlug | None) -> AsyncIterator[Events | None]:
    if plug is None:
        yield None
        return
    async with open_events(settings, plug) as events:
        yield events


async def run_server(
    capability: Capability,
    settings: ServeSettings,
    *,
    env: Mapping[str, str] | None = None,
    announce: Callable[[list[str]], None] = banner,
) -> None:
    """Serve one capability file until stopped (see the module docstring).

    ``announce`` hears the banner lines once the ports are taken (a worker hands them to its supervisor instead)."""
    configure_logging(settings.log_level, Redactor(), json_lines=settings.json_logs)  # start-up problems, scrubbed
    inventory = select_inventory(capability, settings)
    metrics = Metrics()
    metrics.prepare(capability.consumes)
    audit = audit_store(settings)
    access = open_access(settings)
    observers = (metrics, CallLog(), *([audit] if audit is not None else []))
    async with (
        _closing(audit, access),
        emulation(settings, "socket", env) as emulated,
        maybe_events(settings, events_plug(inventory)) as events,
        open_service(
            inventory,
            settings,
            emulated=emulated,
            env=env,
            observers=observers,
            wakeups=events.hub if events else None,
            event_log=events.store if events else None,
        ) as service,
    ):
        configure_logging(settings.log_level, service.redactor, json_lines=settings.json_logs)
        hosted = Hosted(service, [service], [capability], metrics, access, events)
        alone = control_only(capability)
        check_servable([service], what=capability.file or "the built-in capability", control=alone)
        count = len(service.tools())
        if alone and capability.control is not None:
            if settings.transport == "stdio":
                raise ConfigError(f"{capability.file} declares only a control port, which is served over HTTP")
            face = Face(
                "operations",
                capability.control[1],
                guard(Starlette(routes=hosted.operations()), settings, hosted.metrics),
            )
            check_ports([face])
            announce(
                [f"control port on http://{settings.host}:{face.port} (/health, /metrics); nothing else is declared"]
            )
            await serve_all(
                [http_server(face.app, settings, face.port)], drains=[hosted.drain], grace=settings.drain_grace
            )
            return
        if settings.transport == "stdio":
            logger.info("serving %d tools over stdio", count)
            await run_stdio(build_mcp_server(service, subscriptions=events.bus if events else None))
            return
        faces = http_faces(capability, hosted, settings)
        check_ports(faces)
        servers = [http_server(face.app, settings, face.port) for face in faces]
        lines = [
            f"MCP on http://{settings.host}:{settings.port}/mcp, {count} tools"
            + (f", upstream: embedded emulator at {emulated.base_url}/v2" if emulated is not None else "")
        ]
        for face in faces[1:]:
            base = f"http://{settings.host}:{face.port}"
            lines.append(
                f"{face.name} on "
                + (f"{base}, docs at {base}/docs" if face.name == "REST" else f"{base} (/health, /metrics)")
            )
        if settings.effective_stateless and not settings.stateless:
            lines.append(f"stateless: {settings.workers} worker processes cannot share a session")
        announce(lines)
        await serve_all(servers, drains=[hosted.drain], grace=settings.drain_grace)
