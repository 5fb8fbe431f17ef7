"""Fixtures for the format suite: capability files from ``files/`` served by an engine whose upstream is the emulator.

Everything runs in-process: the emulator is an ASGI app on a manual clock (no sockets, no sleeps), reached through
``httpx2.ASGITransport`` as every consumed namespace's transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hms_recordings.capability.loader import load_file
from hms_recordings.emulator import EmulatorApp, EmulatorConfig, ManualClock, create_app
from hms_recordings.hms.tokens import mint_management_token
from hms_recordings.runtime.service import CapabilityService
from hms_recordings.runtime.upstream import RetryPolicy
from tests.rig import open_service

FILES = Path(__file__).parent / "files"
ROOM = "65f0c0ffee0000000000a001"
UPSTREAM = "http://emulator.test/v2"

MakeEngine = Callable[..., CapabilityService]


@pytest.fixture
def emulator() -> EmulatorApp:
    """Manual clock and no delays: a recording completes as soon as the clock says so."""
    return create_app(EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=7))


@pytest.fixture
def token(emulator: EmulatorApp) -> str:
    return mint_management_token(emulator.emulator.config.credentials, now=emulator.emulator.clock.now())


@pytest.fixture
async def make_engine(emulator: EmulatorApp, token: str) -> AsyncIterator[MakeEngine]:
    """``make_engine("x.yaml", env={...})``: a service for ``files/x.yaml``, every consumed API on the emulator."""
    transport = httpx2.ASGITransport(app=emulator)
    engines: list[CapabilityService] = []

    def make(name: str | Path, *, env: dict[str, str] | None = None, **settings: Any) -> CapabilityService:
        service = open_service(
            load_file(FILES / name),
            transport=transport,
            upstream=UPSTREAM,
            env={"HMS_MANAGEMENT_TOKEN": token, **(env or {})},
            retry=RetryPolicy(attempts=1),  # failures under test must not be retried (and so never wait)
            **{"strict": True, **settings},  # a declaration these files get wrong must fail the test loudly
        )
        engines.append(service)
        return service

    yield make
    for engine in engines:
        await engine.aclose()


@pytest.fixture
def record(emulator: EmulatorApp, token: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    """``await record(complete=True)``: a recording of ROOM made through the emulator's API, completed or running."""

    async def run(*, complete: bool = True, **body: Any) -> dict[str, Any]:
        clock = emulator.emulator.clock
        assert isinstance(clock, ManualClock)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=emulator), base_url="http://emulator.test", headers=headers
        ) as client:
            started = (await client.post(f"/v2/recordings/room/{ROOM}/start", json=body)).json()
            await client.get("/v2/recordings")  # the next read moves it to running
            if complete:
                clock.advance(120)
                await client.post(f"/v2/recordings/room/{ROOM}/stop")
            recording: dict[str, Any] = (await client.get(f"/v2/recordings/{started['id']}")).json()
            return recording

    return run
