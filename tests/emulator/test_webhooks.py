"""Recording webhooks: envelope, events per transition and the retry rule (reference §8)."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import Response

from hms_recordings.emulator import (
    EmulatorApp,
    EmulatorConfig,
    ManualClock,
    add_cli_arguments,
    config_from_args,
    create_app,
)
from hms_recordings.emulator.clock import format_timestamp
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
@pytest.mark.requirement("WEBHOOK-HEADERS")
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
@pytest.mark.requirement("TRANSCRIPTION-PROCESSING")
@pytest.mark.anyio
async def test_transcription_emits_transcription_events_with_asset_ids() -> None:
    """§8 and https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/webhook ("Transcription
    Events"): transcription.started.success at completion with the asset ids only, transcription.success once the
    assets are done (here 5 min x 6/60 = 30 s later) with paths and presigned URLs that download them."""
    receiver = Receiver()
    async with running_emulator(receiver, processing_time=6) as (_app, client):
        body = {"transcription": {"enabled": True, "output_modes": ["txt"], "summary": {"enabled": True}}}
        await client.post(f"/v2/recordings/room/{ROOM}/start", json=body)
        await client.get("/v2/recordings")
        await client.post("/_emulator/clock", json={"advance_seconds": 100})
        await client.post(f"/v2/recordings/room/{ROOM}/stop")
        await client.post("/_emulator/clock", json={"advance_seconds": 6})
        await receiver.wait_for(4)
        assert receiver.types()[-2:] == ["beam.recording.success", "transcription.started.success"]
        started_at, started, _ = receiver.received[-1]
        assert started["data"]["transcript_txt_asset_id"] and "transcript_txt_path" not in started["data"]
        await client.post("/_emulator/clock", json={"advance_seconds": 29.5})
        assert len(receiver.received) == 4
        await client.post("/_emulator/clock", json={"advance_seconds": 0.5})
        await receiver.wait_for(5)
        done_at, done, _ = receiver.received[-1]
        assert done["type"] == "transcription.success"
        assert done_at - started_at == 30
        data = done["data"]
        assert data["transcript_txt_asset_id"] == started["data"]["transcript_txt_asset_id"]
        assert data["summary_json_asset_id"]
        assert data["transcript_srt_asset_id"] == ""
        assert data["transcript_txt_path"].endswith(".txt")
        transcript = await client.get(data["transcript_txt_presigned_url"])
        assert transcript.status_code == 200 and b": " in transcript.content


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


@pytest.mark.requirement("WEBHOOK-METADATA")
@pytest.mark.anyio
async def test_metadata_id_is_a_fresh_id_per_message_and_metadata_timestamp_the_send_time() -> None:
    """https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/webhook: ``metadata_id`` "Webhook
    metadata ID" (a UUID per message), ``metadata_timestamp`` "Webhook message creation timestamp" - when the message
    is made and sent, not when the recording was created; ``timestamp`` stays the moment of the transition."""
    receiver = Receiver()
    async with running_emulator(receiver, start_delay=5) as (app, client):
        rec = (await client.post(f"/v2/recordings/room/{ROOM}/start", json={})).json()
        t0 = app.emulator.clock.now()
        # Nobody reads for 20 s: the started event is made (and sent) on the next tick, 15 s after the transition.
        await client.post("/_emulator/clock", json={"advance_seconds": 20})
        await client.post(f"/v2/recordings/room/{ROOM}/stop")
        await client.get("/v2/recordings")
        await receiver.wait_for(3)
    started, stopped, done = (body for _, body, _ in receiver.received)
    ids = [body["data"]["metadata_id"] for body in (started, stopped, done)]
    assert len(set(ids)) == 3
    assert all(str(uuid.UUID(i)) == i and i != rec["id"] for i in ids)
    assert started["timestamp"] == format_timestamp(t0 + 5)
    for body in (started, stopped, done):
        assert body["data"]["metadata_timestamp"] == format_timestamp(t0 + 20)
        assert body["data"]["metadata_timestamp"] != format_timestamp(t0)


@pytest.mark.requirement("WEBHOOK-HEADERS")
def test_webhook_header_flag_is_repeatable_and_refuses_malformed_headers_without_echoing_the_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 15 / https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/secure-webhooks: custom
    headers configured on the dashboard are sent with every delivery; ``--webhook-header NAME:VALUE`` repeats."""
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    args = parser.parse_args(["--webhook-header", "X-Secret: abc:def", "--webhook-header", "X-Other:2"])
    assert config_from_args(args, env={}).webhook_headers == [("X-Secret", "abc:def"), ("X-Other", "2")]
    for bad in ("no-colon", "Bad Name:v", "X-Ok:line\nbreak-supersecret"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--webhook-header", bad])
        assert "supersecret" not in capsys.readouterr().err
    with pytest.raises(ValueError):
        EmulatorConfig(webhook_headers=[("X-Ok", "a\rb")])


@pytest.mark.requirement("ADMIN-REPLAY")
@pytest.mark.requirement("WEBHOOK-HEADERS")
@pytest.mark.anyio
async def test_admin_replays_a_stored_event_and_sends_duplicates_with_the_same_envelope_id() -> None:
    """Issue 15: the admin API replays an event (as 100ms's webhook replay re-sends one,
    https://www.100ms.live/docs/server-side/v2/api-reference/analytics/replay-webhook-events) and sends a duplicate
    delivery - same envelope ``id``, same body - so a receiver's dedupe can be tested."""
    receiver = Receiver()
    async with running_emulator(receiver) as (_app, client):
        await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
        await client.get("/v2/recordings")
        await receiver.wait_for(1)
        stored = (await client.get("/_emulator/events", params={"type": "beam.started.success"})).json()
        assert [e["id"] for e in stored] == [receiver.received[0][1]["id"]]
        event_id = stored[0]["id"]
        replay = await client.post(f"/_emulator/events/{event_id}/replay")
        assert (replay.status_code, replay.json()["deliveries"]) == (202, 1)
        await receiver.wait_for(2)
        duplicate = await client.post(f"/_emulator/events/{event_id}/duplicate")
        assert (duplicate.status_code, duplicate.json()["deliveries"]) == (202, 2)
        await receiver.wait_for(4)
        missing = await client.post("/_emulator/events/00000000-0000-4000-8000-000000000000/replay")
        assert (missing.status_code, missing.json()["message"]) == (404, "event not found")
    bodies = [body for _, body, _ in receiver.received]
    assert bodies == [bodies[0]] * 4
    assert all(headers["x-hook-secret"] == "s3cr3t" for _, _, headers in receiver.received)


@pytest.mark.requirement("ADMIN-REPLAY")
@pytest.mark.anyio
async def test_replay_without_a_webhook_url_answers_409_and_sends_nothing(client: httpx2.AsyncClient) -> None:
    """Issue 15 [I]: with no ``--webhook-url`` there is nowhere to deliver; events are still listed."""
    await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
    await client.get("/v2/recordings")
    (event,) = (await client.get("/_emulator/events")).json()
    response = await client.post(f"/_emulator/events/{event['id']}/replay")
    assert response.status_code == 409
    assert "--webhook-url" in response.json()["message"]


@pytest.mark.requirement("WEBHOOK-BOUNDED")
@pytest.mark.anyio
async def test_envelopes_beyond_the_webhook_queue_limit_are_dropped_and_counted() -> None:
    """Common rules (everything bounded): ``webhook_queue_limit`` caps the envelopes waiting for the sender; the rest
    are dropped and counted in ``app.webhooks_dropped`` rather than held without bound."""
    receiver = Receiver()
    rooms = [f"65f0c0ffee0000000000b00{i}" for i in range(4)]
    async with running_emulator(receiver, start_delay=5, webhook_queue_limit=1) as (app, client):
        for room in rooms:
            assert (await client.post(f"/v2/recordings/room/{room}/start", json={})).status_code == 200
        # One advance starts all four: four envelopes in one flush, for a queue of one (plus the waiting sender).
        await client.post("/_emulator/clock", json={"advance_seconds": 5})
        await receiver.wait_for(4 - app.webhooks_dropped)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
    assert app.webhooks_dropped >= 2
    assert len(receiver.received) + app.webhooks_dropped == 4
    assert receiver.types() == ["beam.started.success"] * len(receiver.received)
