"""A service whose waits run on the emulator's manual clock: a poll's sleep moves the emulator forward, so a test of
"stop waits until the recording runs" takes no real time and is the same on every run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2

from hms_recordings.capability.loader import load_file
from hms_recordings.emulator import EmulatorApp, EmulatorConfig, ManualClock, create_app
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.service import CapabilityService, build_service
from hms_recordings.runtime.upstreams import UpstreamSettings
from tests.rig import UPSTREAM, emulator_env

__all__ = ["Timed", "timed_service"]


@dataclass
class Timed:
    service: CapabilityService
    app: EmulatorApp
    clock: ManualClock


@asynccontextmanager
async def timed_service(start_delay: float = 3, processing_time: float = 2) -> AsyncIterator[Timed]:
    app = create_app(
        EmulatorConfig(manual_clock=True, start_delay=start_delay, processing_time=processing_time, seed=1)
    )
    clock = app.emulator.clock
    assert isinstance(clock, ManualClock)
    origin = clock.now()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    settings = UpstreamSettings(
        upstreams={"recordings": UPSTREAM},
        transports={"recordings": httpx2.ASGITransport(app=app)},
        env=emulator_env(app.emulator.config.credentials, app),
        clock=lambda: clock.now() - origin,
        sleep=sleep,
    )
    async with app.router.lifespan_context(app), build_service(compile_inventory(load_file()), settings) as service:
        yield Timed(service, app, clock)
