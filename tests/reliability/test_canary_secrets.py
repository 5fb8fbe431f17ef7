"""Secrets never leak (issue 5): run every tool and every failure path with canary secrets, over HTTP, stdio and the
CLI, at DEBUG with JSON logs, then search everything the processes printed and returned.

Only the result of hms-get-recording-presigned-url may carry a presigned URL; nothing may carry the app secret, the
management token, a minted JWT (``eyJ...``) or a download signature.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from hms_recordings.emulator import EmulatorConfig, RunningEmulator, serve_in_background

from .conftest import CANARY_CREDS, CANARY_KEY, CANARY_SECRET, CANARY_TOKEN, free_port, new_room

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

CANARY_WRONG_SECRET = "canary-wrong-app-secret-0b7e2f9a61c4d8e3"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
SIGNATURE = re.compile(r"signature=(?!\[redacted\])[^&\s\"'\\]+")
Call = Callable[[str, dict[str, Any]], Awaitable[tuple[bool, str]]]
PRESIGN = "hms-get-recording-presigned-url"


def server_env(**extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONUNBUFFERED": "1",
        "HMS_ACCESS_KEY": CANARY_KEY,
        "HMS_APP_SECRET": CANARY_SECRET,
        "HMS_MANAGEMENT_TOKEN": CANARY_TOKEN,  # refused by the emulator: the server must renew by minting
        "HMS_RECORDINGS_TIMEOUT_READ": "0.5",
        "HMS_RECORDINGS_RETRY_ATTEMPTS": "3",
        "HMS_RECORDINGS_RETRY_DEADLINE": "2",
        **extra,
    }


def serve_args(emulator: RunningEmulator, *more: str) -> list[str]:
    return [
        "-m",
        "hms_recordings.cli",
        "serve",
        "--upstream",
        f"recordings={emulator.api_url}",
        "--log-level",
        "DEBUG",
        "--json-logs",
        *more,
    ]


class Transcript:
    """Everything a process printed or returned, and the one place a presigned URL may appear."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.presigned: list[str] = []
        self.kinds: list[str] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def check(self) -> None:
        assert self.presigned, "the presigned-url tool never answered: the canary run proved nothing"
        forbidden = [CANARY_SECRET, CANARY_TOKEN, CANARY_WRONG_SECRET, *self.presigned]
        for where, text in self.texts:
            for secret in forbidden:
                assert secret not in text, f"{secret[:24]}... leaked in {where}"
            assert not JWT.search(text), f"a JWT leaked in {where}: {JWT.search(text)}"
            assert not SIGNATURE.search(text), f"a download signature leaked in {where}"


