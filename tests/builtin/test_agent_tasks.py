"""The issue's agent tasks, each through the official MCP client, as a model would chain them: every id a step
needs comes from the previous result (no joining of two lists by hand), and no recording fails.

The emulator runs on a manual clock that the service's waits move forward (tests/builtin/timed.py), with a real
start delay: a naive "start, then stop at once" would fail the recording, so these tasks prove the stop waits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client

from hms_recordings.faces.mcp import build_mcp_server, describe_tools
from tests.builtin.rig import MEETING, OTHER_ROOM, ROOM
from tests.builtin.timed import Timed, timed_service

pytestmark = pytest.mark.anyio

#: The issue's budget for the whole tool list, in tokens estimated as characters / 4.
TOOL_LIST_BUDGET = 3_500


class Agent:
    def __init__(self, client: Client, timed: Timed) -> None:
        self.client = client
        self.timed = timed

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        with anyio.fail_after(10):
            result = await self.client.call_tool(tool, args)
        assert result.is_error is False, result.content
        return result.structured_content

    def no_recording_failed(self) -> None:
        statuses = {rec.id: rec.status for rec in self.timed.app.emulator.store.recordings.values()}
        assert "failed" not in statuses.values(), statuses


@asynccontextmanager
async def agent(start_delay: float = 3) -> AsyncIterator[Agent]:
    async with timed_service(start_delay=start_delay) as timed, Client(build_mcp_server(timed.service)) as client:
        yield Agent(client, timed)


async def test_record_then_stop_and_link_the_video() -> None:
    async with agent() as a:
        started = await a.call("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
        await a.call("hms-stop-recording", {"room_id": ROOM})  # at once: the stop waits for the start
        done = await a.call("hms-wait-for-recording", {"recording_id": started["id"]})
        links = await a.call("hms-get-recording-download-links", {"recording_id": started["id"]})
        a.no_recording_failed()
    assert done["recording"]["status"] == "completed"
    video = [link for link in links["links"] if link["type"] == "room-composite"]
    assert len(video) == 1 and video[0]["url"].startswith("http") and video[0]["expires_in_seconds"] == 3600


async def test_pause_what_is_recording() -> None:
    async with agent() as a:
        for room in (ROOM, OTHER_ROOM):
            await a.call("hms-start-recording", {"room_id": room, "meeting_url": MEETING})
        a.timed.clock.advance(5)
        running = await a.call("hms-list-recordings", {"status": "running"})
        paused = [await a.call("hms-pause-recording", {"room_id": r["room_id"]}) for r in running["recordings"]]
        store = a.timed.app.emulator.store
        a.no_recording_failed()
    assert len(paused) == 2 and all(p["paused"] is True and p["status"] == "running" for p in paused)
    assert all(store.recordings[p["id"]].paused for p in paused)


async def test_the_last_sessions_chat_log() -> None:
    async with agent() as a:
        for _ in range(2):  # two sessions; the newer one is "the last"
            await a.call("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
            a.timed.clock.advance(120)
            stopped = await a.call("hms-stop-recording", {"room_id": ROOM})
            await a.call("hms-wait-for-recording", {"recording_id": stopped["stopped"][0]["id"]})
        newest = (await a.call("hms-list-recordings", {"room_id": ROOM}))["recordings"][0]
        recording = await a.call("hms-get-recording", {"recording_id": newest["id"]})
        chat = next(asset for asset in recording["assets"] if asset["type"] == "chat")
        log = await a.call("hms-read-recording-asset", {"asset_id": chat["id"]})
        a.no_recording_failed()
    assert newest["id"] == stopped["stopped"][0]["id"]
    assert log["recording_id"] == newest["id"] and log["format"] == "rows" and log["items"]
    assert all(row["sender"] and row["message"] for row in log["items"])


async def test_start_or_tell_me_the_id() -> None:
    async with agent() as a:
        first = await a.call("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING, "if_active": "return"})
        again = await a.call("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING, "if_active": "return"})
        a.no_recording_failed()
        count = len(a.timed.app.emulator.store.recordings)
    assert first["already_active"] is False and again["already_active"] is True
    assert again["id"] == first["id"] and count == 1


def _tokens(tools: list[dict[str, Any]], *, compact: bool) -> float:
    text = json.dumps({"tools": tools}, separators=(",", ":") if compact else None, ensure_ascii=False)
    return len(text) / 4


async def test_the_whole_tool_list_fits_its_token_budget() -> None:
    async with agent() as a:
        listed = await a.client.list_tools()
        service_tools = list(a.timed.service.inventory.tools.values())
    wire = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools]
    assert wire == describe_tools(service_tools)
    # Both the compact wire form and the spaced form json.dumps writes by default stay under the budget.
    assert _tokens(wire, compact=True) <= _tokens(wire, compact=False) <= TOOL_LIST_BUDGET


async def test_the_tool_list_keeps_what_a_model_needs_to_chain_the_calls() -> None:
    async with agent() as a:
        tools = {t.name: t for t in (await a.client.list_tools()).tools}
    for tool in tools.values():
        assert tool.description and tool.annotations is not None and tool.output_schema is not None
        for name, prop in tool.input_schema["properties"].items():
            if name.endswith("_id"):
                assert prop["pattern"] == "^[0-9a-f]{24}$", (tool.name, name)
    start = tools["hms-start-recording"]
    assert "if_active" in start.input_schema["properties"] and "return" in start.description
    assert "recording_id" in start.output_schema["properties"]["id"]["description"]  # type: ignore[index]
    stop = tools["hms-stop-recording"]
    assert stop.input_schema["properties"]["if_starting"]["enum"] == ["wait", "fail"]
    assert "type" in tools["hms-get-recording-download-links"].output_schema["properties"]["links"]["description"]  # type: ignore[index]
    assert "expires_in_seconds" in tools["hms-get-recording-presigned-url"].output_schema["properties"]  # type: ignore[index]
    assert "paused" in tools["hms-pause-recording"].output_schema["properties"]  # type: ignore[index]
