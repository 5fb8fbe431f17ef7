"""A test rig: the real engine on a capability file, wired to an in-process emulator through an ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from hms_recordings.capability.loader import BUILTIN_CAPABILITY, load_file
from hms_recordings.emulator import EmulatorApp, EmulatorConfig, create_app
from hms_recordings.hms.tokens import AppCredentials, mint_management_token
from hms_recordings.runtime.engine import Engine, RuntimeSettings
from hms_recordings.runtime.upstream import RetryPolicy

ROOM = "6a0f1c2d3e4f5a6b7c8d9e0f"
OTHER_ROOM = "6a0f1c2d3e4f5a6b7c8d9e01"
MEETING = "https://demo.app.100ms.live/meeting/abc-defg-hij"
UPSTREAM = "http://emulator.test/v2"


@dataclass
class Rig:
    engine: Engine
    emulator: EmulatorApp
    admin: httpx2.AsyncClient

    async def upstream_requests(self) -> list[dict[str, Any]]:
        response = await self.admin.get("/_emulator/requests")
        result: list[dict[str, Any]] = response.json()
        return result

    async def advance(self, seconds: float) -> None:
        response = await self.admin.post("/_emulator/clock", json={"advance_seconds": seconds})
        assert response.status_code == 200, response.text


RigFactory = Callable[..., Any]


@asynccontextmanager
async def make_rig(
    capability_file: Path = BUILTIN_CAPABILITY,
    *,
    env: dict[str, str] | None = None,
    emulator: EmulatorConfig | None = None,
    **settings: Any,
) -> AsyncIterator[Rig]:
    config = emulator or EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=3)
    app = create_app(config)
    transport = httpx2.ASGITransport(app=app)
    creds: AppCredentials = config.credentials
    if env is None:
        env = {
            "HMS_ACCESS_KEY": creds.access_key,
            "HMS_APP_SECRET": creds.app_secret,
            "HMS_MANAGEMENT_TOKEN": mint_management_token(creds, now=app.emulator.clock.now()),
        }
    settings.setdefault("retry", RetryPolicy(backoff_base=0.001, backoff_max=0.01))
    engine = Engine(
        load_file(capability_file),
        RuntimeSettings(upstreams={"recordings": UPSTREAM}, transports={"recordings": transport}, env=env, **settings),
    )
    async with httpx2.AsyncClient(transport=transport, base_url="http://emulator.test") as admin:
        try:
            yield Rig(engine, app, admin)
        finally:
            await engine.aclose()
