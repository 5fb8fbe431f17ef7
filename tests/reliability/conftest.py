"""Fixtures for the reliability suite (issue 5): an engine wired to an in-process emulator whose faults we control.

The emulator's request log (``GET /_emulator/requests``) is the proof of what reached the upstream; every test that
claims "nothing was sent" or "sent once" reads it. Retry back-off is scaled down so that no test waits for long.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from functools import cache
from itertools import count
from typing import Any

import anyio
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.capability.loader import load_file
from hms_recordings.capability.model import Capability
from hms_recordings.emulator import ConnectionDropped, EmulatorConfig
from hms_recordings.hms.tokens import AppCredentials
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts
from tests.rig import FAST_RETRY, Rig, compiled_tools, make_rig

#: Recognisable secrets: if one of them shows anywhere it must not, a test names it.
CANARY_KEY = "canary-access-key-5f1e0d"
CANARY_SECRET = "canary-app-secret-9c2b7d41e0aa-4d6f8b1c"
CANARY_TOKEN = "canary-management-token-3a8f6c11"
CANARY_CREDS = AppCredentials(CANARY_KEY, CANARY_SECRET)

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
    return compiled_tools(builtin())


def read_tools() -> list[str]:
    """The read-only tools that reach the upstream (the audit tool reads this server's own store)."""
    return [
        name
        for name, tool in builtin_tools().items()
        if tool.read_only and (tool.request is not None or tool.steps is not None)
    ]


def new_room() -> str:
    """A fresh, valid 24-hex room id (the emulator accepts any)."""
    return f"65f0c0ffee00000000{next(_rooms):06x}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FailFirst:
    """ASGI middleware: the first ``times`` upstream requests fail (a status, or a dropped connection), then pass."""

    def __init__(
        self,
        app: ASGIApp,
        times: int,
        status: int | str,
        retry_after: str | None = None,
        method: str | None = None,  # only requests of this method fail (None: any)
    ) -> None:
        self.app = app
        self.left = times
        self.status = status
        self.retry_after = retry_after
        self.method = method
        self.failed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/v2")
            or self.left <= 0
            or (self.method is not None and scope["method"] != self.method)
        ):
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


#: The reliability suite's name for the one rig (tests/rig.py).
Harness = Rig
HarnessFactory = Callable[..., AbstractAsyncContextManager[Rig]]


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
    sleep: Callable[[float], Awaitable[None]] | None = None,
    max_response_bytes: int | None = None,
    **emulator: Any,
) -> AsyncIterator[Rig]:
    """The rig over an in-process emulator (manual clock, no delays unless given) with the canary credentials."""
    config = EmulatorConfig(
        credentials=CANARY_CREDS,
        seed=seed,
        **{"manual_clock": True, "start_delay": 0, "processing_time": 0, **emulator},
    )
    async with make_rig(
        capability or builtin(),
        env={"HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": CANARY_SECRET} if env is None else env,
        emulator=config,
        wrap=wrap,
        retry=retry,
        timeouts=timeouts,
        max_concurrency=max_concurrency,
        seed=seed,
        max_response_bytes=max_response_bytes,
        **({"sleep": sleep} if sleep is not None else {}),
    ) as rig:
        yield rig


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
    async with running(server):
        yield f"http://127.0.0.1:{port}"


@asynccontextmanager
async def running(server: uvicorn.Server) -> AsyncIterator[None]:
    """``server`` serving in this event loop from when it listens until the block ends."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:  # noqa: ASYNC110 - bounded readiness polling: uvicorn offers no event
                await anyio.sleep(0.01)
        try:
            yield
        finally:
            server.should_exit = True


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