async def exercise(call: Call, admin: httpx2.AsyncClient, transcript: Transcript, face: str) -> None:
    """Every tool and the failure paths we can cause from outside, through one face."""

    async def expect(ok: bool, tool: str, args: dict[str, Any], contains: str = "") -> str:
        is_error, text = await call(tool, args)
        assert is_error != ok, f"{face} {tool} {args}: {text[:300]}"
        assert contains in text, f"{face} {tool}: {text[:300]}"
        if tool != PRESIGN or is_error:
            transcript.add(f"{face} result of {tool}", text)
        return text

    async def faults(*rules: dict[str, Any]) -> None:
        assert (await admin.put("/_emulator/faults", json={"rules": list(rules)})).status_code == 200

    room = new_room()
    started = json.loads(await expect(True, "hms-start-recording", {"room_id": room}))
    rec = started["id"]
    await expect(False, "hms-start-recording", {"room_id": room}, "already has an active recording")
    await expect(True, "hms-start-recording", {"room_id": room, "if_active": "return"}, rec)
    await expect(True, "hms-pause-recording", {"room_id": room})
    await expect(True, "hms-resume-recording", {"room_id": room})
    await expect(True, "hms-list-recordings", {"room_id": room}, rec)
    await expect(True, "hms-get-recording", {"recording_id": rec}, rec)
    await expect(True, "hms-wait-for-recording", {"recording_id": rec, "until": "running", "timeout_seconds": 5})
    await expect(True, "hms-stop-recording", {"room_id": room}, rec)
    done = json.loads(await expect(True, "hms-wait-for-recording", {"recording_id": rec, "timeout_seconds": 10}))
    assert done["reached"] is True
    asset = next(a["id"] for a in done["recording"]["assets"] if a["type"] == "room-composite")
    await expect(True, "hms-list-recording-assets", {"room_id": room}, asset)
    await expect(True, "hms-get-recording-asset", {"asset_id": asset}, asset)
    presigned = json.loads(await expect(True, PRESIGN, {"asset_id": asset, "presign_duration": 600}))
    assert "signature=" in presigned["url"]
    transcript.presigned.append(presigned["url"])
    # Failure paths: caller mistakes, upstream refusals, and every injected fault.
    await expect(False, "hms-get-recording", {"recording_id": "6a10aa2d3e4f5a6b7c8d9e0f"}, "not_found")
    await expect(False, "hms-get-recording", {"recording_id": "../../recordings"}, "invalid_arguments")
    await expect(False, "hms-start-recording", {"room_id": room, "bogus": CANARY_TOKEN[:5]}, "unknown argument")
    await expect(False, "hms-stop-recording-by-id", {"recording_id": rec}, "not_found")
    await expect(False, PRESIGN, {"asset_id": "6a10bb2d3e4f5a6b7c8d9e0f"}, "not_found")
    await faults({"method": "GET", "path_prefix": "/v2/recordings", "status": 503, "retry_after": 0})
    await expect(False, "hms-list-recordings", {}, "gave up after")
    await faults({"method": "POST", "path_prefix": "/v2/recordings/room/", "mode": "drop-after-commit"})
    await expect(True, "hms-start-recording", {"room_id": new_room()}, "reconciled")
    await faults({"method": "POST", "path_prefix": "/v2/recordings/room/", "mode": "drop"})
    await expect(False, "hms-start-recording", {"room_id": new_room()}, "did not take effect")
    await faults(
        {"method": "POST", "path_prefix": "/v2/recordings/room/", "mode": "drop-after-commit"},
        {"method": "GET", "status": 503, "retry_after": 0},
    )
    await expect(False, "hms-start-recording", {"room_id": new_room()}, "could not confirm")
    await faults({"method": "GET", "mode": "latency", "latency_ms": 2000})
    # The server's environment set a 0.5 s read timeout, 3 attempts and a 2 s budget: all three show here.
    timed_out = await expect(False, "hms-get-recording", {"recording_id": rec}, "timed out waiting for an answer")
    assert "gave up after 3 attempts within the 2s retry budget" in timed_out
    await faults({"method": "GET", "status": 429, "retry_after": 30})
    await expect(False, PRESIGN, {"asset_id": asset}, "retry after 30")
    await faults({"method": "GET", "mode": "drop"})
    await expect(False, "hms-get-recording-asset", {"asset_id": asset}, "closed the connection")
    assert (await admin.delete("/_emulator/faults")).status_code == 204


