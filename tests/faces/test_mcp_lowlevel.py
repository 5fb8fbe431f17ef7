"""The MCP face on the SDK's low-level server, driven by the official client against the real service and emulator.

In-process (``Client(server)``: the initialize handshake in ``legacy`` mode, 2026-07-28 direct dispatch in ``auto``)
and over the Streamable HTTP app through ``httpx2.ASGITransport`` (stateful and stateless, SSE and JSON), so every
protocol era and transport mode meets the same handlers. The emulator's request log proves what reached the upstream.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.subscriptions import InMemorySubscriptionBus, ToolsListChanged
from mcp.server.transport_security import TransportSecuritySettings

from hms_recordings.capability.loader import load_file
from hms_recordings.faces.mcp import build_mcp_server, describe_tools, mcp_http_app
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.invoker import Invocation
from hms_recordings.runtime.service import build_service
from hms_recordings.runtime.upstreams import UpstreamSettings
from tests.builtin.timed import timed_service
from tests.rig import MEETING, ROOM, Rig, make_rig

pytestmark = pytest.mark.anyio

RESOURCES_FILE = Path(__file__).resolve().parents[1] / "format" / "files" / "resources.yaml"
#: Both protocol eras of the in-process client: the initialize handshake, and 2026-07-28 without one.
ERAS = ("legacy", "auto")
MISSING_ID = "0123456789abcdef01234567"  # 24 hex characters: a valid id that the emulator has never issued
HTTP_BASE = "http://127.0.0.1:9090"  # a loopback Host with a port, which the SDK's DNS-rebinding check allows
JSON_RPC_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def error_text(result: Any) -> str:
    assert result.is_error is True, result
    text: str = result.content[0].text
    return text


@pytest.mark.parametrize("mode", ERAS)
async def test_tools_list_sends_each_tool_as_describe_tools_says_with_its_schemas_and_hints(
    rig: Rig, mode: str
) -> None:
    async with Client(build_mcp_server(rig.service), mode=mode) as client:
        listed = (await client.list_tools()).tools
        info = client.server_info
    wire = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]
    assert wire == describe_tools(rig.service.tools())
    assert [t["name"] for t in wire] == list(rig.tools)
    start = next(t for t in wire if t["name"] == "hms-start-recording")
    assert start["inputSchema"]["properties"]["room_id"]["pattern"] == "^[0-9a-f]{24}$"
    # Only what differs from the specification's defaults (not read-only, not idempotent, open world): a start is
    # not destructive. The title is the tool's own field.
    assert start["title"] == "Start recording"
    assert start["annotations"] == {"destructiveHint": False}
    listed = next(t for t in wire if t["name"] == "hms-list-recordings")
    assert listed["annotations"] == {"readOnlyHint": True, "idempotentHint": True}
    assert info is not None and (info.name, info.title) == (rig.service.info.name, rig.service.info.title)


async def test_the_handshake_carries_the_services_instructions_and_version(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service), mode="legacy") as client:
        initialized = client.session.initialize_result
    assert initialized is not None
    assert initialized.instructions == rig.service.info.instructions
    assert initialized.server_info.version == rig.service.info.version


@pytest.mark.parametrize("mode", ERAS)
async def test_a_call_returns_the_data_as_structured_content_and_as_its_json_text(rig: Rig, mode: str) -> None:
    async with Client(build_mcp_server(rig.service), mode=mode) as client:
        result = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
    assert result.is_error is False
    data = result.structured_content
    assert data is not None and data["room_id"] == ROOM and data["status"] == "starting"
    assert json.loads(result.content[0].text) == data  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ERAS)
async def test_invalid_arguments_are_an_error_result_that_never_reaches_the_upstream(rig: Rig, mode: str) -> None:
    async with Client(build_mcp_server(rig.service), mode=mode) as client:
        result = await client.call_tool("hms-get-recording", {"recording_id": "not-an-id"})
    message = "invalid arguments for hms-get-recording: `recording_id` must match the pattern ^[0-9a-f]{24}$"
    assert error_text(result) == f"invalid_arguments: {message}"
    assert result.structured_content == {
        "error": {"kind": "invalid_arguments", "message": message, "fields": ["recording_id"]}
    }
    assert await rig.requests() == []


async def test_a_json_number_is_not_coerced_to_the_string_the_schema_wants(rig: Rig) -> None:
    """MCP arguments arrive as JSON: only text (CLI, REST, URI variables) is read by the schema."""
    async with Client(build_mcp_server(rig.service)) as client:
        result = await client.call_tool("hms-get-recording", {"recording_id": 123456789012345678901234})
    assert error_text(result).startswith("invalid_arguments: invalid arguments for hms-get-recording: `recording_id`")
    assert await rig.requests() == []


@pytest.mark.parametrize("mode", ERAS)
async def test_an_unknown_tool_is_a_protocol_error_listing_the_tools_served(rig: Rig, mode: str) -> None:
    async with Client(build_mcp_server(rig.service), mode=mode) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("hms-delete-everything", {})
    assert caught.value.error.code == -32602
    assert caught.value.error.message == "Unknown tool: hms-delete-everything"
    assert caught.value.error.data == {"available": list(rig.tools)}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_recording_reads_as_a_resource_with_exactly_the_tools_json(rig: Rig, mode: str) -> None:
    async with Client(build_mcp_server(rig.service), mode=mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        started = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
        recording_id = started.structured_content["id"]  # type: ignore[index]
        await client.call_tool("hms-get-recording", {"recording_id": recording_id})  # starting -> running
        read = await client.read_resource(f"hms://recordings/{recording_id}")
        got = await client.call_tool("hms-get-recording", {"recording_id": recording_id})
    assert [(t.uri_template, t.name, t.title, t.mime_type) for t in templates] == [
        ("hms://recordings/{recording_id}", "recording", "Recording", "application/json"),
        ("hms://rooms/{room_id}/events", "room-events", "Room recording events", "application/json"),
    ]
    content = read.contents[0]
    assert (str(content.uri), content.mime_type) == (f"hms://recordings/{recording_id}", "application/json")
    assert content.text == got.content[0].text  # type: ignore[union-attr]
    assert json.loads(content.text)["status"] == "running"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ERAS)
async def test_reading_a_malformed_id_is_resource_not_found_with_the_tools_text_and_no_upstream_request(
    rig: Rig, mode: str
) -> None:
    async with Client(build_mcp_server(rig.service), mode=mode) as client:
        tool = await client.call_tool("hms-get-recording", {"recording_id": "not-an-id"})
        with pytest.raises(MCPError) as caught:
            await client.read_resource("hms://recordings/not-an-id")
    assert caught.value.error.code == -32602
    assert caught.value.error.message == error_text(tool)
    assert caught.value.error.data == {"uri": "hms://recordings/not-an-id", **tool.structured_content}  # type: ignore[dict-item]
    assert await rig.requests() == []


@pytest.mark.parametrize("mode", ERAS)
async def test_reading_an_id_the_upstream_does_not_know_is_resource_not_found_with_the_tools_404_text(
    rig: Rig, mode: str
) -> None:
    async with Client(build_mcp_server(rig.service), mode=mode) as client:
        tool = await client.call_tool("hms-get-recording", {"recording_id": MISSING_ID})
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"hms://recordings/{MISSING_ID}")
    text = error_text(tool)
    assert text == (
        f"not_found: recording {MISSING_ID} does not exist; call hms-list-recordings to find recording ids."
    )
    assert caught.value.error.code == -32602
    assert caught.value.error.message == text
    assert [(r["method"], r["path"], r["status"]) for r in await rig.requests()] == [
        ("GET", f"/v2/recordings/{MISSING_ID}", 404)
    ] * 2


async def test_an_upstream_failure_on_read_is_an_internal_error_with_the_redacted_text(rig: Rig) -> None:
    await rig.faults({"method": "GET", "path_prefix": "/v2/recordings", "rate": 1, "status": 500})
    async with Client(build_mcp_server(rig.service)) as client:
        tool = await client.call_tool("hms-get-recording", {"recording_id": MISSING_ID})
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"hms://recordings/{MISSING_ID}")
    assert error_text(tool).startswith("upstream_error: ")
    assert caught.value.error.code == -32603
    assert caught.value.error.message == error_text(tool)
    token = rig.spy.seen[0]["authorization"].removeprefix("Bearer ")
    assert len(token) > 20 and token not in json.dumps(caught.value.error.model_dump(mode="json"))


async def test_a_uri_no_resource_has_is_resource_not_found(rig: Rig) -> None:
    async with Client(build_mcp_server(rig.service)) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("hms://rooms/6a0f1c2d3e4f5a6b7c8d9e0f")
    assert caught.value.error.code == -32602
    assert caught.value.error.message == "Unknown resource: hms://rooms/6a0f1c2d3e4f5a6b7c8d9e0f"
    assert await rig.requests() == []


@pytest.mark.parametrize("mode", ERAS)
async def test_files_and_parameterless_reads_are_resources_and_reads_with_parameters_are_templates(mode: str) -> None:
    async with make_rig(RESOURCES_FILE) as rig, Client(build_mcp_server(rig.service), mode=mode) as client:
        resources = {str(r.uri): (r.name, r.title, r.mime_type) for r in (await client.list_resources()).resources}
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    assert resources == {
        "docs://recordings/guide.md": ("docs/guide.md", "Recording docs", "text/markdown"),
        "docs://recordings/sub/notes.txt": ("docs/sub/notes.txt", "Recording docs", "text/plain"),
        "docs://limits": ("limits", "Limits", "application/json"),
        "hms://recordings": ("recent", "Recent recordings", "application/json"),
    }
    assert templates == ["hms://recordings/{recording_id}"]


@pytest.mark.parametrize("mode", ERAS)
async def test_prompts_are_listed_rendered_and_refused_when_unknown_or_incomplete(mode: str) -> None:
    async with make_rig(RESOURCES_FILE) as rig, Client(build_mcp_server(rig.service), mode=mode) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        got = await client.get_prompt("triage", {"recording_id": "r9"})
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("no-such-prompt", {})
        with pytest.raises(MCPError) as incomplete:
            await client.get_prompt("summarize-recording", {"style": "bullets"})
    summarize = listed["summarize-recording"]
    assert (summarize.title, summarize.description) == ("Summarize a recording", "Ask for a summary of one recording.")
    assert [(a.name, a.required) for a in summarize.arguments or []] == [("recording_id", True), ("style", False)]
    assert [(m.role, m.content.text) for m in got.messages] == [  # type: ignore[union-attr]
        ("user", "Recording r9 failed. Find out why: get it with hms-get-recording and read its status.\n")
    ]
    assert (unknown.value.error.code, unknown.value.error.message) == (-32602, "Unknown prompt: no-such-prompt")
    assert unknown.value.error.data == {"available": ["summarize-recording", "triage"]}
    assert (incomplete.value.error.code, incomplete.value.error.message) == (
        -32602,
        "prompt summarize-recording needs recording_id",
    )


@pytest.mark.parametrize("mode", ERAS)
async def test_a_wait_reports_strictly_rising_progress_until_the_recording_runs(mode: str) -> None:
    """The wait polls on the service's sleep, which here moves the emulator's manual clock: no real time passes."""
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with (
        timed_service(start_delay=3, processing_time=0) as timed,
        Client(build_mcp_server(timed.service), mode=mode) as client,
    ):
        started = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
        with anyio.fail_after(10):
            result = await client.call_tool(
                "hms-wait-for-recording",
                {"recording_id": started.structured_content["id"], "until": "running", "timeout_seconds": 60},  # type: ignore[index]
                progress_callback=on_progress,
            )
    assert result.is_error is False and result.structured_content["reached"] is True  # type: ignore[index]
    values = [p for p, _total, _message in seen]
    assert len(values) >= 3 and values == sorted(set(values))  # several polls, every value above the one before
    assert seen[0][2] is not None and "is starting" in seen[0][2]
    assert seen[-1][0] == seen[-1][1]


@pytest.mark.parametrize("mode", ERAS)
async def test_progress_that_does_not_rise_is_not_sent(mode: str) -> None:
    """A handler may report the same stage twice (or less than before); MCP wants every value above the last."""

    async def reporting(invocation: Invocation) -> dict[str, Any]:
        for done in (1, 1, 0.5, 2, 2, 3):
            await invocation.progress(done, 3, f"at {done}")
        return {"done": True}

    inventory = compile_inventory(load_file())
    entry = inventory.tools["hms-get-recording"]
    inventory = replace(inventory, tools={**inventory.tools, entry.name: replace(entry, handler=reporting)})
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with (
        build_service(inventory, UpstreamSettings(env={})) as service,
        Client(build_mcp_server(service), mode=mode) as client,
    ):
        result = await client.call_tool(
            "hms-get-recording", {"recording_id": MISSING_ID}, progress_callback=on_progress
        )
    assert result.structured_content == {"done": True}
    assert seen == [(1, 3, "at 1"), (2, 3, "at 2"), (3, 3, "at 3")]


async def test_listen_streams_deliver_what_is_published_on_the_bus_given() -> None:
    bus = InMemorySubscriptionBus()
    async with make_rig() as rig, Client(build_mcp_server(rig.service, subscriptions=bus)) as client:
        with anyio.fail_after(5):
            async with client.listen(tools_list_changed=True) as subscription:
                await bus.publish(ToolsListChanged())
                event = await subscription.__anext__()
    assert isinstance(event, ToolsListChanged)


#: A server process on stdio: the built-in capability without credentials (enough for listing and refusing input).
STDIO_SERVER = """
import anyio
from hms_recordings.capability.loader import load_file
from hms_recordings.faces.mcp import build_mcp_server, run_stdio
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.invoker import Invocation
from hms_recordings.runtime.service import build_service
from hms_recordings.runtime.upstreams import UpstreamSettings

