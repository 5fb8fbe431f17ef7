"""The one test rig: the real service (inventory, invoker, upstream clients) wired to an in-process emulator.

Every suite builds its server-side objects here, so that what a test drives is exactly what ``serve`` and ``call``
run: ``compile_inventory(...).select(...)`` then ``build_service(...)``, with the emulator mounted through
``httpx2.ASGITransport`` (no sockets, no sleeps: the emulator runs on a manual clock unless a test says otherwise).
The emulator's request log (``GET /_emulator/requests``) is the proof of what reached the upstream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.capability.loader import BUILTIN_CAPABILITY, load_file
from hms_recordings.capability.model import Capability
from hms_recordings.emulator import EmulatorApp, EmulatorConfig, create_app
from hms_recordings.hms.tokens import AppCredentials, mint_management_token
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.invoker import CallContext, InvokerSettings
from hms_recordings.runtime.local import EventLog, Wakeups
from hms_recordings.runtime.observe import CallObserver, UpstreamObserver
from hms_recordings.runtime.outcome import Outcome
from hms_recordings.runtime.service import CapabilityService, build_service
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts
from hms_recordings.runtime.upstreams import UpstreamSettings

__all__ = [
    "EMULATOR_BASE",
    "FAST_RETRY",
    "MEETING",
    "OTHER_ROOM",
    "ROOM",
    "UPSTREAM",
    "HeaderSpy",
    "Rig",
    "compiled_tools",
    "make_rig",
    "open_service",
]

ROOM = "6a0f1c2d3e4f5a6b7c8d9e0f"
OTHER_ROOM = "6a0f1c2d3e4f5a6b7c8d9e01"
MEETING = "https://demo.app.100ms.live/meeting/abc-defg-hij"
EMULATOR_BASE = "http://emulator.test"
UPSTREAM = f"{EMULATOR_BASE}/v2"
#: 2026-06-01T00:00:00Z: where the emulator's manual clock starts in the rig, so that object ids are reproducible.
FIXED_START = 1_780_272_000.0
#: Fast back-off for tests: the same attempts and deadline logic as the defaults, in milliseconds.
FAST_RETRY = RetryPolicy(attempts=4, backoff_base=0.001, backoff_max=0.01, deadline=10.0, max_retry_after=1.0)


def _capability(source: Path | str | Capability | None) -> Capability:
    if isinstance(source, Capability):
        return source
    return load_file(source if source is not None else BUILTIN_CAPABILITY)


def compiled_tools(source: Path | str | Capability | None = None, **select: Any) -> dict[str, CompiledTool]:
    """The tools of a capability as the inventory compiles (and selects) them: no upstream, no credentials."""
    return dict(compile_inventory(_capability(source)).select(**select).tools)


def open_service(
    source: Path | str | Capability | None = None,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    env: Mapping[str, str] | None = None,
    upstream: str | None = UPSTREAM,
    retry: RetryPolicy = FAST_RETRY,
    timeouts: Timeouts | None = None,
    max_concurrency: int = 32,
    max_response_bytes: int | None = None,
    seed: int | None = 5,
    max_result_chars: int = 50_000,
    tools: tuple[str, ...] | None = None,
    toolsets: tuple[str, ...] | None = None,
    read_only: bool = False,
    observers: Sequence[Any] = (),
    strict: bool = False,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    wakeups: Wakeups | None = None,
    event_log: EventLog | None = None,
) -> CapabilityService:
    """A service on ``source`` (default: the built-in capability), every consumed API sent to ``transport``;
    ``wakeups`` and ``event_log`` are lent to handlers as ``serve`` lends its event hub and log."""
    capability = _capability(source)
    inventory = compile_inventory(capability, strict=strict).select(tools=tools, toolsets=toolsets, read_only=read_only)
    namespaces = list(capability.consumes)
    upstream_observers = [o for o in observers if hasattr(o, "on_response")]
    call_observers = [o for o in observers if hasattr(o, "on_call")]
    upstream_settings = UpstreamSettings(
        # The emulator's URL goes with its transport; another URL given explicitly is used as it is.
        upstreams={ns: upstream for ns in namespaces} if upstream and (transport or upstream != UPSTREAM) else {},
        transports={ns: transport for ns in namespaces} if transport is not None else {},
        env=dict(env) if env is not None else {},
        retry=retry,
        timeouts=timeouts or Timeouts(),
        max_concurrency=max_concurrency,
        **({"max_response_bytes": max_response_bytes} if max_response_bytes is not None else {}),
        retry_seed=seed,
        observers=tuple(upstream_observers),
        **({"sleep": sleep} if sleep is not None else {}),
    )
    return build_service(
        inventory,
        upstream_settings,
        InvokerSettings(
            max_result_chars=max_result_chars,
            observers=tuple(call_observers),
            actions=tuple(o for o in observers if hasattr(o, "on_action")),
            extensions={o.extension_name: o for o in observers if isinstance(getattr(o, "extension_name", None), str)},
            wakeups=wakeups,
            event_log=event_log,
        ),
    )


class HeaderSpy:
    """ASGI middleware in front of the emulator that remembers the headers of every request under ``prefix``
    (default: the upstream API; ``/_emulator/download/`` watches presigned downloads)."""

    def __init__(self, app: ASGIApp, prefix: str = "/v2") -> None:
        self.app = app
        self.prefix = prefix
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            self.seen.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@dataclass
class Rig:
    """A service and the emulator behind it, plus the admin client that injects faults and reads the request log."""

    service: CapabilityService
    emulator: EmulatorApp
    admin: httpx2.AsyncClient
    spy: HeaderSpy
    upstream: Any = None  # what ``wrap`` built around the emulator, if anything

    @property
    def app(self) -> EmulatorApp:
        return self.emulator

    @property
    def tools(self) -> dict[str, CompiledTool]:
        return dict(self.service.inventory.tools)

    async def call(self, tool: str, args: Any = None, **context: Any) -> Outcome:
        return await self.service.call(tool, args, CallContext(**context) if context else None)

    async def call_ok(self, tool: str, args: dict[str, Any]) -> Any:
        outcome = await self.call(tool, args)
        assert outcome.error is None, f"{tool} {args}: {outcome.error}"
        return outcome.data

    async def requests(self) -> list[dict[str, Any]]:
        response = await self.admin.get("/_emulator/requests")
        assert response.status_code == 200
        log: list[dict[str, Any]] = response.json()
        return log

    upstream_requests = requests

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.admin.put("/_emulator/faults", json={"rules": list(rules)})
        assert response.status_code == 200, response.text

    async def clear_faults(self) -> None:
        assert (await self.admin.delete("/_emulator/faults")).status_code == 204

    async def advance(self, seconds: float) -> None:
        response = await self.admin.post("/_emulator/clock", json={"advance_seconds": seconds})
        assert response.status_code == 200, response.text

    def active_per_room(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rec in self.emulator.emulator.store.recordings.values():
            counts[rec.room_id] = counts.get(rec.room_id, 0) + 1
        return counts


def emulator_env(creds: AppCredentials, app: EmulatorApp) -> dict[str, str]:
    """The credentials a server needs for ``app``: the key and secret, and a token minted on the emulator's clock."""
    return {
        "HMS_ACCESS_KEY": creds.access_key,
        "HMS_APP_SECRET": creds.app_secret,
        "HMS_MANAGEMENT_TOKEN": mint_management_token(creds, now=app.emulator.clock.now()),
    }


