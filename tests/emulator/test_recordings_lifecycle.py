"""The recording lifecycle and the recording endpoints (reference §4.1-§4.7, §6, §9)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx2
import pytest

from hms_recordings.emulator import EmulatorConfig

from .conftest import OTHER_ROOM, ROOM

Advance = Callable[[float], Awaitable[None]]


async def start(client: httpx2.AsyncClient, room: str = ROOM, **body: object) -> dict[str, object]:
    response = await client.post(f"/v2/recordings/room/{room}/start", json=body or {"meeting_url": "https://x.test/m"})
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()
    return data


@pytest.mark.requirement("REC-START-200")
@pytest.mark.anyio
async def test_start_answers_starting_with_null_started_at_assets_and_empty_started_by(
    client: httpx2.AsyncClient,
) -> None:
    """§4.4: 200 with status starting, started_at/stopped_at/recording_assets null, started_by ""."""
    data = await start(client)
    assert data["status"] == "starting"
    assert data["room_id"] == ROOM
    assert data["meeting_url"] == "https://x.test/m"
    assert data["started_at"] is None
    assert data["stopped_at"] is None
    assert data["recording_assets"] is None
    assert data["started_by"] == ""
    assert data["stopped_by"] == ""
    assert data["asset_types"] == ["room-composite", "chat"]
    assert "destination" in data
    assert len(str(data["id"])) == 24
    assert len(str(data["session_id"])) == 24
    assert data["session_id"] != data["id"]


@pytest.mark.requirement("REC-LIFECYCLE")
@pytest.mark.anyio
async def test_recording_runs_after_start_delay_then_completes_after_processing_time(
    emulator_config: EmulatorConfig, client: httpx2.AsyncClient, advance: Advance
) -> None:
    """§9: starting -> running (start_delay) -> stopping -> post_processing -> completed (processing_time)."""
    emulator_config.start_delay, emulator_config.processing_time = 5, 30
    rec = await start(client)
    assert (await client.get(f"/v2/recordings/{rec['id']}")).json()["status"] == "starting"
    await advance(5)
    running = (await client.get(f"/v2/recordings/{rec['id']}")).json()
    assert running["status"] == "running"
    assert running["started_at"] is not None
    await advance(60)
    stopped = (await client.post(f"/v2/recordings/{rec['id']}/stop")).json()
    assert stopped["status"] == "stopping"
    assert stopped["stopped_at"] is None
    processing = (await client.get(f"/v2/recordings/{rec['id']}")).json()
    assert processing["status"] == "post_processing"
    assert processing["stopped_at"] is not None
    assert processing["recording_assets"] is None
    await advance(30)
    done = (await client.get(f"/v2/recordings/{rec['id']}")).json()
    assert done["status"] == "completed"
    assert [a["type"] for a in done["recording_assets"]] == ["room-composite", "chat"]


@pytest.mark.requirement("REC-LIFECYCLE")
@pytest.mark.anyio
async def test_zero_delays_mean_the_next_read_sees_the_next_state(client: httpx2.AsyncClient) -> None:
    """§9 [I]: with start_delay 0 the first read after start is running; processing_time 0 completes on next read."""
    rec = await start(client)
    assert (await client.get(f"/v2/recordings/{rec['id']}")).json()["status"] == "running"
    await client.post(f"/v2/recordings/room/{ROOM}/stop")
    assert (await client.get(f"/v2/recordings/{rec['id']}")).json()["status"] == "completed"


@pytest.mark.requirement("REC-STOP-BEFORE-RUNNING")
@pytest.mark.anyio
async def test_stop_before_running_fails_the_recording(
    emulator_config: EmulatorConfig, client: httpx2.AsyncClient
) -> None:
    """§9, §8: a stop while starting answers stopping, then the job is failed (beam.failure BEAM_STOPPED)."""
    emulator_config.start_delay = 10
    rec = await start(client)
    assert (await client.post(f"/v2/recordings/{rec['id']}/stop")).json()["status"] == "stopping"
    failed = (await client.get(f"/v2/recordings/{rec['id']}")).json()
    assert failed["status"] == "failed"
    assert failed["recording_assets"] is None


@pytest.mark.requirement("REC-START-409")
@pytest.mark.anyio
async def test_start_while_recording_answers_409_beam_already_started(client: httpx2.AsyncClient) -> None:
    """§6 [O QA1-QA5]: a second start in a room with an active recording is 409 ``beam already started``."""
    await start(client)
    response = await client.post(f"/v2/recordings/room/{ROOM}/start", json={"meeting_url": "https://x.test/m"})
    assert response.status_code == 409
    assert response.json() == {"code": 409, "message": "beam already started"}
    assert (await client.post(f"/v2/recordings/room/{OTHER_ROOM}/start", json={})).status_code == 200


@pytest.mark.requirement("REC-STOP-ROOM")
@pytest.mark.anyio
async def test_stop_room_answers_a_page_of_stopping_recordings(client: httpx2.AsyncClient) -> None:
    """§4.5: stop-for-room answers {limit, data, last} with each recording stopping and stopped_at null."""
    rec = await start(client)
    body = (await client.post(f"/v2/recordings/room/{ROOM}/stop")).json()
    assert body["limit"] == 1
    assert body["last"] == rec["id"]
    assert [(r["id"], r["status"], r["stopped_at"]) for r in body["data"]] == [(rec["id"], "stopping", None)]


@pytest.mark.requirement("REC-STOP-404")
@pytest.mark.anyio
async def test_stop_room_with_nothing_active_answers_404_beam_not_found(client: httpx2.AsyncClient) -> None:
    """§6 [O QA1]: stopping a room with no active recording is 404 ``beam not found``."""
    response = await client.post(f"/v2/recordings/room/{ROOM}/stop")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "beam not found"}


@pytest.mark.requirement("REC-STOP-404")
@pytest.mark.anyio
async def test_stop_by_id_of_a_finished_recording_answers_404_beam_not_found(client: httpx2.AsyncClient) -> None:
    """§9 [I]: stop(id) on a recording that is no longer active is 404 ``beam not found``."""
    rec = await start(client)
    assert (await client.post(f"/v2/recordings/{rec['id']}/stop")).status_code == 200
    again = await client.post(f"/v2/recordings/{rec['id']}/stop")
    assert again.status_code == 404
    assert again.json()["message"] == "beam not found"


@pytest.mark.requirement("REC-ROOM-403")
@pytest.mark.anyio
@pytest.mark.parametrize("room", ["00000000000", "1", "ZZZZZZZZZZZZZZZZZZZZZZZZ"])
async def test_start_with_malformed_room_id_answers_403(client: httpx2.AsyncClient, room: str) -> None:
    """§6 [O QA1, QA2]: malformed room ids are 403 ``user does not have required permission``."""
    response = await client.post(f"/v2/recordings/room/{room}/start", json={})
    assert response.status_code == 403
    assert response.json() == {"code": 403, "message": "user does not have required permission"}


@pytest.mark.requirement("REC-PAUSE")
@pytest.mark.anyio
async def test_pause_and_resume_keep_status_running_and_are_idempotent(client: httpx2.AsyncClient) -> None:
    """§4.7: pause/resume answer the recording with status running and asset_types null; repeats are 200 [I]."""
    rec = await start(client)
    await client.get(f"/v2/recordings/{rec['id']}")
    for action in ("pause", "pause", "resume", "resume"):
        response = await client.post(f"/v2/recordings/room/{ROOM}/{action}")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "running"
        assert body["asset_types"] is None
        assert "destination" in body


@pytest.mark.requirement("REC-PAUSE")
@pytest.mark.anyio
async def test_paused_time_is_left_out_of_the_recording_duration(client: httpx2.AsyncClient, advance: Advance) -> None:
    """§4.7, §4.8 [I]: time spent paused does not count in the composite asset's duration."""
    rec = await start(client)
    await advance(10)
    await client.post(f"/v2/recordings/room/{ROOM}/pause")
    await advance(100)
    await client.post(f"/v2/recordings/room/{ROOM}/resume")
    await advance(20)
    await client.post(f"/v2/recordings/room/{ROOM}/stop")
    assets = (await client.get(f"/v2/recordings/{rec['id']}")).json()["recording_assets"]
    assert assets[0]["type"] == "room-composite"
    assert assets[0]["duration"] == 30


