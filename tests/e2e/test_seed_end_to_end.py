"""The seed capability file, verbatim, served over stdio and Streamable HTTP to the official MCP client, against the
emulator on a real socket; the CLI's ``call`` gives the same results and errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters

from hms_recordings.emulator import EmulatorConfig, RunningEmulator, serve_in_background
from hms_recordings.hms.tokens import AppCredentials, mint_management_token
from tests.paths import SEED

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ROOM = "6a0f1c2d3e4f5a6b7c8d9e0f"
CLI = [sys.executable, "-m", "hms_recordings.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with serve_in_background(EmulatorConfig(start_delay=0, processing_time=0, seed=5)) as running:
        yield running


def server_env() -> dict[str, str]:
    return {**os.environ, "HMS_MANAGEMENT_TOKEN": mint_management_token(AppCredentials.development())}


@asynccontextmanager
async def http_server(emulator: RunningEmulator) -> AsyncIterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once; its output is only read after it exits
        [*CLI, "serve", str(SEED), "--port", str(port), "--upstream", f"recordings={emulator.api_url}"],
        env=server_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with anyio.fail_after(20):
            while True:
                try:
                    async with httpx2.AsyncClient() as probe:
                        await probe.get(f"http://127.0.0.1:{port}/mcp")
                    break
                except httpx2.ConnectError:
                    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                    await anyio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def stdio_params(emulator: RunningEmulator) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "hms_recordings.cli",
            "serve",
            str(SEED),
            "--transport",
            "stdio",
            "--upstream",
            f"recordings={emulator.api_url}",
        ],
        env={"HMS_MANAGEMENT_TOKEN": server_env()["HMS_MANAGEMENT_TOKEN"], "PATH": os.environ.get("PATH", "")},
    )


async def first_asset(emulator: RunningEmulator) -> str:
    token = server_env()["HMS_MANAGEMENT_TOKEN"]
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(3):  # stopping -> post_processing -> completed, one read each with no delays
            assets = (await http.get(f"{emulator.api_url}/recording-assets")).json()["data"]
            if assets:
                return str(assets[0]["id"])
    raise AssertionError("no asset appeared")


async def drive(client: Client, emulator: RunningEmulator) -> dict[str, Any]:
    """The seed's four tools end to end; returns what each step saw."""
    seen: dict[str, Any] = {}
    tools = {t.name: t for t in (await client.list_tools()).tools}
    seen["tools"] = tools
    started = await client.call_tool(
        "hms-start-recording", {"room_id": ROOM, "body": {"meeting_url": "https://a.app.100ms.live/meeting/x"}}
    )
    seen["start"] = started
    seen["start_again"] = await client.call_tool("hms-start-recording", {"room_id": ROOM, "body": {}})
    seen["list"] = await client.call_tool("hms-list-recordings", {})
    seen["stop"] = await client.call_tool("hms-stop-recording", {"room_id": ROOM})
    seen["stop_again"] = await client.call_tool("hms-stop-recording", {"room_id": ROOM})
    seen["presign"] = await client.call_tool(
        "hms-get-recording-presigned-url", {"asset_id": await first_asset(emulator)}
    )
    seen["presign_missing"] = await client.call_tool("hms-get-recording-presigned-url", {"asset_id": "0" * 24})
    seen["bad_room"] = await client.call_tool("hms-start-recording", {"room_id": "1", "body": {}})
    return seen


def check(seen: dict[str, Any]) -> None:
    tools = seen["tools"]
    assert set(tools) == {
        "hms-start-recording",
        "hms-stop-recording",
        "hms-list-recordings",
        "hms-get-recording-presigned-url",
    }
    assert tools["hms-start-recording"].input_schema["required"] == ["room_id", "body"]
    assert tools["hms-start-recording"].input_schema["properties"]["body"]["type"] == "object"
    assert tools["hms-get-recording-presigned-url"].input_schema["properties"]["asset_id"]["type"] == "string"
    assert seen["start"].is_error is False and seen["start"].structured_content["status"] == "starting"
    recording_id = seen["start"].structured_content["id"]
    assert seen["start_again"].is_error is True
    assert (
        "409" in seen["start_again"].content[0].text and "beam already started" in seen["start_again"].content[0].text
    )
    assert [r["id"] for r in seen["list"].structured_content["data"]] == [recording_id]
    assert seen["stop"].structured_content["data"][0]["status"] == "stopping"
    assert "404" in seen["stop_again"].content[0].text and "beam not found" in seen["stop_again"].content[0].text
    assert seen["presign"].structured_content["url"].startswith("http://127.0.0.1:")
    assert "404" in seen["presign_missing"].content[0].text
    assert (
        "403" in seen["bad_room"].content[0].text
        and "user does not have required permission" in seen["bad_room"].content[0].text
    )


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_seed_verbatim_over_streamable_http_in_both_protocol_eras(
    emulator: RunningEmulator, mode: str
) -> None:
    async with http_server(emulator) as url, Client(url, mode=mode) as client:  # type: ignore[arg-type]
        check(await drive(client, emulator))


async def test_the_seed_verbatim_over_stdio(emulator: RunningEmulator) -> None:
    with anyio.fail_after(60):
        async with Client(stdio_params(emulator)) as client:
            check(await drive(client, emulator))


async def test_the_cli_call_gives_the_same_result_and_the_same_error(emulator: RunningEmulator) -> None:
    upstream = ["--capability", str(SEED), "--upstream", f"recordings={emulator.api_url}"]

    async def call(*args: str) -> subprocess.CompletedProcess[str]:
        # In a worker thread: the emulator answering it runs on this test's event loop.
        return await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                [*CLI, "call", *args, *upstream],
                env=server_env(),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        )

    started = await call("hms-start-recording", "--arg", f"room_id={ROOM}", "--args-json", '{"body": {}}')
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["room_id"] == ROOM
    again = await call("hms-start-recording", "--arg", f"room_id={ROOM}", "--args-json", '{"body": {}}')
    assert again.returncode == 1
    async with Client(stdio_params(emulator)) as client:
        via_mcp = await client.call_tool("hms-start-recording", {"room_id": ROOM, "body": {}})
    assert via_mcp.content[0].text == again.stderr.strip()  # type: ignore[union-attr]
    bad = await call("hms-start-recording", "--arg", "room_id=../x", "--args-json", '{"body": {}}')
    assert bad.returncode == 2 and "room_id" in bad.stderr
