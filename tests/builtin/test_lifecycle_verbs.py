"""Verbs that know the lifecycle: a stop waits for a recording that is still starting (or refuses with
if_starting=fail), failures say why, pause and resume say what they did.

100ms fails a recording stopped while starting ("Beam stopped too early", beam.failure BEAM_STOPPED:
https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/webhook), and a paused recording keeps
status "running" (https://www.100ms.live/docs/server-side/v2/api-reference/recordings/pause-recording-for-room)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from hms_recordings.runtime.invoker import CallContext
from tests.builtin.rig import MEETING, ROOM
from tests.builtin.timed import Timed, timed_service

pytestmark = pytest.mark.anyio


async def _ok(timed: Timed, tool: str, args: dict[str, Any], context: CallContext | None = None) -> Any:
    outcome = await timed.service.call(tool, args, context)
    assert outcome.error is None, outcome.error
    return outcome.data


async def _start(timed: Timed) -> str:
    started = await _ok(timed, "hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
    assert started["status"] == "starting"
    return str(started["id"])


@pytest.mark.parametrize("tool", ["hms-stop-recording", "hms-stop-recording-by-id"])
async def test_a_stop_right_after_the_start_waits_until_it_runs_and_the_recording_completes(tool: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with timed_service(start_delay=3) as timed:
        recording_id = await _start(timed)
        args = {"room_id": ROOM} if tool == "hms-stop-recording" else {"recording_id": recording_id}
        with anyio.fail_after(10):
            outcome = await timed.service.call(tool, args, CallContext(progress=on_progress))
            assert outcome.error is None, outcome.error
            done = await _ok(timed, "hms-wait-for-recording", {"recording_id": recording_id, "timeout_seconds": 60})
    assert any("waited" in note and "to start" in note for note in outcome.notes)
    assert seen and "is starting" in str(seen[0][2]) and seen[-1][0] == seen[-1][1]
    assert done["recording"]["status"] == "completed", done
    assert "failure_reason" not in done["recording"]
    assert {a["type"] for a in done["recording"]["assets"]} == {"room-composite", "chat"}


async def test_if_starting_fail_refuses_says_why_and_stops_nothing() -> None:
    async with timed_service(start_delay=3) as timed:
        recording_id = await _start(timed)
        outcome = await timed.service.call(
            "hms-stop-recording-by-id", {"recording_id": recording_id, "if_starting": "fail"}
        )
        assert outcome.error is not None and outcome.error.kind == "conflict"
        assert "still starting" in outcome.error.message and "nothing was stopped" in outcome.error.message
        timed.clock.advance(5)
        after = await _ok(timed, "hms-get-recording", {"recording_id": recording_id})
    assert after["status"] == "running"


async def test_a_start_that_never_runs_is_not_stopped_and_the_wait_is_bounded() -> None:
    async with timed_service(start_delay=10_000) as timed:
        recording_id = await _start(timed)
        with anyio.fail_after(10):
            outcome = await timed.service.call("hms-stop-recording", {"room_id": ROOM})
        assert outcome.error is not None and outcome.error.kind == "not_ready"
        assert "still starting after 60s" in outcome.error.message
        still = await _ok(timed, "hms-get-recording", {"recording_id": recording_id})
    assert still["status"] == "starting"


async def test_a_recording_that_failed_says_why_in_get_and_wait() -> None:
    async with timed_service(start_delay=3) as timed:
        recording_id = await _start(timed)
        # A stop sent straight to 100ms (not through the tools) while starting: the documented failure.
        response = await timed.service.invoker.upstreams.send_operation(
            "recordings.stoprecordingbyid", {"recording_id": recording_id}
        )
        assert response.status == 200
        timed.clock.advance(1)
        got = await _ok(timed, "hms-get-recording", {"recording_id": recording_id})
        waited = await _ok(timed, "hms-wait-for-recording", {"recording_id": recording_id})
    assert got["status"] == "failed" and "before the recorder joined" in got["failure_reason"]
    assert waited["recording"]["failure_reason"] == got["failure_reason"]
    assert waited["message"].startswith("recording failed: stopped before the recorder joined")


async def test_pause_and_resume_say_what_they_did_and_the_state() -> None:
    async with timed_service(start_delay=0) as timed:
        recording_id = await _start(timed)
        timed.clock.advance(1)
        paused = await _ok(timed, "hms-pause-recording", {"room_id": ROOM})
        rec = timed.app.emulator.store.recordings[recording_id]
        assert rec.paused  # the emulator really holds the recording paused
        resumed = await _ok(timed, "hms-resume-recording", {"room_id": ROOM})
        assert not rec.paused
    assert paused["paused"] is True and paused["status"] == "running" and paused["id"] == recording_id
    assert "paused" in paused["message"] and "running" in paused["message"]
    assert resumed["paused"] is False and "resumed" in resumed["message"]
