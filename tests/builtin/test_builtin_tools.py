"""The built-in recordings capability against the emulator: every tool's happy path and its error paths."""

from __future__ import annotations

import pytest
from inline_snapshot import snapshot

from hms_recordings.emulator import EmulatorConfig
from tests.builtin.rig import MEETING, OTHER_ROOM, ROOM, Rig, make_rig

pytestmark = pytest.mark.anyio


async def start(rig: Rig, room: str = ROOM, **extra: object) -> dict[str, object]:
    outcome = await rig.call("hms-start-recording", {"room_id": room, "meeting_url": MEETING, **extra})
    assert outcome.ok, outcome.error
    assert isinstance(outcome.data, dict)
    return outcome.data


async def completed_recording(rig: Rig, room: str = ROOM) -> str:
    recording_id = str((await start(rig, room))["id"])
    assert (await rig.call("hms-stop-recording", {"room_id": room})).ok
    await rig.advance(1)
    return recording_id


async def test_start_returns_a_compact_starting_recording(rig: Rig) -> None:
    data = await start(rig)
    assert data["status"] == "starting"
    assert data["room_id"] == ROOM
    assert data["already_active"] is False
    assert set(data) >= {"id", "session_id", "created_at", "started_at", "assets"}


async def test_start_sends_the_typed_fields_as_the_json_body(rig: Rig) -> None:
    await start(
        rig,
        resolution={"width": 1920, "height": 1080},
        transcription={"enabled": True, "output_modes": ["txt"], "summary": {"enabled": True}},
    )
    await rig.call("hms-stop-recording", {"room_id": ROOM})
    await rig.advance(1)
    listed = await rig.call("hms-list-recording-assets", {"room_id": ROOM})
    types = sorted(a["type"] for a in listed.data["assets"])
    assert types == ["chat", "room-composite", "summary", "transcript"]
    composite = next(a for a in listed.data["assets"] if a["type"] == "room-composite")
    assert composite["metadata"]["resolution"] == {"width": 1920, "height": 1080}


