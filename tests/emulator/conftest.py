"""Fixtures for the emulator suite: an in-process emulator on a manual clock, a client and tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

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
