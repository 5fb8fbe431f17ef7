"""Half-open and slow connections are closed on every port: MCP, REST, control and the emulator.

Each face is served by the uvicorn server ``serve`` builds (:func:`~hms_recordings.server.serve.http_server`), the
emulator by its own background server, on real sockets; the attacker is a raw socket that sends nothing, or headers
or a body a byte at a time. The server must cut it off within its deadline, answer 408 when nothing was answered
yet, and keep serving everyone else.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp

from hms_recordings.connections import ConnectionTimeouts
from hms_recordings.emulator.server import serve_in_background
from hms_recordings.server.serve import Hosted, http_faces, http_server
from hms_recordings.server.settings import ServeSettings
from tests.hosting import hosted
from tests.rig import Rig, make_rig

from .conftest import running

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

DEADLINE = 0.5  # seconds, every deadline in these tests
SLACK = 2.0  # what the server may take beyond it on a loaded machine
SETTINGS = ServeSettings(
    port=0, rest_port=0, header_timeout=DEADLINE, body_timeout=DEADLINE, keep_alive_timeout=DEADLINE
)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as built:
        yield built


@asynccontextmanager
async def listening(app: ASGIApp, settings: ServeSettings) -> AsyncIterator[int]:
    """``app`` served by ``serve``'s uvicorn server on a free port, until the block ends."""
    server = http_server(app, settings, 0)
    async with running(server):
        yield server.servers[0].sockets[0].getsockname()[1]


async def wait_closed(sock: socket.socket, *, feed: bytes = b"", limit: float) -> tuple[bytes, float]:
    """Send ``feed`` one byte at a time (as fast as the server reads) until the server closes; what it answered, and
    when, from the first byte. Fails if it is still open after ``limit`` seconds."""
    sock.setblocking(False)
    started = time.monotonic()
    answer = b""
    pending = iter(feed)
    with anyio.fail_after(limit):
        while True:
            byte = next(pending, None)
            if byte is not None:
                try:
                    sock.send(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    break
            with anyio.move_on_after(0.05):  # wait for the server's answer (or its close) a little, then send more
                await anyio.wait_readable(sock)
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


HEADERS = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"


async def attacks(port: int, path: str) -> None:
    """The three attacks on one port, then a proof that an honest client is still served."""
    # 1. Connect and send nothing.
    with connect(port) as idle:
        answer, took = await wait_closed(idle, limit=DEADLINE + SLACK)
    assert answer.startswith(b"HTTP/1.1 408 ") and took >= DEADLINE * 0.8
    # 2. Headers a byte at a time: never complete, and each byte does not buy more time.
    with connect(port) as slow_headers:
        answer, took = await wait_closed(slow_headers, feed=HEADERS * 20, limit=DEADLINE + SLACK)
    assert answer.startswith(b"HTTP/1.1 408 ")
    # 3. Complete headers, then the body a byte at a time.
    with connect(port) as slow_body:
        slow_body.sendall(HEADERS.replace(b"/mcp", path.encode()))
        answer, took = await wait_closed(slow_body, feed=b"{" + b" " * 200, limit=DEADLINE + SLACK)
    assert answer == b"" or answer.startswith((b"HTTP/1.1 408 ", b"HTTP/1.1 4"))
    # 4. Idle between requests (keep-alive): closed after the keep-alive timeout.
    with connect(port) as kept:
        kept.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer, took = await wait_closed(kept, limit=DEADLINE + SLACK)
    assert answer.startswith(b"HTTP/1.1 200 ")
    # An honest client is served throughout.
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as honest:
        assert (await honest.get(path)).status_code < 500


def faces(rig: Rig, settings: ServeSettings) -> dict[str, ASGIApp]:
    hosting: Hosted = hosted(rig)
    return {face.name: face.app for face in http_faces(hosting.capabilities[0], hosting, settings)}


@pytest.mark.parametrize(("face", "path"), [("MCP", "/health/live"), ("REST", "/health/live")])
async def test_a_connection_that_sends_nothing_or_a_byte_at_a_time_is_closed(rig: Rig, face: str, path: str) -> None:
    app = faces(rig, SETTINGS)[face]
    async with listening(app, SETTINGS) as port:
        await attacks(port, path)


async def test_the_control_port_closes_slow_connections_too(rig: Rig) -> None:
    app = Starlette(routes=hosted(rig).operations())
    async with listening(app, SETTINGS) as port:
        await attacks(port, "/health/live")


async def test_the_emulator_closes_slow_connections_too() -> None:
    timeouts = ConnectionTimeouts(header=DEADLINE, body=DEADLINE, keep_alive=DEADLINE)
    async with serve_in_background(timeouts=timeouts) as emulator:
        port = int(emulator.base_url.rsplit(":", 1)[1])
        await attacks(port, "/_emulator/requests")


async def test_the_deadlines_are_settable_and_a_request_within_them_is_served(rig: Rig) -> None:
    patient = ServeSettings(port=0, rest_port=0, header_timeout=30, body_timeout=30, keep_alive_timeout=30)
    app = faces(rig, patient)["REST"]
    async with listening(app, patient) as port:
        with connect(port) as sock:
            sock.sendall(f"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            answer, _took = await wait_closed(sock, limit=10)
        assert answer.startswith(b"HTTP/1.1 200 ")
        with connect(port) as idle:
            idle.setblocking(False)
            with anyio.move_on_after(DEADLINE + SLACK) as waited:
                await anyio.wait_readable(idle)
            assert waited.cancelled_caught  # still open past the short deadline: the setting applies
