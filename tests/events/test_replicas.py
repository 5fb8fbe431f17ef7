"""End to end over sockets, two replicas and a real Redis: the emulator delivers its webhooks (with the secret header)
to replica A; an MCP client of each protocol era subscribed on replica B, a wait on B polling every 60 s and an SSE
stream on B all hear of every lifecycle event within a second; duplicates count once, a delivery without the secret
changes nothing, and A lists its events again after a restart."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest
from mcp import Client
from mcp.server.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning

from hms_recordings.emulator import EmulatorConfig, serve_in_background
from hms_recordings.hms.tokens import AppCredentials
from tests.clients.harness import RunningServer, console_script, free_port, server_env, start_server
from tests.events.conftest import HEADER, SECRET, envelope, polling_capability
from tests.rig import MEETING, ROOM

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

LIFECYCLE = ("beam.started.success", "beam.stopped.success", "beam.recording.success")


class Seen:
    """What a test has observed so far, and a way to wait (without polling) until enough of it has arrived."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = anyio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()
        self._changed = anyio.Event()

    async def until(self, enough: Callable[[list[Any]], bool]) -> None:
        while not enough(self.items):
            await self._changed.wait()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_for_port(port: int, what: str, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + 30
    while not _accepts(port):
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not listen on {port} within 30 s")
        time.sleep(0.05)  # bounded readiness polling


@contextmanager
def redis_server() -> Iterator[str]:
    """Debian's redis-server on a free loopback port, without persistence; scripts/check installs it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: run scripts/check (it installs Debian's redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, "redis-server", process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


class Replica:
    """One ``hms-recordings serve`` process: MCP and REST on free ports, its own event log file."""

    def __init__(self, capability: Path, upstream: str, env: dict[str, str]) -> None:
        self.mcp_port, self.rest_port = free_port(), free_port()
        self.args = [
            str(console_script()),
            "serve",
            str(capability),
            "--port",
            str(self.mcp_port),
            "--rest-port",
            str(self.rest_port),
            "--upstream",
            f"recordings={upstream}",
        ]
        self.env = env
        self.server: RunningServer | None = None
        self._stop: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.mcp_port}/mcp"

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def start(self) -> None:
        self.server, self._stop = start_server(self.args, port=self.mcp_port, env=self.env)
        _wait_for_port(self.rest_port, "the REST face", self.server.process)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def _replica_env(redis_url: str, db: Path, creds: AppCredentials) -> dict[str, str]:
    return server_env(
        {
            "HMS_ACCESS_KEY": creds.access_key,
            "HMS_APP_SECRET": creds.app_secret,
            "HMS_RECORDINGS_WEBHOOK_SECRET": SECRET,
            "HMS_RECORDINGS_REDIS_URL": redis_url,
            "HMS_RECORDINGS_EVENTS_DB": str(db),
        }
    )


async def _listed(url: str, recording_id: str) -> list[dict[str, Any]]:
    async with Client(url, mode="legacy") as client:
        result = await client.call_tool("hms-list-recording-events", {"recording_id": recording_id, "limit": 100})
    assert result.is_error is False, result
    events: list[dict[str, Any]] = (result.structured_content or {})["events"]
    return events


async def test_a_webhook_received_by_replica_a_reaches_subscribers_and_waits_on_replica_b_within_a_second(
    tmp_path: Path,
) -> None:
    capability = polling_capability(tmp_path, 60)
    delivered = Seen()  # (when A answered, type, status, duplicate)

    async def on_response(response: httpx2.Response) -> None:
        await response.aread()
        body = json.loads(response.request.content)
        duplicate = response.status_code == 200 and response.json().get("duplicate") is True
        delivered.add((time.monotonic(), body["type"], response.status_code, duplicate))

    creds = AppCredentials.development()
    with redis_server() as redis_url:
        emulator_port = free_port()
        upstream = f"http://127.0.0.1:{emulator_port}/v2"
        a = Replica(capability, upstream, _replica_env(redis_url, tmp_path / "a.sqlite3", creds))
        b = Replica(capability, upstream, _replica_env(redis_url, tmp_path / "b.sqlite3", creds))
        webhooks = httpx2.AsyncClient(timeout=10.0, event_hooks={"response": [on_response]})
        config = EmulatorConfig(
            start_delay=2.0,
            processing_time=1.0,
            seed=11,
            webhook_url=f"{a.rest}/webhooks/100ms",
            webhook_headers=[(HEADER, SECRET)],
            webhook_client=webhooks,
        )
        async with webhooks, serve_in_background(config, port=emulator_port) as emulator:
            await anyio.to_thread.run_sync(a.start)
            try:
                await anyio.to_thread.run_sync(b.start)
                try:
                    recording_id = await _scenario(a, b, emulator.base_url, delivered)
                finally:
                    b.stop()
                # A restart of A: the events are still listed, each once.
                a.stop()
                await anyio.to_thread.run_sync(a.start)
                listed = await _listed(a.url, recording_id)
                assert [e["type"] for e in listed] == [*reversed(LIFECYCLE)]
            finally:
                a.stop()


async def _scenario(a: Replica, b: Replica, admin_base: str, delivered: Seen) -> str:
    legacy_heard, listen_heard = Seen(), Seen()  # (when, uri)
    sse_frames: list[tuple[float, str, dict[str, Any]]] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            legacy_heard.add((time.monotonic(), str(message.params.uri)))

    async with httpx2.AsyncClient(base_url=a.rest, timeout=10.0) as rest_a:
        started = await rest_a.post(f"/rooms/{ROOM}/recording/start", json={"meeting_url": MEETING})
        assert started.status_code == 200, started.text
        recording_id: str = started.json()["id"]
        uri = f"hms://recordings/{recording_id}"
        # A recording nobody records: its one event, sent last, shows that everything sent before it has arrived.
        sentinel_id = "6b1000000000000000005e47"
        sentinel_uri = f"hms://recordings/{sentinel_id}"

        async def listen(client: Client, ready: anyio.Event) -> None:
            async with client.listen(resource_subscriptions=[uri, sentinel_uri]) as subscription:
                ready.set()
                async for event in subscription:
                    assert isinstance(event, ResourceUpdated)
                    listen_heard.add((time.monotonic(), event.uri))

        async def sse(ready: anyio.Event) -> None:
            async with (
                httpx2.AsyncClient(base_url=b.rest, timeout=httpx2.Timeout(10.0, read=60.0)) as rest_b,
                rest_b.stream("GET", f"/recordings/{recording_id}/events") as stream,
            ):
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                name = ""
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        sse_frames.append((time.monotonic(), name, json.loads(line.removeprefix("data: "))))
                        ready.set()

        wait_result: dict[str, Any] = {}
        waited = anyio.Event()

        async def wait(client: Client) -> None:
            result = await client.call_tool(
                "hms-wait-for-recording", {"recording_id": recording_id, "until": "completed", "timeout_seconds": 120}
            )
            wait_result.update(at=time.monotonic(), data=result.structured_content)
            waited.set()

        with anyio.fail_after(60):
            async with (
                Client(b.url, mode="legacy", message_handler=on_message) as legacy,
                Client(b.url, mode="2026-07-28") as modern,
                Client(b.url, mode="legacy") as waiter,
                anyio.create_task_group() as tg,
            ):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)  # the 2025 method, on purpose
                    await legacy.subscribe_resource(uri)
                    await legacy.subscribe_resource(sentinel_uri)
                listening, streaming = anyio.Event(), anyio.Event()
                tg.start_soon(listen, modern, listening)
                tg.start_soon(sse, streaming)
                await listening.wait()
                await streaming.wait()
                tg.start_soon(wait, waiter)
                # Running after the start delay, then stopped: the three lifecycle events follow.
                await delivered.until(lambda seen: any(kind == "beam.started.success" for _, kind, _, _ in seen))
                stopped = await rest_a.post(f"/rooms/{ROOM}/recording/stop")
                assert stopped.status_code == 200, stopped.text
                await waited.wait()
                await legacy_heard.until(lambda seen: len(seen) >= 3)
                await listen_heard.until(lambda seen: len(seen) >= 3)
                accepted = [(at, kind) for at, kind, status, dup in delivered.items if status == 200 and not dup]
                assert [kind for _, kind in accepted] == list(LIFECYCLE)
                # Each lifecycle event reached both eras' subscribers on B within a second of A accepting it.
                for (at, _kind), (heard_legacy, _), (heard_listen, _) in zip(
                    accepted, legacy_heard.items, listen_heard.items, strict=True
                ):
                    assert 0 <= heard_legacy - at < 1.0
                    assert 0 <= heard_listen - at < 1.0
                # The wait on B, polling every 60 s, returned within a second of the completion event.
                assert wait_result["data"]["reached"] is True
                assert 0 <= wait_result["at"] - accepted[-1][0] < 1.0
                assert sse_frames[0][1] == "snapshot" and sse_frames[-1][2]["status"] == "completed"

                # A duplicate delivery (the same envelope id twice more) is counted once.
                async with httpx2.AsyncClient(base_url=admin_base, timeout=10.0) as admin:
                    stored = (await admin.get("/_emulator/events", params={"type": "beam.recording.success"})).json()
                    dup = await admin.post(f"/_emulator/events/{stored[0]['id']}/duplicate")
                    assert dup.status_code == 202
                await delivered.until(lambda seen: sum(1 for _, _, _, duplicate in seen if duplicate) == 2)
                # A delivery without the secret changes nothing.
                forged = envelope("beam.failure", id="forged-1", room_id=ROOM, recording_id=recording_id)
                refused = await rest_a.post("/webhooks/100ms", json=forged)
                assert refused.status_code == 401
                # The sentinel: once its notification arrives, whatever the duplicates or the forgery published
                # (nothing, if they were refused) has arrived before it.
                sentinel = envelope("beam.failure", id="sentinel-1", room_id=ROOM, recording_id=sentinel_id)
                assert (await rest_a.post("/webhooks/100ms", json=sentinel, headers={HEADER: SECRET})).json() == {
                    "received": "sentinel-1",
                    "type": "beam.failure",
                    "duplicate": False,
                }
                await legacy_heard.until(lambda seen: any(u == sentinel_uri for _, u in seen))
                await listen_heard.until(lambda seen: any(u == sentinel_uri for _, u in seen))
                tg.cancel_scope.cancel()
        for heard in (legacy_heard, listen_heard):
            assert [u for _, u in heard.items] == [uri, uri, uri, sentinel_uri]
        listed = await _listed(a.url, recording_id)
        assert [e["id"] for e in listed].count(stored[0]["id"]) == 1
        assert "forged-1" not in [e["id"] for e in listed]
        assert [e["type"] for e in listed] == [*reversed(LIFECYCLE)]
    return recording_id
