"""Recording webhooks: envelope, events per transition and the retry rule (reference §8)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import Response

from hms_recordings.emulator import EmulatorApp, EmulatorConfig, ManualClock, create_app
from hms_recordings.hms.tokens import mint_management_token

from .conftest import BASE_URL, ROOM


class Receiver:
    """An in-process webhook receiver that answers ``statuses`` in turn (then 200) and records every delivery."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[float, dict[str, Any], dict[str, str]]] = []
        self.clock: ManualClock | None = None
        self._arrived = anyio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = json.loads(await request.body())
        self.received.append((self.clock.now() if self.clock else 0.0, body, dict(request.headers)))
        self._arrived.set()
        status = self.statuses.pop(0) if self.statuses else 200
        await Response(status_code=status)(scope, receive, send)

    async def wait_for(self, count: int) -> None:
        with anyio.fail_after(5):
            while len(self.received) < count:
                self._arrived = anyio.Event()
                await self._arrived.wait()

    def types(self) -> list[str]:
        return [body["type"] for _, body, _ in self.received]


@asynccontextmanager
async def running_emulator(receiver: Receiver, **config: Any) -> AsyncIterator[tuple[EmulatorApp, httpx2.AsyncClient]]:
    hook_client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=receiver), base_url="http://hooks.test")
    settings: dict[str, Any] = {"manual_clock": True, "start_delay": 0, "processing_time": 0, "seed": 1} | config
    app = create_app(
        EmulatorConfig(
            webhook_url="http://hooks.test/100ms",
            webhook_client=hook_client,
            webhook_headers=[("X-Hook-Secret", "s3cr3t"), ("X-Tenant", "acme")],
            **settings,
        )
    )
    assert isinstance(app.emulator.clock, ManualClock)
    receiver.clock = app.emulator.clock
    token = mint_management_token(app.emulator.config.credentials, now=app.emulator.clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        hook_client,
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, headers=headers) as client,
    ):
        yield app, client


@pytest.mark.requirement("WEBHOOK-EVENTS")
@pytest.mark.anyio
async def test_a_recording_emits_started_stopped_and_recording_success_in_the_100ms_envelope() -> None:
    """§8: beam.started.success, beam.stopped.success, beam.recording.success; envelope version 2.0."""
    receiver = Receiver()
    async with running_emulator(receiver) as (_app, client):
        rec = (await client.post(f"/v2/recordings/room/{ROOM}/start", json={})).json()
        await client.get("/v2/recordings")
        await client.post("/_emulator/clock", json={"advance_seconds": 30})
        await client.post(f"/v2/recordings/room/{ROOM}/stop")
        await client.get("/v2/recordings")
        await receiver.wait_for(3)
        assert receiver.types() == ["beam.started.success", "beam.stopped.success", "beam.recording.success"]
        _, event, headers = receiver.received[2]
        assert set(event) == {"version", "id", "app_id", "account_id", "template_id", "timestamp", "type", "data"}
        assert event["version"] == "2.0"
        assert headers["x-hook-secret"] == "s3cr3t"
        assert headers["x-tenant"] == "acme"
        data = event["data"]
        assert data["recording_id"] == rec["id"]
        assert data["duration"] == 30
        assert data["room_id"] == ROOM
        download = await client.get(data["recording_presigned_url"])
        assert download.status_code == 200
        assert download.headers["content-type"] == "video/mp4"
        assert receiver.received[1][1]["data"]["reason"] == "client request"


@pytest.mark.requirement("WEBHOOK-EVENTS")
@pytest.mark.anyio
async def test_stop_before_running_emits_beam_failure_beam_stopped() -> None:
    """§8: a stop before the recording started gives beam.failure BEAM_STOPPED with the documented message.

    https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/webhook ("beam.failure", "Error
    types": BEAM_STOPPED - "Beam stopped too early").
    """
    receiver = Receiver()
    async with running_emulator(receiver, start_delay=10) as (_app, client):
        await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
        await client.post(f"/v2/recordings/room/{ROOM}/stop")
        await client.get("/v2/recordings")
        await receiver.wait_for(1)
        assert receiver.types() == ["beam.failure"]
        data = receiver.received[0][1]["data"]
        assert data["error_type"] == "BEAM_STOPPED"
        assert data["error_message"] == "Beam stopped too early"


@pytest.mark.requirement("WEBHOOK-EVENTS")
@pytest.mark.anyio
async def test_transcription_emits_transcription_events_with_asset_ids() -> None:
    """§8: transcription.started.success and transcription.success carry the transcript/summary asset ids."""
    receiver = Receiver()
    async with running_emulator(receiver) as (_app, client):
        body = {"transcription": {"enabled": True, "output_modes": ["txt"], "summary": {"enabled": True}}}
        await client.post(f"/v2/recordings/room/{ROOM}/start", json=body)
        await client.get("/v2/recordings")
        await client.post(f"/v2/recordings/room/{ROOM}/stop")
        await client.get("/v2/recordings")
        await receiver.wait_for(5)
        assert receiver.types()[-2:] == ["transcription.started.success", "transcription.success"]
        data = receiver.received[-1][1]["data"]
        assert data["transcript_txt_asset_id"]
        assert data["summary_json_asset_id"]
        assert data["transcript_srt_asset_id"] == ""
        assert data["transcript_txt_path"].endswith(".txt")


@pytest.mark.requirement("WEBHOOK-RETRY")
@pytest.mark.anyio
async def test_non_200_answers_are_retried_at_1_3_and_10_seconds_on_the_emulator_clock() -> None:
    """§8: retried 3 times at +1 s, +3 s, +10 s if not HTTP 200; then abandoned."""
    receiver = Receiver([500, 503, 404, 500])
    async with running_emulator(receiver) as (app, client):
        await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
        await client.get("/v2/recordings")
        await receiver.wait_for(1)
        t0 = receiver.received[0][0]
        for step, total in ((1, 2), (3, 3), (10, 4)):
            await client.post("/_emulator/clock", json={"advance_seconds": step})
            await receiver.wait_for(total)
        assert [t - t0 for t, _, _ in receiver.received] == [0, 1, 4, 14]
        assert len({body["id"] for _, body, _ in receiver.received}) == 1
        sender = app.state.webhook_sender
        for _ in range(100):  # the last answer is in; give the sender a few scheduling rounds to give up
            if sender.abandoned:
                break
            await anyio.lowlevel.checkpoint()
        assert sender.abandoned == 1