service = build_service(compile_inventory(load_file()), UpstreamSettings(env={}))
anyio.run(run_stdio, build_mcp_server(service))
"""


@pytest.mark.parametrize("mode", ERAS)
async def test_run_stdio_serves_one_client_on_stdin_and_stdout_in_either_era(mode: str) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-c", STDIO_SERVER], env={})
    with anyio.fail_after(60):
        async with Client(params, mode=mode) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            bad = await client.call_tool("hms-get-recording", {"recording_id": "not-an-id"})
            with pytest.raises(MCPError) as caught:
                await client.read_resource("hms://recordings/not-an-id")
            era = client.protocol_version
    assert names[0] == "hms-start-recording" and len(names) == len(compile_inventory(load_file()).tools)
    assert (caught.value.error.code, caught.value.error.message) == (-32602, error_text(bad))
    assert era == ("2025-11-25" if mode == "legacy" else "2026-07-28")


@asynccontextmanager
async def http_client(rig: Rig, mode: str, **options: Any) -> AsyncIterator[tuple[Client, httpx2.AsyncClient]]:
    """The official client on the Streamable HTTP app, through ASGI (no socket), and the HTTP client under it."""
    settings = {"stateless": False, "json_response": False, "transport_security": None, **options}
    app = mcp_http_app(build_mcp_server(rig.service), **settings)
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=HTTP_BASE) as http,
        Client(streamable_http_client(f"{HTTP_BASE}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client, http


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
@pytest.mark.parametrize(("stateless", "json_response"), [(False, False), (False, True), (True, False), (True, True)])
async def test_the_http_app_serves_calls_and_reads_in_every_mode_and_era(
    rig: Rig, mode: str, stateless: bool, json_response: bool
) -> None:
    async with http_client(rig, mode, stateless=stateless, json_response=json_response) as (client, _http):
        tools = (await client.list_tools()).tools
        bad = await client.call_tool("hms-get-recording", {"recording_id": "not-an-id"})
        with pytest.raises(MCPError) as caught:
            await client.read_resource("hms://recordings/not-an-id")
        started = await client.call_tool("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
    assert [t.name for t in tools] == list(rig.tools)
    assert (caught.value.error.code, caught.value.error.message) == (-32602, error_text(bad))
    assert started.is_error is False and started.structured_content["room_id"] == ROOM  # type: ignore[index]


async def test_the_http_app_refuses_a_session_beyond_max_sessions(rig: Rig) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "second", "version": "0"},
        },
    }
    async with http_client(rig, "legacy", json_response=True, max_sessions=1) as (_first, http):
        second = await http.post("/mcp", headers=JSON_RPC_HEADERS, json=initialize)
    assert second.status_code == 503
    assert "Too many open sessions" in second.text


async def test_the_http_app_hands_its_session_and_body_bounds_to_the_sdk(rig: Rig) -> None:
    server = build_mcp_server(rig.service)
    mcp_http_app(
        server,
        stateless=False,
        json_response=True,
        transport_security=None,
        max_request_body_size=1000,
        session_idle_timeout=7.0,
        max_sessions=3,
    )
    manager = server.session_manager
    assert (manager.max_request_body_size, manager.session_idle_timeout, manager.max_sessions) == (1000, 7.0, 3)


async def test_the_http_app_checks_host_and_origin_by_default_and_as_told(rig: Rig) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    told = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=["mcp.example:*"], allowed_origins=[]
    )
    statuses = []
    for security, host in ((None, "127.0.0.1:9090"), (None, "mcp.example:443"), (told, "mcp.example:443")):
        app = mcp_http_app(
            build_mcp_server(rig.service), stateless=True, json_response=True, transport_security=security
        )
        async with (
            app.router.lifespan_context(app),
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=f"http://{host}") as http,
        ):
            statuses.append((await http.post("/mcp", json=ping, headers=JSON_RPC_HEADERS)).status_code)
    assert statuses == [200, 421, 200]
