"""The event log: durable, deduplicated, bounded, and read through hms-list-recording-events and the room resource."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from hms_recordings.runtime.local import ReceivedEvent
from hms_recordings.server.events.store import EventStore, StoreBusy
from tests.events.conftest import envelope, events_rig
from tests.rig import OTHER_ROOM, ROOM, make_rig

pytestmark = pytest.mark.anyio

REC_A = "6b10aa2d3e4f5a6b7c8d9e0a"
REC_B = "6b10aa2d3e4f5a6b7c8d9e0b"


def _event(n: int, *, room: str = ROOM) -> ReceivedEvent:
    return ReceivedEvent(f"id-{n}", "beam.started.success", "2026-12-01T10:00:00Z", {"room_id": room}, (), {"n": n})


async def test_the_event_log_survives_closing_and_reopening_its_file(tmp_path: Path) -> None:
    path = tmp_path / "log" / "events.sqlite3"  # a directory that does not exist yet
    async with EventStore(path) as store:
        assert await store.add(_event(1)) is True
    async with EventStore(path) as store:
        assert [e["n"] for e in await store.query(keys={})] == [1]
        assert await store.add(_event(1)) is False  # still known after the restart: a retry is not a new event


async def test_the_log_keeps_only_the_newest_max_events(tmp_path: Path) -> None:
    async with EventStore(tmp_path / "e.sqlite3", max_events=5) as store:
        for n in range(12):
            await store.add(_event(n))
        assert await store.count() == 5
        assert [e["n"] for e in await store.query(keys={}, limit=100)] == [11, 10, 9, 8, 7]
        # Their keys went with them: a filtered query finds only what is kept.
        assert len(await store.query(keys={"room_id": ROOM}, limit=100)) == 5


async def test_the_log_forgets_events_older_than_max_age(tmp_path: Path) -> None:
    now = [1_000_000.0]
    async with EventStore(tmp_path / "e.sqlite3", max_age_days=1, clock=lambda: now[0]) as store:
        await store.add(_event(1))
        now[0] += 2 * 86_400
        await store.add(_event(2))
        assert [e["n"] for e in await store.query(keys={})] == [2]


async def test_a_full_write_queue_refuses_further_deliveries_instead_of_growing(tmp_path: Path) -> None:
    async with EventStore(tmp_path / "e.sqlite3", max_pending=1) as store:
        outcomes: list[object] = []

        async def add(n: int) -> None:
            try:
                outcomes.append(await store.add(_event(n)))
            except StoreBusy:
                outcomes.append("busy")

        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(add, n)
        assert "busy" in outcomes
        assert await store.count() == outcomes.count(True)


async def test_events_are_listed_newest_first_filtered_by_room_recording_type_and_since(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        sent = [
            envelope("beam.started.success", id="a1", room_id=ROOM, recording_id=REC_A, at="2026-12-01T10:00:00Z"),
            envelope("beam.stopped.success", id="a2", room_id=ROOM, recording_id=REC_A, at="2026-12-01T10:05:00Z"),
            envelope(
                "beam.started.success", id="b1", room_id=OTHER_ROOM, recording_id=REC_B, at="2026-12-01T10:06:00Z"
            ),
            envelope("beam.recording.success", id="a3", room_id=ROOM, recording_id=REC_A, at="2026-12-01T10:07:00Z"),
        ]
        for body in sent:
            assert (await ev.deliver(body)).status_code == 200

        async def ids(**args: str) -> list[str]:
            result = await ev.rig.call_ok("hms-list-recording-events", args)
            return [e["id"] for e in result["events"]]

        assert await ids() == ["a3", "b1", "a2", "a1"]
        assert await ids(room_id=ROOM) == ["a3", "a2", "a1"]
        assert await ids(recording_id=REC_B) == ["b1"]
        assert await ids(type="beam.started.success") == ["b1", "a1"]
        assert await ids(since="2026-12-01T10:05:00Z", room_id=ROOM) == ["a3", "a2"]
        assert await ids(since="2026-12-01T11:05:00+01:00") == ["a3", "b1", "a2"]  # offsets count


async def test_events_are_paginated_like_the_other_lists_with_next_start(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        for n in range(25):
            await ev.deliver(envelope("beam.started.success", id=f"p{n}", room_id=ROOM, recording_id=REC_A))
        seen: list[str] = []
        args: dict[str, object] = {"room_id": ROOM}
        pages = 0
        while True:
            page = await ev.rig.call_ok("hms-list-recording-events", args)
            pages += 1
            seen += [e["id"] for e in page["events"]]
            if page["next_start"] is None:
                assert page["next_page"] == "this is the last page"
                break
            assert "start" in page["next_page"]
            args = {"room_id": ROOM, "start": page["next_start"]}
        assert pages == 3
        assert seen == [f"p{n}" for n in reversed(range(25))]


async def test_bad_filters_are_refused_before_the_log_is_read(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        for args in ({"room_id": "nope"}, {"since": "yesterday"}, {"start": "abc"}, {"limit": 5}, {"color": "red"}):
            outcome = await ev.rig.call("hms-list-recording-events", args)
            assert outcome.error is not None and outcome.error.kind == "invalid_arguments", args


async def test_the_room_events_resource_reads_the_rooms_events(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        await ev.deliver(envelope("beam.started.success", id="r1", room_id=ROOM, recording_id=REC_A))
        await ev.deliver(envelope("beam.started.success", id="r2", room_id=OTHER_ROOM, recording_id=REC_B))
        outcome, mime = await ev.rig.service.read(f"hms://rooms/{ROOM}/events")
        assert outcome.error is None and mime == "application/json"
        assert [e["id"] for e in json.loads(outcome.text or "")["events"]] == ["r1"]


async def test_without_an_event_log_the_tool_says_how_to_get_one(tmp_path: Path) -> None:
    async with make_rig() as rig:
        outcome = await rig.call("hms-list-recording-events", {})
    assert outcome.error is not None and outcome.error.kind == "unsupported"
    assert "docs/events.md" in outcome.error.message
