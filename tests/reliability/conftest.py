"""Fixtures for the reliability suite (issue 5): an engine wired to an in-process emulator whose faults we control.

The emulator's request log (``GET /_emulator/requests``) is the proof of what reached the upstream; every test that
claims "nothing was sent" or "sent once" reads it. Retry back-off is scaled down so that no test waits for long.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import cache
from itertools import count
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.capability.loader import load_file
from hms_recordings.capability.model import Capability
from hms_recordings.emulator import ConnectionDropped, EmulatorApp, EmulatorConfig, create_app
from hms_recordings.hms.tokens import AppCredentials
from hms_recordings.runtime.engine import CompiledTool, Engine, RuntimeSettings
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts

#: Recognisable secrets: if one of them shows anywhere it must not, a test names it.
CANARY_KEY = "canary-access-key-5f1e0d"
CANARY_SECRET = "canary-app-secret-9c2b7d41e0aa-4d6f8b1c"
CANARY_TOKEN = "canary-management-token-3a8f6c11"
CANARY_CREDS = AppCredentials(CANARY_KEY, CANARY_SECRET)

#: Fast back-off for tests: the same attempts and deadline logic as the defaults, in milliseconds.
FAST_RETRY = RetryPolicy(attempts=4, backoff_base=0.001, backoff_max=0.01, deadline=10.0, max_retry_after=1.0)
EMULATOR_BASE = "http://emulator.test"
#: Tools whose result may carry a presigned download URL (the only results where one may appear).
PRESIGNING_TOOLS = frozenset({"hms-get-recording-presigned-url", "hms-get-recording-download-links"})

_rooms = count(0xA000)


@cache
def builtin() -> Capability:
    """The built-in capability, parsed once for the whole suite (the model is immutable)."""
    return load_file()


@cache
def builtin_tools() -> dict[str, CompiledTool]:
    """The built-in tools as the engine compiles them (schemas, hints), without any upstream."""
    return dict(Engine(builtin(), RuntimeSettings(env={"HMS_ACCESS_KEY": "k", "HMS_APP_SECRET": "s"})).tools)


def read_tools() -> list[str]:
    return [name for name, tool in builtin_tools().items() if tool.read_only]


def new_room() -> str:
    """A fresh, valid 24-hex room id (the emulator accepts any)."""
    return f"65f0c0ffee00000000{next(_rooms):06x}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HeaderSpy:
    """ASGI middleware in front of the emulator that remembers the headers of every upstream request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v2"):
            self.seen.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        await self.app(scope, receive, send)


class FailFirst:
    """ASGI middleware: the first ``times`` upstream requests fail (a status, or a dropped connection), then pass."""

    def __init__(self, app: ASGIApp, times: int, status: int | str, retry_after: str | None = None) -> None:
        self.app = app
        self.left = times
        self.status = status
        self.retry_after = retry_after
        self.failed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2") or self.left <= 0:
            await self.app(scope, receive, send)
            return
        self.left -= 1
        self.failed += 1
        if self.status == "drop":
            raise ConnectionDropped
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None:
            headers.append((b"retry-after", self.retry_after.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"code":%d,"message":"injected"}' % self.status})


class Gate:
    """ASGI middleware that holds every upstream request until released, counting how many are in flight."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.open = anyio.Event()
        self.in_flight = 0
        self.most = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2"):
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.open.wait()
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


@dataclass
class Harness:
    """An engine and the emulator behind it, plus the admin client that injects faults and reads the request log."""

    app: EmulatorApp
    engine: Engine
    admin: httpx2.AsyncClient
    spy: HeaderSpy
    upstream: Any = None  # what ``wrap`` built around the emulator, if anything

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.admin.put("/_emulator/faults", json={"rules": list(rules)})
        assert response.status_code == 200, response.text

    async def clear_faults(self) -> None:
        assert (await self.admin.delete("/_emulator/faults")).status_code == 204

    async def requests(self) -> list[dict[str, Any]]:
        response = await self.admin.get("/_emulator/requests")
        assert response.status_code == 200
        log: list[dict[str, Any]] = response.json()
        return log

    async def call_ok(self, tool: str, args: dict[str, Any]) -> Any:
        outcome = await self.engine.call(tool, args)
        assert outcome.error is None, f"{tool} {args}: {outcome.error}"
        return outcome.data

    def active_per_room(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rec in self.app.emulator.store.recordings.values():
            counts[rec.room_id] = counts.get(rec.room_id, 0) + 1
        return counts


HarnessFactory = Callable[..., AbstractAsyncContextManager[Harness]]


@asynccontextmanager
async def harness(
    *,
    retry: RetryPolicy = FAST_RETRY,
    timeouts: Timeouts | None = None,
    max_concurrency: int = 32,
    seed: int = 5,
    env: dict[str, str] | None = None,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    capability: Capability | None = None,
    **emulator: Any,
) -> AsyncIterator[Harness]:
    """An engine over an in-process emulator (manual clock, no delays unless given) with the canary credentials."""
    config = EmulatorConfig(
        credentials=CANARY_CREDS,
        seed=seed,
        **{"manual_clock": True, "start_delay": 0, "processing_time": 0, **emulator},
    )
    app = create_app(config)
    spy = HeaderSpy(app)
    upstream_app: ASGIApp = wrap(spy) if wrap else spy
    settings = RuntimeSettings(
        upstreams={"recordings": f"{EMULATOR_BASE}/v2"},
        transports={"recordings": httpx2.ASGITransport(app=upstream_app)},
        env={"HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": CANARY_SECRET} if env is None else env,
        retry=retry,
        timeouts=timeouts or Timeouts(),
        max_concurrency=max_concurrency,
        retry_seed=seed,
    )
    async with (
        app.router.lifespan_context(app),
        Engine(capability or builtin(), settings) as engine,
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=EMULATOR_BASE) as admin,
    ):
        yield Harness(app, engine, admin, spy, upstream_app if wrap else None)


@pytest.fixture
def make_harness() -> HarnessFactory:
    return harness


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with harness() as built:
        yield built


@asynccontextmanager
async def serve_asgi(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in this event loop; yields the base URL."""

    class _Quiet(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:  # the test process keeps its own signal handlers
            yield

    port = port or free_port()
    server = _Quiet(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False, log_level="warning"
        )
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:  # noqa: ASYNC110 - bounded readiness polling: uvicorn offers no event
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
