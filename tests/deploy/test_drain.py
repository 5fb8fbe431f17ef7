"""``SIGTERM`` drains a real ``serve``: not ready at once, new connections refused after the grace, the call in
flight finished and answered, exit 0."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from hms_recordings.emulator import EmulatorConfig, RunningEmulator, serve_in_background
from tests.deploy.servers import ServeProcess, free_port, modern_call

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

GRACE = 1.0
SLOW_MS = 3000  # the upstream answer of the call in flight: longer than the grace, so it outlives the listeners


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with serve_in_background(EmulatorConfig(start_delay=0, processing_time=0, seed=5)) as running:
        yield running


async def refuses_connections(port: int) -> bool:
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return True
    await stream.aclose()
    return False


def in_flight(emulator: RunningEmulator, prefix: str) -> bool:
    """The emulator has received the request and not answered it yet."""
    return any(e["path"].startswith(prefix) and e["status"] is None for e in emulator.app.emulator.request_log)


async def test_sigterm_turns_ready_false_then_refuses_new_connections_and_finishes_the_call_in_flight(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    port = free_port()
    serve = ServeProcess(
        [
            "--port",
            str(port),
            "--rest-port",
            "0",
            "--upstream",
            f"recordings={emulator.api_url}",
            "--drain-grace",
            str(GRACE),
        ],
        tmp_path / "serve.log",
    ).start()
    answer: dict[str, Any] = {}
    marks: dict[str, float] = {}
    try:
        await serve.ready(port)
        async with httpx2.AsyncClient(base_url=emulator.base_url) as admin:
            rule = {"method": "GET", "path_prefix": "/v2/recording-assets", "rate": 1.0, "status": 200}
            faults = {"rules": [{**rule, "mode": "latency", "latency_ms": SLOW_MS}]}
            assert (await admin.put("/_emulator/faults", json=faults)).status_code in (200, 204)

        async def slow_call() -> None:
            async with httpx2.AsyncClient(timeout=30) as http:
                url = f"http://127.0.0.1:{port}/mcp"
                answer.update(await modern_call(http, url, "hms-list-recording-assets", {"limit": 10}))
            marks["answered"] = time.monotonic()

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_call)
            with anyio.fail_after(10):
                while not in_flight(emulator, "/v2/recording-assets"):  # noqa: ASYNC110 - bounded; no event
                    await anyio.sleep(0.01)
            serve.signal(signal.SIGTERM)
            marks["signal"] = time.monotonic()
            async with httpx2.AsyncClient() as probe:
                ready = await probe.get(f"http://127.0.0.1:{port}/health/ready")
                live = await probe.get(f"http://127.0.0.1:{port}/health/live")
            marks["not_ready"] = time.monotonic()
            with anyio.fail_after(10):
                while not await refuses_connections(port):  # noqa: ASYNC110 - bounded; no event
                    await anyio.sleep(0.02)
            marks["refused"] = time.monotonic()
        code = await serve.exit_code()
    finally:
        serve.kill()
    assert ready.status_code == 503 and ready.json()["kind"] == "draining"
    assert live.status_code == 200  # draining is not dead: an orchestrator must not kill it early
    assert marks["not_ready"] - marks["signal"] < GRACE  # ready turned false before the listeners closed
    assert marks["refused"] - marks["signal"] >= GRACE * 0.9  # and the listeners stayed open for the grace
    assert marks["answered"] > marks["refused"]  # the call in flight outlived the listeners ...
    assert answer["result"]["isError"] is False, answer  # ... and was answered in full
    assert code == 0