@pytest.mark.requirement("REC-PAUSE-404")
@pytest.mark.anyio
@pytest.mark.parametrize("action", ["pause", "resume"])
async def test_pause_or_resume_with_nothing_active_answers_404_beam_not_found(
    client: httpx2.AsyncClient, action: str
) -> None:
    """§9 [I]: pause/resume in a room without an active recording is 404 ``beam not found``."""
    response = await client.post(f"/v2/recordings/room/{ROOM}/{action}")
    assert response.status_code == 404
    assert response.json()["message"] == "beam not found"


@pytest.mark.requirement("REC-GET-404")
@pytest.mark.anyio
@pytest.mark.parametrize("recording_id", ["65f0c0ffee0000000000ffff", "not-an-id"])
async def test_get_unknown_recording_answers_404_recording_not_found(
    client: httpx2.AsyncClient, recording_id: str
) -> None:
    """§4.3 [I]: an unknown (or malformed) recording id is 404 ``recording not found``."""
    response = await client.get(f"/v2/recordings/{recording_id}")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "recording not found"}


@pytest.mark.requirement("REC-NULL-ABSENT")
@pytest.mark.anyio
async def test_list_omits_recording_assets_and_destination_but_get_has_them_as_documented(
    client: httpx2.AsyncClient,
) -> None:
    """§4.1: list responses omit recording_assets; get has it (null until assets exist); destination only on start."""
    rec = await start(client)
    listed = (await client.get("/v2/recordings")).json()["data"][0]
    got = (await client.get(f"/v2/recordings/{rec['id']}")).json()
    assert "recording_assets" not in listed
    assert "destination" not in listed
    assert got["recording_assets"] is None
    assert "destination" not in got
    assert set(got) - {"recording_assets"} == set(listed)


@pytest.mark.requirement("REC-NULL-ABSENT")
@pytest.mark.anyio
async def test_embedded_assets_lack_job_room_and_session_ids(client: httpx2.AsyncClient) -> None:
    """§4.1: assets embedded under a recording have no job_id/room_id/session_id; asset endpoints have them."""
    rec = await start(client)
    await client.post(f"/v2/recordings/room/{ROOM}/stop")
    embedded = (await client.get(f"/v2/recordings/{rec['id']}")).json()["recording_assets"][0]
    full = (await client.get(f"/v2/recording-assets/{embedded['id']}")).json()
    assert not {"job_id", "room_id", "session_id"} & set(embedded)
    assert full["job_id"] == rec["id"]
    assert full["room_id"] == ROOM
    assert full["session_id"] == rec["session_id"]


@pytest.mark.requirement("REC-TIMESTAMPS")
@pytest.mark.anyio
async def test_timestamps_are_rfc3339_utc_with_z(client: httpx2.AsyncClient, advance: Advance) -> None:
    """§1: timestamps are RFC 3339 UTC strings ending in Z, with variable fractional precision."""
    await advance(0.25)
    rec = await start(client)
    assert str(rec["created_at"]).endswith(".25Z")
    assert rec["created_at"] == rec["updated_at"]