@asynccontextmanager
async def make_rig(
    source: Path | str | Capability | None = None,
    *,
    env: Mapping[str, str] | None = None,
    emulator: EmulatorConfig | None = None,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    observers: Sequence[UpstreamObserver | CallObserver] = (),
    **settings: Any,
) -> AsyncIterator[Rig]:
    """A :class:`Rig`; ``settings`` go to :func:`open_service` (retry, timeouts, tools, read_only, ...)."""
    # A fixed start on a manual clock and a seed: ids, timestamps and texts are the same on every run. Only when the
    # rig mints the token itself (on the emulator's clock): a server that mints from the key and secret uses the
    # wall clock, which an emulator living in the past would call "not valid yet".
    config = emulator or EmulatorConfig(
        manual_clock=True,
        clock_start=FIXED_START if env is None else None,
        start_delay=0,
        processing_time=0,
        seed=3,
    )
    app = create_app(config)
    spy = HeaderSpy(app)
    upstream_app: ASGIApp = wrap(spy) if wrap else spy
    service = open_service(
        source,
        transport=httpx2.ASGITransport(app=upstream_app),
        env=emulator_env(config.credentials, app) if env is None else env,
        observers=observers,
        **settings,
    )
    async with (
        app.router.lifespan_context(app),
        service,
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=EMULATOR_BASE) as admin,
    ):
        yield Rig(service, app, admin, spy, upstream_app if wrap else None)
