"""Fixtures for the emulator suite: an in-process emulator on a manual clock, a client and tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import pytest

from hms_recordings.emulator import EmulatorApp, EmulatorConfig, ManualClock, create_app
from hms_recordings.hms.tokens import AppCredentials, mint_management_token

ROOM = "65f0c0ffee0000000000a001"
OTHER_ROOM = "65f0c0ffee0000000000a002"
BASE_URL = "http://emulator.test"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(id): the emulated behaviour (requirements manifest id) tested")


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Manual clock, no delays and a fixed seed: every read is deterministic and no test sleeps."""
    return EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=7)


@pytest.fixture
def emulator_app(emulator_config: EmulatorConfig) -> EmulatorApp:
    return create_app(emulator_config)


@pytest.fixture
def credentials(emulator_app: EmulatorApp) -> AppCredentials:
    return emulator_app.emulator.config.credentials


@pytest.fixture
def token(emulator_app: EmulatorApp, credentials: AppCredentials) -> str:
    return mint_management_token(credentials, now=emulator_app.emulator.clock.now())


@pytest.fixture
def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(emulator_app: EmulatorApp, auth_headers: dict[str, str]) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=emulator_app)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL, headers=auth_headers) as c:
        yield c


@pytest.fixture
async def anonymous(emulator_app: EmulatorApp) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator_app), base_url=BASE_URL) as c:
        yield c


@pytest.fixture
def advance(client: httpx2.AsyncClient) -> Callable[[float], Awaitable[None]]:
    """Advance the manual clock through the admin API, as a client of a running emulator would."""

    async def _advance(seconds: float) -> None:
        response = await client.post("/_emulator/clock", json={"advance_seconds": seconds})
        assert response.status_code == 200, response.text

    return _advance


@pytest.fixture
def clock(emulator_app: EmulatorApp) -> ManualClock:
    clock = emulator_app.emulator.clock
    assert isinstance(clock, ManualClock)
    return clock


FULL_TRANSCRIPTION = {"enabled": True, "output_modes": ["txt", "srt", "json"], "summary": {"enabled": True}}


async def record(
    client: httpx2.AsyncClient, clock: ManualClock, seconds: float, room: str = ROOM, **body: object
) -> dict[str, Any]:
    """Start a recording, let it run ``seconds`` on the manual clock, stop it; returns the start response."""
    started = await client.post(f"/v2/recordings/room/{room}/start", json=body)
    assert started.status_code == 200, started.text
    await client.get("/v2/recordings")
    clock.advance(seconds)
    stopped = await client.post(f"/v2/recordings/room/{room}/stop")
    assert stopped.status_code == 200, stopped.text
    rec: dict[str, Any] = started.json()
    return rec


async def assets_of(client: httpx2.AsyncClient, recording_id: str) -> list[dict[str, Any]]:
    """The full asset objects of a recording (GET /recording-assets/{id} for each embedded one)."""
    embedded = (await client.get(f"/v2/recordings/{recording_id}")).json()["recording_assets"] or []
    return [(await client.get(f"/v2/recording-assets/{a['id']}")).json() for a in embedded]


async def download(client: httpx2.AsyncClient, asset_id: str, **headers: str) -> httpx2.Response:
    """Presign ``asset_id`` and GET its URL without the management token."""
    url = (await client.get(f"/v2/recording-assets/{asset_id}/presigned-url")).json()["url"]
    return await client.get(url, headers={"Authorization": "", **headers})