async def exercise_rest(rest: httpx2.AsyncClient, admin: httpx2.AsyncClient, transcript: Transcript) -> None:
    """The REST face: successes, refusals and faults; only the presigned-url answer may hold the URL."""

    async def send(method: str, path: str, status: int, **kwargs: Any) -> dict[str, Any]:
        response = await rest.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text[:300])
        if not path.endswith("/presigned-url"):
            transcript.add(f"rest {method} {path} -> {response.status_code}", f"{response.headers} {response.text}")
        return response.json() if response.headers.get("content-type", "").endswith("json") else {}

    room = new_room()
    rec = (await send("POST", f"/rooms/{room}/recording/start", 200, json={}))["id"]
    await send("POST", f"/rooms/{room}/recording/start", 409, json={})
    await send("GET", "/recordings", 200, params={"room_id": room})
    await send("GET", f"/recordings/{rec}/wait", 200, params={"until": "running", "timeout_seconds": 5})
    await send("POST", f"/rooms/{room}/recording/stop", 200)
    done = await send("GET", f"/recordings/{rec}/wait", 200, params={"timeout_seconds": 10})
    asset = next(a["id"] for a in done["recording"]["assets"] if a["type"] == "room-composite")
    presigned = await send("GET", f"/recording-assets/{asset}/presigned-url", 200)
    transcript.presigned.append(presigned["url"])
    await send("GET", "/recordings/6a10aa2d3e4f5a6b7c8d9e0f", 404)
    await send("GET", "/recordings/..%2F..%2Fx", 400)
    await send(
        "POST", f"/rooms/{room}/recording/start", 400, content=b"{bad", headers={"content-type": "application/json"}
    )
    await send("GET", "/openapi.json", 200)
    assert (
        await admin.put("/_emulator/faults", json={"rules": [{"method": "GET", "mode": "drop"}]})
    ).status_code == 200
    await send("GET", f"/recording-assets/{asset}", 502)
    assert (await admin.delete("/_emulator/faults")).status_code == 204


def mcp_call(client: Client) -> Call:
    async def call(tool: str, args: dict[str, Any]) -> tuple[bool, str]:
        with anyio.fail_after(30):
            result = await client.call_tool(tool, args)
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        if result.is_error:
            return True, text + json.dumps(result.structured_content)
        return False, text

    return call


@asynccontextmanager
async def emulator() -> AsyncIterator[tuple[RunningEmulator, httpx2.AsyncClient]]:
    config = EmulatorConfig(credentials=CANARY_CREDS, start_delay=0, processing_time=0, seed=9)
    async with serve_in_background(config) as running, httpx2.AsyncClient(base_url=running.base_url) as admin:
        yield running, admin


def read(stream: TextIO) -> str:
    stream.flush()
    stream.seek(0)
    return stream.read()


