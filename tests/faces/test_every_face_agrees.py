"""One invocation path: every built-in tool, given the same input on every face, gives the same result or error.

The faces are the real ones: the official MCP client on the MCP face (in-process), REST over the ASGI app, the CLI's
``main`` (as ``hms-recordings call`` runs it, against the same emulator over a real socket), and, where a tool has a
resource twin (``hms://recordings/{recording_id}``), an MCP ``resources/read``. All of them reach one emulator, so a
difference can only come from a face. Write tools are given inputs that do not change the emulator's state (a stop,
pause or resume of a room with nothing to act on; bad ids), so every face sees the same state.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from hms_recordings.cli import main as cli_main
from hms_recordings.emulator import EmulatorConfig, serve_in_background
from hms_recordings.faces.mcp import build_mcp_server
from hms_recordings.faces.rest import build_rest_app
from hms_recordings.hms.tokens import AppCredentials, mint_management_token
from hms_recordings.runtime.local import ReceivedEvent
from hms_recordings.runtime.service import CapabilityService
from hms_recordings.server.events.store import EventStore
from tests.rig import open_service

pytestmark = pytest.mark.anyio

IDLE_ROOM = "65f0c0ffee00000000000b01"
UNKNOWN_ID = "65f0c0ffee00000000000bff"
BAD_IDS = ("not-an-id", "../v2/recordings", "65f0c0ffee00000000000b0%2F", "abc?x=1")


@dataclass
class World:
    service: CapabilityService
    base_url: str
    token: str
    recording_id: str
    asset_id: str


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    creds = AppCredentials.development()
    config = EmulatorConfig(credentials=creds, manual_clock=True, start_delay=0, processing_time=0, seed=11)
    async with serve_in_background(config) as running:
        token = mint_management_token(creds, now=running.app.emulator.clock.now())
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(base_url=running.base_url, headers=headers) as api:
            room = "65f0c0ffee00000000000b02"
            started = (await api.post(f"/v2/recordings/room/{room}/start", json={})).json()
            await api.get("/v2/recordings")  # the next read moves it to running
            await api.post("/_emulator/clock", json={"advance_seconds": 120})
            await api.post(f"/v2/recordings/room/{room}/stop")
            await api.post("/_emulator/clock", json={"advance_seconds": 600})
            recording = (await api.get(f"/v2/recordings/{started['id']}")).json()
        assets = [a["id"] for a in recording.get("recording_assets") or [] if a.get("type") == "room-composite"]
        # One event log for every face: the service's, and the file `call` opens by HMS_RECORDINGS_EVENTS_DB.
        events_db = tmp_path / "events.sqlite3"
        monkeypatch.setenv("HMS_RECORDINGS_EVENTS_DB", str(events_db))
        async with EventStore(events_db) as log:
            await log.add(ReceivedEvent("ev-1", "beam.started.success", "2026-12-01T10:00:00Z", {}, (), {"id": "ev-1"}))
            service = open_service(
                transport=httpx2.AsyncHTTPTransport(),
                upstream=f"{running.base_url}/v2",
                env={"HMS_MANAGEMENT_TOKEN": token},
                event_log=log,
            )
            async with service:
                yield World(service, running.base_url, token, recording["id"], assets[0] if assets else UNKNOWN_ID)


def cases(w: World) -> list[tuple[str, dict[str, Any]]]:
    """(tool, arguments) pairs: a valid call of every read tool, and the same invalid inputs for every tool."""
    valid: list[tuple[str, dict[str, Any]]] = [
        ("hms-list-recordings", {}),
        ("hms-list-recordings", {"limit": 10, "status": "completed"}),
        ("hms-get-recording", {"recording_id": w.recording_id}),
        ("hms-get-recording", {"recording_id": UNKNOWN_ID}),
        # All digits: a string id, never a number (the CLI once read it as JSON and refused it as "not a string").
        ("hms-get-recording", {"recording_id": "123456789012345678901234"}),
        ("hms-wait-for-recording", {"recording_id": w.recording_id, "timeout_seconds": 5}),
        ("hms-list-recording-assets", {"limit": 10}),
        ("hms-get-recording-asset", {"asset_id": w.asset_id}),
        ("hms-get-recording-presigned-url", {"asset_id": w.asset_id, "presign_duration": 600}),
        ("hms-read-recording-asset", {"asset_id": w.asset_id}),  # a video: refused alike everywhere
        ("hms-get-recording-download-links", {"recording_id": w.recording_id, "presign_duration": 600}),
        ("hms-list-recording-events", {}),
        ("hms-list-recording-events", {"type": "beam.started.success", "limit": 10}),
        ("hms-stop-recording", {"room_id": IDLE_ROOM}),
        ("hms-pause-recording", {"room_id": IDLE_ROOM}),
        ("hms-resume-recording", {"room_id": IDLE_ROOM}),
        ("hms-stop-recording-by-id", {"recording_id": UNKNOWN_ID}),
    ]
    invalid: list[tuple[str, dict[str, Any]]] = []
    for tool in w.service.tools():
        props = tool.input_schema.get("properties") or {}
        id_field = next((name for name in ("recording_id", "room_id", "asset_id") if name in props), None)
        if id_field is not None:
            invalid += [(tool.name, {id_field: bad}) for bad in BAD_IDS]
        invalid.append((tool.name, {"unknown_field": "x", **({id_field: UNKNOWN_ID} if id_field else {})}))
        if "limit" in props:
            invalid.append((tool.name, {"limit": 5000, **({id_field: UNKNOWN_ID} if id_field else {})}))
    return valid + invalid


# ---------------------------------------------------------------------------------------------------- the faces


def _comparable(tool: str, data: Any) -> Any:
    """The result as every face must agree on it. The one field allowed to differ is a measured duration."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in ("notes",)}
        if tool == "hms-wait-for-recording":
            data.pop("waited_seconds", None)
    return data


