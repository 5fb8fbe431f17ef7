"""The MCP face through the official client, in-process: schemas, results, errors, progress, filtering."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client, MCPError

from hms_recordings.capability.loader import load_file
from hms_recordings.emulator import EmulatorConfig
from hms_recordings.errors import ConfigError
from hms_recordings.faces.mcp import build_mcp_server
from hms_recordings.runtime.inventory import compile_inventory
from tests.builtin.rig import MEETING, ROOM, Rig, make_rig

pytestmark = pytest.mark.anyio


async def test_tools_list_advertises_typed_schemas_output_schemas_and_annotations(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    start = tools["hms-start-recording"]
    assert start.input_schema["properties"]["room_id"]["pattern"] == "^[0-9a-f]{24}$"
    assert start.output_schema is not None and "status" in start.output_schema["properties"]
    assert start.annotations is not None and start.annotations.read_only_hint is None  # the default: not read-only
    assert tools["hms-list-recordings"].annotations.read_only_hint is True  # type: ignore[union-attr]


async def test_a_tool_result_carries_structured_content_and_the_same_json_text(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        result = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
    assert result.is_error is False
    assert result.structured_content is not None and result.structured_content["room_id"] == ROOM
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]


async def test_upstream_errors_come_back_as_is_error_results_with_the_actionable_text(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        result = await client.call_tool("hms-stop-recording", {"room_id": ROOM})
    assert result.is_error is True
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("not_found: room ") and "has no active recording" in text


async def test_bad_arguments_are_a_tool_error_naming_the_fields(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        result = await client.call_tool("hms-get-recording", {"recording_id": "x", "extra": 1})
    assert result.is_error is True
    text = result.content[0].text  # type: ignore[union-attr]
    assert "`extra`" in text and "`recording_id` must match" in text
    assert await rig.upstream_requests() == []


async def test_an_unknown_tool_is_a_protocol_error(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("hms-delete-everything", {})
    assert caught.value.error.code == -32602
    assert "Unknown tool" in caught.value.error.message


async def test_waiting_sends_progress_notifications_until_the_recording_runs() -> None:
    config = EmulatorConfig(start_delay=0.4, processing_time=0, seed=1)  # real clock: the wait really polls
    async with make_rig(emulator=config) as rig:
        seen: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total, message))

        async with Client(build_mcp_server(rig.service)) as client:
            started = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
            recording_id = started.structured_content["id"]  # type: ignore[index]
            with anyio.fail_after(10):
                result = await client.call_tool(
                    "hms-wait-for-recording",
                    {"recording_id": recording_id, "until": "running", "timeout_seconds": 5},
                    progress_callback=on_progress,
                )
    assert result.is_error is False
    assert result.structured_content["reached"] is True  # type: ignore[index]
    assert len(seen) >= 2
    assert seen[0][2] is not None and "is starting" in seen[0][2]
    assert seen[-1][0] == seen[-1][1] == 2


async def test_read_only_mode_serves_only_read_only_tools() -> None:
    async with make_rig(read_only=True) as rig, Client(build_mcp_server(rig.service)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        with pytest.raises(MCPError):
            await client.call_tool("hms-start-recording", {"room_id": ROOM})
    assert names == {
        "hms-list-recordings",
        "hms-get-recording",
        "hms-wait-for-recording",
        "hms-list-recording-assets",
        "hms-get-recording-asset",
        "hms-read-recording-asset",
        "hms-get-recording-presigned-url",
        "hms-get-recording-download-links",
        "hms-list-audit-events",
        "hms-list-recording-events",
    }


async def test_read_only_beats_an_explicit_tool_list() -> None:
    async with make_rig(read_only=True, tools=("hms-start-recording", "hms-list-recordings")) as rig:
        assert set(rig.tools) == {"hms-list-recordings"}


def test_an_unknown_tool_name_in_the_selection_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="hms-start-recordings"):
        compile_inventory(load_file()).select(tools=("hms-start-recordings",))


async def test_a_recording_is_readable_as_an_mcp_resource(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        templates = (await client.list_resource_templates()).resource_templates
        started = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
        recording_id = started.structured_content["id"]  # type: ignore[index]
        read = await client.read_resource(f"hms://recordings/{recording_id}")
    assert [t.uri_template for t in templates] == ["hms://recordings/{recording_id}", "hms://rooms/{room_id}/events"]
    body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert body["id"] == recording_id and body["room_id"] == ROOM


async def test_download_links_for_every_completed_asset_in_one_call(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        started = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
        await client.call_tool("hms-stop-recording", {"room_id": ROOM})
        await rig.advance(1)
        recording_id = started.structured_content["id"]  # type: ignore[index]
        links = await client.call_tool(
            "hms-get-recording-download-links", {"recording_id": recording_id, "presign_duration": 120}
        )
    assert links.is_error is False, links.content
    data = links.structured_content
    assert data is not None and data["status"] == "completed"
    assert len(data["links"]) == 2 and data["not_ready"] == []
    assert {link["type"] for link in data["links"]} == {"room-composite", "chat"}
    for link in data["links"]:
        assert link["url"].startswith("http://emulator.test/_emulator/download/")
        assert link["expires_in_seconds"] == 120
        assert len(link["asset_id"]) == 24
