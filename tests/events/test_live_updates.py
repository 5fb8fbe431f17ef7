"""Live updates in process: a webhook wakes a waiting hms-wait-for-recording and notifies MCP subscribers of both
protocol eras; without webhooks the wait still polls with back-off."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.server.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning

from hms_recordings.emulator import EmulatorConfig
from tests.events.conftest import EventsRig, envelope, events_rig, polling_capability
from tests.rig import MEETING, ROOM, make_rig

pytestmark = pytest.mark.anyio


async def _start(ev: EventsRig) -> str:
    started = await ev.rig.call_ok("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
    return str(started["id"])


async def test_a_wait_polling_every_60_seconds_returns_within_a_second_of_the_completion_event(
    tmp_path: Path,
) -> None:
    # Processing takes 5 s on the emulator's manual clock: the recording completes only when the test says so.
    async with events_rig(tmp_path, source=polling_capability(tmp_path, 60), processing_time=5) as ev:
        recording_id = await _start(ev)
        uri = f"hms://recordings/{recording_id}"
        result: dict[str, Any] = {}

        async def wait() -> None:
            outcome = await ev.rig.call("hms-wait-for-recording", {"recording_id": recording_id})
            result["at"] = anyio.current_time()
            result["data"] = outcome.data

        async def stored(kind: str) -> None:
            async with ev.hub.watch(uri) as watch:
                while not await ev.store.query(keys={"recording_id": recording_id}, type=kind):
                    await watch.wait(1)

        with anyio.fail_after(10):  # far below the 60 s poll: only wake-ups can end the wait in time
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await ev.rig.call_ok("hms-stop-recording", {"room_id": ROOM})
                await stored("beam.stopped.success")  # the wait woke, looked (post-processing) and paused again
                assert "at" not in result
                await ev.rig.advance(6)
                await stored("beam.recording.success")
                completed_at = anyio.current_time()
        assert result["data"]["reached"] is True and result["data"]["recording"]["status"] == "completed"
        assert result["at"] - completed_at < 1.0


async def test_without_webhooks_the_wait_polls_with_doubling_pauses() -> None:
    pauses: list[float] = []
    holder: dict[str, Any] = {}

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 5:
            await holder["rig"].advance(61)  # the recording starts running after the fifth pause
        await anyio.lowlevel.checkpoint()

    config = EmulatorConfig(manual_clock=True, start_delay=60, processing_time=0, seed=3)
    async with make_rig(emulator=config, sleep=sleep) as rig:
        holder["rig"] = rig
        started = await rig.call_ok("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
        done = await rig.call_ok(
            "hms-wait-for-recording", {"recording_id": started["id"], "until": "running", "timeout_seconds": 600}
        )
    assert done["reached"] is True
    assert pauses == [0.25, 0.5, 1.0, 2.0, 4.0]


async def test_a_2025_client_subscribed_to_a_recording_is_notified_of_each_event(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        recording_id = "6b10aa2d3e4f5a6b7c8d9e0f"
        uri = f"hms://recordings/{recording_id}"
        heard: list[str] = []
        arrived = anyio.Event()

        async def on_message(message: Any) -> None:
            if isinstance(message, types.ResourceUpdatedNotification):
                heard.append(str(message.params.uri))
                arrived.set()

        async with Client(ev.mcp_server(), mode="legacy", message_handler=on_message) as client:
            assert client.server_capabilities is not None
            assert client.server_capabilities.resources is not None
            assert client.server_capabilities.resources.subscribe is True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)  # the 2025 method, on purpose
                await client.subscribe_resource(uri)
                await client.subscribe_resource(f"hms://rooms/{ROOM}/events")
            await ev.deliver(envelope("beam.started.success", id="l1", room_id=ROOM, recording_id=recording_id))
            with anyio.fail_after(1):
                while len(heard) < 2:
                    await arrived.wait()
                    arrived = anyio.Event()
            assert sorted(heard) == sorted([uri, f"hms://rooms/{ROOM}/events"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.unsubscribe_resource(uri)
                await client.unsubscribe_resource(f"hms://rooms/{ROOM}/events")
            heard.clear()
            await ev.deliver(envelope("beam.stopped.success", id="l2", room_id=ROOM, recording_id=recording_id))
            # Unsubscribed: a later event for the same recording is heard by nobody.
            assert ev.events.receiver is not None and ev.events.receiver.counts.accepted == 2
            await anyio.wait_all_tasks_blocked()
            assert heard == []


async def test_a_2026_listen_stream_hears_the_update_of_its_recording_only(tmp_path: Path) -> None:
    async with events_rig(tmp_path) as ev:
        mine, other = "6b10aa2d3e4f5a6b7c8d9e01", "6b10aa2d3e4f5a6b7c8d9e02"
        async with (
            Client(ev.mcp_server(), mode="2026-07-28") as client,
            client.listen(resource_subscriptions=[f"hms://recordings/{mine}"]) as subscription,
        ):
            await ev.deliver(envelope("beam.started.success", id="m0", room_id=ROOM, recording_id=other))
            await ev.deliver(envelope("beam.started.success", id="m1", room_id=ROOM, recording_id=mine))
            with anyio.fail_after(1):
                event = await subscription.__anext__()
        assert event == ResourceUpdated(uri=f"hms://recordings/{mine}")