async def via_mcp(client: Client, tool: str, args: dict[str, Any]) -> tuple[str, Any]:
    result = await client.call_tool(tool, args)
    if result.is_error:
        text = result.content[0].text  # type: ignore[union-attr]
        return "error", text.partition(": ")[2]
    return "ok", _comparable(tool, result.structured_content)


async def via_rest(rest: httpx2.AsyncClient, w: World, tool: str, args: dict[str, Any]) -> tuple[str, Any]:
    entry = next(e for e in w.service.rest_entries() if e.tool.name == tool)
    path = entry.resource.path.replace("{{", "{").replace("}}", "}")
    rest_args = dict(args)
    for name in list(rest_args):
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", quote(str(rest_args.pop(name)), safe=""))
    if entry.operation.method == "GET":
        params = {k: (json.dumps(v) if isinstance(v, dict | list) else str(v)) for k, v in rest_args.items()}
        response = await rest.request("GET", path, params=params)
    else:
        response = await rest.request(entry.operation.method, path, json=rest_args)
    body = response.json()
    if response.status_code >= 400:
        detail = str(body.get("detail", ""))
        return "error", detail.rsplit(" (request ", 1)[0]
    return "ok", _comparable(tool, body)


def in_rest_words(w: World, answer: tuple[str, Any]) -> tuple[str, Any]:
    """The REST face says the same, naming each tool it serves by its route (``hms-list-recordings`` ->
    ``GET /recordings``); results are the same data."""
    kind, value = answer
    if kind != "error":
        return answer
    routes: dict[str, str] = {}
    for entry in w.service.rest_entries():
        path = entry.resource.path.replace("{{", "{").replace("}}", "}")
        routes.setdefault(entry.tool.name, f"{entry.operation.method} {path}")
    for name in sorted(routes, key=len, reverse=True):
        value = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", routes[name], value)
    return kind, value


async def via_cli(w: World, tool: str, args: dict[str, Any]) -> tuple[str, Any]:
    argv = ["call", tool, "--upstream", f"recordings={w.base_url}/v2"]
    for name, value in args.items():
        text = json.dumps(value) if isinstance(value, dict | list | bool) else str(value)
        argv += ["--arg", f"{name}={text}"]
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return cli_main(argv)

    code = await anyio.to_thread.run_sync(run)
    if code != 0:
        line = err.getvalue().strip().splitlines()[-1]
        return "error", line.partition(": ")[2]
    return "ok", _comparable(tool, json.loads(out.getvalue()))


async def via_resource(client: Client, recording_id: str) -> tuple[str, Any]:
    try:
        result = await client.read_resource(f"hms://recordings/{recording_id}")
    except MCPError as exc:
        return "error", str(exc.error.message).partition(": ")[2]
    return "ok", json.loads(result.contents[0].text)  # type: ignore[union-attr]


async def test_every_tool_gives_the_same_result_and_error_on_mcp_rest_cli_and_resources(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HMS_MANAGEMENT_TOKEN", world.token)
    rest_app = build_rest_app(world.service)
    compared = 0
    async with (
        Client(build_mcp_server(world.service)) as client,
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=rest_app), base_url="http://127.0.0.1:9091") as rest,
    ):
        for tool, args in cases(world):
            mcp = await via_mcp(client, tool, args)
            answers = {
                "rest": await via_rest(rest, world, tool, args),
                "cli": await via_cli(world, tool, args),
            }
            if tool == "hms-get-recording" and set(args) == {"recording_id"}:
                answers["resource"] = await via_resource(client, args["recording_id"])
            for face, answer in answers.items():
                expected = in_rest_words(world, mcp) if face == "rest" else mcp
                assert answer == expected, f"{tool} {args}: {face} differs from MCP"
            compared += 1
    assert compared >= 40  # every tool, valid and invalid inputs
    # Nothing invalid reached the upstream: every request the emulator saw has a well-formed path.
    async with httpx2.AsyncClient(base_url=world.base_url) as admin:
        log = (await admin.get("/_emulator/requests")).json()
    assert all("not-an-id" not in entry["path"] and ".." not in entry["path"] for entry in log)
