"""Starts and stops whose answers were lost (issue 13, items 11 and 12).

11. A start whose connection dropped *before* 100ms acted, in a room that already had someone else's recording, used
    to return that recording as the one "it created" (even with the default ``if_active=fail``). Now a recording is
    claimed only when it was absent from the room's active list taken just before the start.
12. A stop that succeeded but whose answer was lost was retried (it is idempotent), and the retry's "nothing to stop"
    was the answer. Now the retried stop reports what it stopped: the recordings that were active just before it and
    have since moved to stopping or later.

Driven through the REST face over a real socket and through the service, against the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms_recordings.emulator import ConnectionDropped

from .conftest import Harness, HarnessFactory, new_room
from .test_upstream_answers import rest_socket

pytestmark = pytest.mark.anyio

START = "hms-start-recording"
STOP = "hms-stop-recording"


class LoseFirstAnswer:
    """ASGI layer: the first request whose path ends with ``suffix`` is carried out, then its answer is lost."""

    def __init__(self, app: ASGIApp, suffix: str) -> None:
        self.app = app
        self.suffix = suffix
        self.lost = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(self.suffix) or self.lost:
            await self.app(scope, receive, send)
            return
        self.lost += 1

        async def discard(message: Message) -> None:
            return None

        await self.app(scope, receive, discard)
        raise ConnectionDropped


def calls(log: list[dict[str, Any]], method: str, suffix: str) -> list[dict[str, Any]]:
    return [r for r in log if r["method"] == method and r["path"].endswith(suffix)]


# ------------------------------------------------------------------------------------------------------- item 11


async def test_a_start_dropped_before_acting_in_a_room_with_someone_elses_recording_says_the_room_had_one(
    h: Harness,
) -> None:
    room = new_room()
    theirs = (await h.call_ok(START, {"room_id": room}))["id"]
    await h.faults({"method": "POST", "path_prefix": "/v2/recordings/room/", "mode": "drop"})
    outcome = await h.call(START, {"room_id": room})
    async with rest_socket(h) as client:
        response = await client.post(f"/rooms/{room}/recording/start", json={})
    assert outcome.error is not None, f"claimed {outcome.data} as created by this start"
    assert outcome.error.kind == "conflict"
    assert f"already had an active recording {theirs}" in outcome.error.message
    assert "this start did not create it" in outcome.error.message
    assert response.status_code == 409, response.text[:300]
    assert "this start did not create it" in response.json()["detail"]
    assert h.active_per_room() == {room: 1}


async def test_with_if_active_return_the_other_recording_comes_back_marked_as_already_active(h: Harness) -> None:
    room = new_room()
    theirs = (await h.call_ok(START, {"room_id": room}))["id"]
    await h.faults({"method": "POST", "path_prefix": "/v2/recordings/room/", "mode": "drop"})
    outcome = await h.call(START, {"room_id": room, "if_active": "return"})
    assert outcome.error is None, outcome.error
    assert outcome.data["id"] == theirs
    assert outcome.data["already_active"] is True
    assert outcome.data.get("reconciled") is not True
    assert any("this start did not create it" in note for note in outcome.notes)


async def test_a_start_whose_answer_is_lost_after_acting_still_claims_the_recording_it_created(h: Harness) -> None:
    room = new_room()
    await h.faults({"method": "POST", "path_prefix": "/v2/recordings/room/", "mode": "drop-after-commit"})
    async with rest_socket(h) as client:
        response = await client.post(f"/rooms/{room}/recording/start", json={})
    assert response.status_code == 200, response.text[:300]
    [created] = h.app.emulator.store.recordings.values()
    assert response.json()["id"] == created.id
    assert response.json()["reconciled"] is True


# ------------------------------------------------------------------------------------------------------- item 12


async def test_a_stop_whose_answer_was_lost_reports_the_recording_it_stopped(make_harness: HarnessFactory) -> None:
    room = new_room()
    holder: list[LoseFirstAnswer] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        holder.append(LoseFirstAnswer(app, f"/room/{room}/stop"))
        return holder[0]

    async with make_harness(wrap=wrap) as h:
        rec = (await h.call_ok(START, {"room_id": room}))["id"]
        async with rest_socket(h) as client:
            response = await client.post(f"/rooms/{room}/recording/stop", json={})
        log = await h.requests()
    assert holder[0].lost == 1
    assert response.status_code == 200, response.text[:300]
    [stopped] = response.json()["stopped"]
    # The harness's emulator processes instantly, so the lookup already sees it completed.
    assert stopped["id"] == rec and stopped["status"] in ("stopping", "post_processing", "completed")
    stops = calls(log, "POST", f"/room/{room}/stop")
    assert [s["status"] for s in stops] == [200, 404]  # the lost answer, then the retry that found nothing active


async def test_a_stop_in_a_room_with_nothing_active_still_says_there_was_nothing_to_stop(h: Harness) -> None:
    room = new_room()
    rec = (await h.call_ok(START, {"room_id": room}))["id"]
    await h.call_ok(STOP, {"room_id": room})  # stopped by an earlier, answered call: not this one's doing
    outcome = await h.call(STOP, {"room_id": room})
    assert outcome.error is not None
    assert outcome.error.kind == "not_found"
    assert "nothing to stop" in outcome.error.message
    assert rec not in outcome.error.message