async def test_a_second_start_names_the_active_recording_and_the_next_step(rig: Rig) -> None:
    first = await start(rig)
    outcome = await rig.call("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
    assert outcome.error is not None
    assert outcome.error.kind == "conflict"
    assert outcome.error.message == snapshot(
        "room 6a0f1c2d3e4f5a6b7c8d9e0f already has an active recording 6a1ccb800000001094b2b8fe (status running); stop it with hms-stop-recording, or pass if_active=return to get it back as the result"
    )
    assert outcome.error.data["id"] == first["id"]


async def test_safe_start_twice_gives_one_recording(rig: Rig) -> None:
    first = await start(rig, if_active="return")
    second = await start(rig, if_active="return")
    assert second["id"] == first["id"]
    assert second["already_active"] is True
    listed = await rig.call("hms-list-recordings", {"room_id": ROOM})
    assert [r["id"] for r in listed.data["recordings"]] == [first["id"]]
    starts = [r for r in await rig.upstream_requests() if r["path"].endswith("/start")]
    assert len(starts) == 2  # the second start reached 100ms, got 409, and was answered from the lookup


async def test_malformed_room_id_is_rejected_before_anything_is_sent(rig: Rig) -> None:
    for bad in ("6a0f", "6A0F1C2D3E4F5A6B7C8D9E0F", "../6a0f1c2d3e4f5a6b7c8d9e", "6a0f1c2d3e4f5a6b7c8d9e0f\n"):
        outcome = await rig.call("hms-start-recording", {"room_id": bad, "meeting_url": MEETING})
        assert outcome.error is not None and outcome.error.kind == "invalid_arguments"
        assert "room_id" in outcome.error.fields
    assert await rig.upstream_requests() == []


async def test_out_of_range_resolution_and_unknown_fields_are_named(rig: Rig) -> None:
    outcome = await rig.call(
        "hms-start-recording",
        {"room_id": ROOM, "resolution": {"width": 100, "height": 720}, "colour": "red"},
    )
    assert outcome.error is not None
    assert outcome.error.as_dict() == snapshot(
        {
            "kind": "invalid_arguments",
            "message": "invalid arguments for hms-start-recording: unknown argument `colour` (allowed: audio_only, destination, if_active, meeting_url, resolution, room_id, transcription); `resolution.width` must be >= 500",
            "fields": ["colour", "resolution.width"],
        }
    )
    assert await rig.upstream_requests() == []


async def test_stop_pause_and_resume_with_nothing_active_say_so(rig: Rig) -> None:
    messages = []
    for tool in ("hms-stop-recording", "hms-pause-recording", "hms-resume-recording"):
        outcome = await rig.call(tool, {"room_id": OTHER_ROOM})
        assert outcome.error is not None, tool
        messages.append(outcome.error.as_dict())
    assert messages == snapshot(
        [
            {
                "kind": "not_found",
                "message": "room 6a0f1c2d3e4f5a6b7c8d9e01 has no active recording, so there is nothing to stop, pause or resume; call hms-list-recordings with room_id=6a0f1c2d3e4f5a6b7c8d9e01 to see its recordings.",
            },
            {
                "kind": "not_found",
                "message": "room 6a0f1c2d3e4f5a6b7c8d9e01 has no active recording, so there is nothing to stop, pause or resume; call hms-list-recordings with room_id=6a0f1c2d3e4f5a6b7c8d9e01 to see its recordings.",
            },
            {
                "kind": "not_found",
                "message": "room 6a0f1c2d3e4f5a6b7c8d9e01 has no active recording, so there is nothing to stop, pause or resume; call hms-list-recordings with room_id=6a0f1c2d3e4f5a6b7c8d9e01 to see its recordings.",
            },
        ]
    )


async def test_pause_and_resume_keep_the_status_running(rig: Rig) -> None:
    await start(rig)
    await rig.advance(1)
    paused = await rig.call("hms-pause-recording", {"room_id": ROOM})
    resumed = await rig.call("hms-resume-recording", {"room_id": ROOM})
    assert paused.ok and resumed.ok
    assert paused.data["status"] == "running" and resumed.data["status"] == "running"


async def test_stop_by_id_stops_that_recording_and_twice_says_it_is_not_active(rig: Rig) -> None:
    recording_id = (await start(rig))["id"]
    stopped = await rig.call("hms-stop-recording-by-id", {"recording_id": recording_id})
    assert stopped.ok and stopped.data["status"] == "stopping"
    again = await rig.call("hms-stop-recording-by-id", {"recording_id": recording_id})
    assert again.error is not None
    assert again.error.as_dict() == snapshot(
        {
            "kind": "not_found",
            "message": "recording 6a1ccb800000001094b2b8fe is not active (it may have already stopped); call hms-get-recording with recording_id=6a1ccb800000001094b2b8fe to see its status.",
        }
    )


async def test_get_recording_lists_its_assets_once_completed(rig: Rig) -> None:
    recording_id = await completed_recording(rig)
    outcome = await rig.call("hms-get-recording", {"recording_id": recording_id})
    assert outcome.ok
    assert outcome.data["status"] == "completed"
    assert sorted(a["type"] for a in outcome.data["assets"]) == ["chat", "room-composite"]


async def test_get_unknown_recording_points_to_the_list_tool(rig: Rig) -> None:
    outcome = await rig.call("hms-get-recording", {"recording_id": "0" * 24})
    assert outcome.error is not None
    assert outcome.error.as_dict() == snapshot(
        {
            "kind": "not_found",
            "message": "recording 000000000000000000000000 does not exist; call hms-list-recordings to find recording ids.",
        }
    )


async def test_list_recordings_is_compact_and_says_how_to_get_the_next_page(rig: Rig) -> None:
    ids = []
    for index in range(12):
        room = f"6a0f1c2d3e4f5a6b7c8d9e{index:02x}"
        ids.append((await start(rig, room))["id"])
    first = await rig.call("hms-list-recordings", {"limit": 10})
    assert len(first.data["recordings"]) == 10
    assert set(first.data["recordings"][0]) == {
        "id",
        "room_id",
        "session_id",
        "status",
        "created_at",
        "started_at",
        "stopped_at",
    }
    cursor = first.data["next_start"]
    assert f"start={cursor}" in first.data["next_page"]
    second = await rig.call("hms-list-recordings", {"limit": 10, "start": cursor})
    assert len(second.data["recordings"]) == 2
    assert second.data["next_page"] == "this is the last page"
    seen = [r["id"] for r in first.data["recordings"] + second.data["recordings"]]
    assert seen == list(reversed(ids))


async def test_list_filters_are_validated_and_forwarded(rig: Rig) -> None:
    await start(rig)
    await start(rig, OTHER_ROOM)
    only = await rig.call("hms-list-recordings", {"room_id": OTHER_ROOM, "status": "running"})
    assert [r["room_id"] for r in only.data["recordings"]] == [OTHER_ROOM]
    bad = await rig.call("hms-list-recordings", {"status": "paused", "limit": 5})
    assert bad.error is not None
    assert "`status` must be one of" in bad.error.message and "`limit` must be >= 10" in bad.error.message


async def test_list_assets_filters_by_type_and_get_asset_gives_its_path(rig: Rig) -> None:
    await completed_recording(rig)
    listed = await rig.call("hms-list-recording-assets", {"room_id": ROOM, "type": "chat"})
    assert [a["type"] for a in listed.data["assets"]] == ["chat"]
    asset = await rig.call("hms-get-recording-asset", {"asset_id": listed.data["assets"][0]["id"]})
    assert asset.ok and asset.data["path"].startswith("s3://")
    missing = await rig.call("hms-get-recording-asset", {"asset_id": "0" * 24})
    assert missing.error is not None and "hms-list-recording-assets" in missing.error.message


async def test_presigned_url_downloads_the_asset_bytes(rig: Rig) -> None:
    await completed_recording(rig)
    listed = await rig.call("hms-list-recording-assets", {"room_id": ROOM, "type": "room-composite"})
    asset_id = listed.data["assets"][0]["id"]
    link = await rig.call("hms-get-recording-presigned-url", {"asset_id": asset_id, "presign_duration": 600})
    assert link.ok and link.data["expires_in_seconds"] == 600
    download = await rig.admin.get(link.data["url"])
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("video/mp4")


async def test_presign_duration_has_a_ceiling(rig: Rig) -> None:
    outcome = await rig.call("hms-get-recording-presigned-url", {"asset_id": "0" * 24, "presign_duration": 10**7})
    assert outcome.error is not None and "<= 604800" in outcome.error.message


async def test_wait_returns_the_completed_recording_with_its_assets(rig: Rig) -> None:
    recording_id = await completed_recording(rig)
    outcome = await rig.call("hms-wait-for-recording", {"recording_id": recording_id})
    assert outcome.ok
    assert outcome.data["reached"] is True
    assert outcome.data["recording"]["status"] == "completed"
    assert len(outcome.data["recording"]["assets"]) == 2


async def test_wait_says_plainly_when_the_time_runs_out() -> None:
    async with make_rig(emulator=EmulatorConfig(manual_clock=True, start_delay=60, processing_time=0)) as rig:
        recording_id = (await start(rig))["id"]
        outcome = await rig.call(
            "hms-wait-for-recording", {"recording_id": recording_id, "until": "running", "timeout_seconds": 1}
        )
    assert outcome.ok
    assert outcome.data["reached"] is False
    assert "still starting after 1s" in outcome.data["message"]


async def test_rejected_credentials_say_which_variables_to_check() -> None:
    async with make_rig(env={"HMS_MANAGEMENT_TOKEN": "not-a-valid-token"}) as rig:
        outcome = await rig.call("hms-list-recordings", {})
    assert outcome.error is not None and outcome.error.kind == "credentials"
    assert "HMS_MANAGEMENT_TOKEN" in outcome.error.message and "HMS_ACCESS_KEY" in outcome.error.message
    assert "not-a-valid-token" not in outcome.error.message