@asynccontextmanager
async def http_server(running: RunningEmulator, out: TextIO, err: TextIO) -> AsyncIterator[tuple[str, str]]:
    """``serve`` with the MCP face and the REST face, each on a free port; yields both base URLs."""
    port, rest_port = free_port(), free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - Popen does not wait; readiness is polled below
        [sys.executable, *serve_args(running, "--port", str(port), "--rest-port", str(rest_port))],
        stdout=out,
        stderr=err,
        env=server_env(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx2.AsyncClient() as probe:
            with anyio.fail_after(30):
                while True:  # bounded readiness polling
                    assert process.poll() is None, read(err)
                    try:
                        await probe.get(f"{base}/mcp")
                        await probe.get(f"http://127.0.0.1:{rest_port}/openapi.json")
                        break
                    except httpx2.TransportError:
                        await anyio.sleep(0.05)
        yield base, f"http://127.0.0.1:{rest_port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_no_secret_reaches_http_output_logs_or_results() -> None:
    transcript = Transcript()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        async with emulator() as (running, admin), http_server(running, out, err) as (base, rest_base):
            async with Client(f"{base}/mcp") as client:
                await exercise(mcp_call(client), admin, transcript, "http")
            async with httpx2.AsyncClient(base_url=rest_base, timeout=30) as rest:
                await exercise_rest(rest, admin, transcript)
            async with httpx2.AsyncClient(base_url=base) as raw:
                for path in ("/metrics", "/health/ready", "/health/live", "/mcp"):
                    transcript.add(f"GET {path}", (await raw.get(path)).text)
            log = (await admin.get("/_emulator/requests")).json()
        transcript.add("http server stdout", read(out))
        transcript.add("http server stderr", read(err))
        stderr = read(err)
    assert log[0]["status"] == 401  # the canary management token was really sent once, and refused
    assert '"level": "debug"' in stderr and "hms-start-recording" in stderr  # DEBUG JSON logs were captured
    transcript.check()


async def test_no_secret_reaches_stdio_output_logs_or_results() -> None:
    transcript = Transcript()
    with tempfile.TemporaryFile("w+") as err:
        async with emulator() as (running, admin):
            params = StdioServerParameters(
                command=sys.executable, args=serve_args(running, "--transport", "stdio"), env=server_env()
            )
            async with Client(stdio_client(params, errlog=err)) as client:
                await exercise(mcp_call(client), admin, transcript, "stdio")
        transcript.add("stdio server stderr", read(err))
        assert "hms-start-recording" in read(err)
    transcript.check()


async def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``hms-recordings ARGS`` in a worker thread, so that the in-process emulator keeps answering."""
    command = [sys.executable, "-m", "hms_recordings.cli", *args]
    return await anyio.to_thread.run_sync(
        lambda: subprocess.run(command, capture_output=True, text=True, timeout=60, env=server_env(**env))
    )


async def test_no_secret_reaches_cli_output_on_success_or_failure() -> None:
    transcript = Transcript()
    async with emulator() as (running, _):
        upstream = f"recordings={running.api_url}"
        room = new_room()
        down = f"recordings=http://127.0.0.1:{free_port()}/v2"
        runs: dict[str, subprocess.CompletedProcess[str]] = {}

        async def run(name: str, *args: str, **env: str) -> None:
            runs[name] = await cli(*args, **env)

        async with anyio.create_task_group() as tg:  # independent calls side by side: each CLI start costs seconds
            tg.start_soon(
                run, "start", "call", "hms-start-recording", "--arg", f"room_id={room}", "--upstream", upstream
            )
            tg.start_soon(
                run, "bad args", "call", "hms-get-recording", "--arg", "recording_id=../x", "--upstream", upstream
            )
            tg.start_soon(
                functools.partial(
                    run,
                    "wrong secret",
                    "call",
                    "hms-list-recordings",
                    "--upstream",
                    upstream,
                    HMS_APP_SECRET=CANARY_WRONG_SECRET,
                )
            )
        rec = json.loads(runs["start"].stdout)["id"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "stop", "call", "hms-stop-recording", "--arg", f"room_id={room}", "--upstream", upstream)
            tg.start_soon(run, "upstream down", "call", "hms-list-recordings", "--upstream", down)
        state = running.app.emulator
        with anyio.fail_after(10):
            # Bounded polling: the emulator's ticker completes the recording; it offers no event to wait on.
            while state.recording(rec).status != "completed":  # noqa: ASYNC110
                await anyio.sleep(0.05)
        asset = next(a.id for a in state.store.assets.values() if a.type == "room-composite")
        presign = await cli("call", PRESIGN, "--arg", f"asset_id={asset}", "--upstream", upstream)
    codes = {name: run.returncode for name, run in runs.items()}
    assert codes == {"start": 0, "bad args": 2, "wrong secret": 1, "upstream down": 1, "stop": 0}, codes
    assert "credentials" in runs["wrong secret"].stderr
    assert "cannot reach the upstream" in runs["upstream down"].stderr
    transcript.presigned.append(json.loads(presign.stdout)["url"])
    transcript.add("presign stderr", presign.stderr)
    for name, done in runs.items():
        transcript.add(f"cli {name} stdout", done.stdout)
        transcript.add(f"cli {name} stderr", done.stderr)
    transcript.check()


def test_the_transcript_check_would_catch_each_kind_of_leak() -> None:
    """The search itself works: each forbidden shape is found when planted."""
    for planted in [
        CANARY_SECRET,
        CANARY_TOKEN,
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.sig",
        "http://h/_emulator/download/x?expires=1&signature=abc123",
        "https://presigned.example/a?b=c",
    ]:
        transcript = Transcript()
        transcript.presigned.append("https://presigned.example/a?b=c")
        transcript.add("planted", f"log line {planted} end")
        with pytest.raises(AssertionError):
            transcript.check()
    clean = Transcript()
    clean.presigned.append("https://presigned.example/a?b=c")
    clean.add("ok", "signature=[redacted] Bearer [redacted] " + Path(__file__).name)
    clean.check()
