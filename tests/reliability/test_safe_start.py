"""Safe start (issue 5): a start is never repeated automatically, and a lost answer is reconciled by a lookup."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from hms_recordings.runtime.upstream import RetryPolicy

from .conftest import Harness, HarnessFactory, new_room

pytestmark = pytest.mark.anyio

START = "hms-start-recording"
START_PREFIX = "/v2/recordings/room/"


def posts(log: list[dict[str, Any]], room: str) -> list[dict[str, Any]]:
    return [r for r in log if r["method"] == "POST" and r["path"] == f"{START_PREFIX}{room}/start"]


async def test_a_start_whose_answer_is_lost_after_commit_returns_the_recording_it_created(h: Harness) -> None:
    room = new_room()
    await h.faults({"method": "POST", "path_prefix": START_PREFIX, "mode": "drop-after-commit"})
    outcome = await h.call(START, {"room_id": room})
    assert outcome.error is None, outcome.error
    [recording] = h.app.emulator.store.recordings.values()
    assert outcome.data["id"] == recording.id
    assert outcome.data["room_id"] == room
    assert outcome.data["reconciled"] is True
    assert outcome.data["already_active"] is False
    assert any("answer to the start was lost" in note for note in outcome.notes)
    log = await h.requests()
    # The room's recordings are listed before the start (to know what was already there), and after the lost answer.
    assert [(r["method"], r["status"]) for r in log] == [("GET", 200), ("POST", None), ("GET", 200)]
    assert log[0]["query"]["room_id"] == log[2]["query"]["room_id"] == room


async def test_with_lost_answers_on_half_the_starts_no_room_ever_gets_two_recordings(
    make_harness: HarnessFactory,
) -> None:
    rooms = [new_room() for _ in range(40)]
    got: dict[str, list[str]] = {room: [] for room in rooms}
    async with make_harness(seed=11) as h:
        await h.faults({"method": "POST", "path_prefix": START_PREFIX, "mode": "drop-after-commit", "rate": 0.5})

        async def caller(room: str) -> None:
            # A careful client: it starts, and starts again with if_active=return (harmless by design).
            for args in ({"room_id": room}, {"room_id": room, "if_active": "return"}):
                outcome = await h.call(START, args)
                assert outcome.error is None, outcome.error
                got[room].append(outcome.data["id"])

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for room in rooms:
                    tg.start_soon(caller, room)
        log = await h.requests()
    assert h.active_per_room() == dict.fromkeys(rooms, 1)
    ids = {rec.room_id: rec.id for rec in h.app.emulator.store.recordings.values()}
    for room in rooms:
        assert got[room] == [ids[room], ids[room]]  # the caller always gets the recording that exists
        assert len(posts(log, room)) == 2  # one per call: never an automatic repeat
    assert sum(1 for r in log if r["method"] == "POST" and r["status"] is None) > 10  # the fault did fire


async def test_a_start_dropped_before_the_upstream_acted_says_starting_again_is_safe(h: Harness) -> None:
    room = new_room()
    await h.faults({"method": "POST", "path_prefix": START_PREFIX, "mode": "drop"})
    outcome = await h.call(START, {"room_id": room})
    assert outcome.error is not None
    assert outcome.error.kind == "upstream_unavailable"
    assert outcome.error.message.endswith(
        f"room {room} has no active recording, so the start did not take effect and calling hms-start-recording "
        "again is safe"
    )
    assert h.active_per_room() == {}
    assert len(posts(await h.requests(), room)) == 1


async def test_a_lost_start_whose_lookup_also_fails_does_not_claim_the_start_failed(h: Harness) -> None:
    """Regression: a failed lookup was read as "no active recording", and the caller told the start did not happen."""
    room = new_room()
    await h.faults(
        {"method": "POST", "path_prefix": START_PREFIX, "mode": "drop-after-commit"},
        {"method": "GET", "status": 503, "retry_after": 0},
    )
    outcome = await h.call(START, {"room_id": room})
    assert outcome.error is not None
    assert h.active_per_room() == {room: 1}  # the start did take effect
    assert "did not take effect" not in outcome.error.message
    assert "could not confirm whether the start took effect" in outcome.error.message
    assert "if_active=return" in outcome.error.message
    # Following the advice once the upstream is back gives the recording that exists, without a second one.
    await h.clear_faults()
    again = await h.call(START, {"room_id": room, "if_active": "return"})
    assert again.error is None and again.data["already_active"] is True
    assert h.active_per_room() == {room: 1}


async def test_a_start_that_timed_out_does_not_claim_it_failed(make_harness: HarnessFactory) -> None:
    """Regression: after a timeout 100ms may still be acting, so an empty lookup proves nothing."""
    room = new_room()
    async with make_harness(retry=RetryPolicy(deadline=0.2)) as h:
        await h.faults({"method": "POST", "path_prefix": START_PREFIX, "mode": "latency", "latency_ms": 10_000})
        with anyio.fail_after(5):
            outcome = await h.call(START, {"room_id": room})
        assert outcome.error is not None
        assert outcome.error.kind == "upstream_timeout"
        assert "did not take effect" not in outcome.error.message
        assert "may still be acting on the start" in outcome.error.message
        assert "if_active=return" in outcome.error.message
        assert len(posts(await h.requests(), room)) == 1


async def test_a_second_start_names_the_active_recording_or_returns_it_with_if_active_return(h: Harness) -> None:
    room = new_room()
    first = await h.call_ok(START, {"room_id": room})
    refused = await h.call(START, {"room_id": room})
    assert refused.error is not None
    assert refused.error.kind == "conflict"
    assert refused.error.http_status == 409
    assert f"room {room} already has an active recording {first['id']}" in refused.error.message
    assert "if_active=return" in refused.error.message
    assert refused.error.data["id"] == first["id"]
    returned = await h.call_ok(START, {"room_id": room, "if_active": "return"})
    assert returned["id"] == first["id"] and returned["already_active"] is True
    assert h.active_per_room() == {room: 1}
