"""Load (issue 5): 50 concurrent MCP clients over real HTTP, each with its own room, get their own results only."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from mcp import Client

from hms_recordings.server.settings import ServeSettings
from tests.hosting import mcp_app

from .conftest import HarnessFactory, new_room, serve_asgi

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

CLIENTS = 50


async def session(client: Client, room: str, calls: list[int], errors: list[str]) -> None:
    """One client's life: every answer must be about its own room and its own recording."""

    async def call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, args)
        calls.append(1)
        if result.is_error:
            errors.append(f"{tool} {args}: {result.content[0].text}")  # type: ignore[union-attr]
            return {}
        structured: dict[str, Any] = result.structured_content or {}
        return structured

    started = await call("hms-start-recording", {"room_id": room})
    rec = started.get("id")
    assert started.get("room_id") == room, started
    listed = await call("hms-list-recordings", {"room_id": room})
    assert [(r["id"], r["room_id"]) for r in listed["recordings"]] == [(rec, room)], listed
    got = await call("hms-get-recording", {"recording_id": rec})
    assert (got["id"], got["room_id"]) == (rec, room), got
    for tool in ("hms-pause-recording", "hms-resume-recording"):
        paused = await call(tool, {"room_id": room})
        assert (paused["id"], paused["room_id"]) == (rec, room), paused
    stopped = await call("hms-stop-recording", {"room_id": room})
    assert [(r["id"], r["room_id"]) for r in stopped["stopped"]] == [(rec, room)], stopped
    again = await call("hms-start-recording", {"room_id": room, "if_active": "return"})
    assert again.get("room_id") == room and again.get("id") != rec, again  # a new recording: the old one stopped
    listed = await call("hms-list-recordings", {"room_id": room, "limit": 10})
    assert {r["id"] for r in listed["recordings"]} == {rec, again["id"]}, listed


async def test_fifty_concurrent_mcp_clients_get_only_their_own_results_without_errors(
    make_harness: HarnessFactory,
) -> None:
    rooms = [new_room() for _ in range(CLIENTS)]
    calls: list[int] = []
    errors: list[str] = []
    async with make_harness() as h:
        app = mcp_app(h, ServeSettings())  # as `serve` runs it: stateful, SSE answers
        async with serve_asgi(app) as base:
            started = time.monotonic()
            with anyio.fail_after(90):
                async with anyio.create_task_group() as tg:
                    for room in rooms:

                        async def one(room: str = room) -> None:
                            async with Client(f"{base}/mcp") as client:
                                await session(client, room, calls, errors)

                        tg.start_soon(one)
            took = time.monotonic() - started
        counts = h.active_per_room()
        log = await h.requests()
    assert errors == []
    assert len(calls) == CLIENTS * 8
    assert counts == dict.fromkeys(rooms, 2)  # exactly the two recordings each client made, in its own room
    assert all(entry["status"] == 200 for entry in log)
    print(
        f"\nreliability-figure: {CLIENTS} MCP clients x 8 calls = {len(calls)} calls in {took:.2f}s "
        f"({len(calls) / took:.0f} calls/s), 0 errors, 0 mixed-up results"
    )
