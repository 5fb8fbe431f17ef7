"""The webhook receiver: who may deliver, what a delivery must be, and that a refusal changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.events.conftest import HEADER, SECRET, envelope, events_rig
from tests.rig import ROOM

pytestmark = pytest.mark.anyio

REC = "6b10aa2d3e4f5a6b7c8d9e0f"


async def test_a_delivery_with_the_secret_is_stored_and_answered_200_after_it_is_stored(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        response = await ev.deliver(envelope("beam.started.success", id="e-1", room_id=ROOM, recording_id=REC))
        assert response.status_code == 200
        assert response.json() == {"received": "e-1", "type": "beam.started.success", "duplicate": False}
        # Answered means committed: the log holds it at the moment the answer arrives.
        assert await ev.store.count() == 1


async def test_a_repeated_delivery_of_the_same_envelope_is_counted_once(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        body = envelope("beam.started.success", id="e-dup", room_id=ROOM, recording_id=REC)
        first, second = await ev.deliver(body), await ev.deliver(body)
        assert (first.status_code, second.status_code) == (200, 200)
        assert second.json()["duplicate"] is True
        assert await ev.store.count() == 1
        assert ev.events.receiver is not None
        assert (ev.events.receiver.counts.accepted, ev.events.receiver.counts.duplicates) == (1, 1)


@pytest.mark.parametrize("headers", [{}, {HEADER: "wrong-secret-wrong-secret"}, {HEADER: SECRET + "x"}])
async def test_a_delivery_without_the_right_secret_is_refused_and_changes_nothing(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    async with events_rig(tmp_path) as ev:
        async with ev.hub.watch(f"hms://recordings/{REC}") as watch:
            response = await ev.deliver(
                envelope("beam.started.success", id="e-2", room_id=ROOM, recording_id=REC), headers=headers
            )
            assert response.status_code == 401
            assert response.json()["kind"] == "webhook_secret"
            assert SECRET not in response.text
            assert await watch.wait(0) is False  # nothing was published either
        assert await ev.store.count() == 0


async def test_without_a_secret_the_receiver_is_not_there_for_callers_off_loopback(tmp_path: Path) -> None:
    async with events_rig(tmp_path, secret=None, client=("203.0.113.7", 40000)) as ev:
        response = await ev.deliver(envelope("beam.started.success", id="e-3", room_id=ROOM, recording_id=REC))
        assert response.status_code == 404
        assert await ev.store.count() == 0


async def test_without_a_secret_the_receiver_takes_deliveries_from_loopback(tmp_path: Path) -> None:
    async with events_rig(tmp_path, secret=None) as ev:
        response = await ev.deliver(
            envelope("beam.started.success", id="e-4", room_id=ROOM, recording_id=REC), headers={}
        )
        assert response.status_code == 200
        assert await ev.store.count() == 1


async def test_a_body_larger_than_the_bound_is_refused_with_413_and_nothing_is_stored(tmp_path: Path) -> None:
    async with events_rig(tmp_path, webhook_max_bytes=2048) as ev:
        body = envelope("beam.started.success", id="e-5", room_id=ROOM, recording_id=REC)
        body["data"]["padding"] = "x" * 4096
        response = await ev.deliver(body)
        assert response.status_code == 413
        assert await ev.store.count() == 0


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"not json", 400, "not JSON"),
        (b"[1, 2]", 422, "JSON object"),
        (json.dumps({"type": "beam.started.success", "timestamp": "t", "version": "2.0", "data": {}}), 422, "'id'"),
        (json.dumps({"id": "x", "type": "Beam Started", "timestamp": "t", "version": "2.0", "data": {}}), 422, "type"),
        (json.dumps({"id": "x", "type": "beam.failure", "timestamp": "t", "version": "2.0", "data": []}), 422, "data"),
    ],
)
async def test_a_delivery_that_is_not_a_100ms_envelope_is_a_4xx_saying_why_and_changes_nothing(
    tmp_path: Path, body: bytes | str, status: int, words: str
) -> None:
    async with events_rig(tmp_path) as ev:
        response = await ev.rest.post(
            "/webhooks/100ms", content=body, headers={HEADER: SECRET, "content-type": "application/json"}
        )
        assert response.status_code == status
        assert words in response.json()["detail"]
        assert await ev.store.count() == 0


async def test_download_links_in_a_delivery_are_never_stored_or_listed(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        await ev.deliver(envelope("beam.recording.success", id="e-6", room_id=ROOM, recording_id=REC))
        stored = await ev.store.query(keys={})
        assert "presigned" not in json.dumps(stored) and "SECRETSIG" not in json.dumps(stored)
        listed = await ev.rig.call_ok("hms-list-recording-events", {"recording_id": REC})
        assert listed["events"][0]["data"]["recording_path"] == "s3://bucket/rec.mp4"
        assert "SECRETSIG" not in json.dumps(listed)
        raw = (tmp_path / "events.sqlite3").read_bytes()
        assert b"SECRETSIG" not in raw


async def test_the_webhook_path_needs_no_bearer_token_when_its_secret_guards_it(tmp_path: Path) -> None:
    async with events_rig(tmp_path, auth_token="inbound-token-0123456789") as ev:
        ok = await ev.deliver(envelope("beam.started.success", id="e-7", room_id=ROOM, recording_id=REC))
        assert ok.status_code == 200
        other = await ev.rest.get("/recording-assets")
        assert other.status_code == 401  # everything else still needs the token
