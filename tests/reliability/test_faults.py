"""Faults (issue 5): a flaky upstream is absorbed by the retry budget; a dead one fails fast, clearly, and only the
calls that need it."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from typing import Any

import anyio
import pytest
from mcp import Client

from hms_recordings.runtime.upstream import RetryPolicy
from hms_recordings.server.settings import ServeSettings
from tests.hosting import mcp_app
from tests.rig import open_service

from .conftest import (
    CANARY_KEY,
    CANARY_SECRET,
    Harness,
    HarnessFactory,
    builtin,
    builtin_tools,
    free_port,
    new_room,
    read_tools,
)
from .conftest import serve_asgi as serve_http

pytestmark = pytest.mark.anyio

#: The default policy (attempts, deadline, Retry-After cap) with the back-off scaled down so the test is quick.
DEFAULT_BUDGET = replace(RetryPolicy(), backoff_base=0.001, backoff_max=0.01)
CALLS_PER_TOOL = 50
#: 30% of reads fail (15% 503, then 17.65% of the rest 429, both with Retry-After); 30% of the others are slowed.
FLAKY_READS = (
    {"method": "GET", "path_prefix": "/v2/", "rate": 0.15, "status": 503, "retry_after": 0.01},
    {"method": "GET", "path_prefix": "/v2/", "rate": 0.1765, "status": 429, "retry_after": 0.01},
    {"method": "GET", "path_prefix": "/v2/", "rate": 0.3, "mode": "latency", "latency_ms": 5},
)


async def completed_recording(h: Harness) -> tuple[str, str, str]:
    """A completed recording in a fresh room, and the ids of its composite and chat assets."""
    room = new_room()
    started = await h.call_ok("hms-start-recording", {"room_id": room})
    await h.call_ok("hms-stop-recording", {"room_id": room})
    done = await h.call_ok("hms-wait-for-recording", {"recording_id": started["id"], "until": "completed"})
    [asset] = [a for a in done["recording"]["assets"] if a["type"] == "room-composite"]
    [chat] = [a for a in done["recording"]["assets"] if a["type"] == "chat"]
    return started["id"], asset["id"], chat["id"]


def read_calls(recording_id: str, asset_id: str, chat_id: str) -> dict[str, dict[str, Any]]:
    return {
        "hms-list-recordings": {"limit": 10},
        "hms-get-recording": {"recording_id": recording_id},
        "hms-wait-for-recording": {"recording_id": recording_id, "until": "completed"},
        "hms-list-recording-assets": {"type": "room-composite"},
        "hms-get-recording-asset": {"asset_id": asset_id},
        "hms-read-recording-asset": {"asset_id": chat_id},
        "hms-get-recording-presigned-url": {"asset_id": asset_id},
        "hms-get-recording-download-links": {"recording_id": recording_id},
    }


async def test_every_read_tool_succeeds_through_30_percent_503_and_429_with_latency(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness(retry=DEFAULT_BUDGET, seed=2026) as h:
        recording_id, asset_id, chat_id = await completed_recording(h)
        calls = {
            tool: args for tool, args in read_calls(recording_id, asset_id, chat_id).items() if tool in read_tools()
        }
        # Every read tool of the capability that calls the upstream, no more (the event list reads the local log).
        assert set(calls) == set(read_tools()) - {"hms-list-recording-events"}
        before = len(await h.requests())
        await h.faults(*FLAKY_READS)
        failures: list[Any] = []
        ok: Counter[str] = Counter()
        # Sequential on purpose: with a seeded emulator the same requests meet the same faults on every run.
        with anyio.fail_after(30):
            for _ in range(CALLS_PER_TOOL):
                for tool, args in calls.items():
                    outcome = await h.call(tool, args)
                    if outcome.ok:
                        ok[tool] += 1
                    else:
                        failures.append((tool, outcome.error))
        log = (await h.requests())[before:]
    statuses = Counter(r["status"] for r in log)
    injected = statuses[503] + statuses[429]
    assert failures == []
    assert ok == dict.fromkeys(calls, CALLS_PER_TOOL)
    assert 0.25 < injected / len(log) < 0.35  # the fault rate really was about 30%
    assert h.service.invoker.upstreams.clients["recordings"].retries == injected
    print(
        f"\nreliability-figure: {len(calls) * CALLS_PER_TOOL} read calls, {len(log)} upstream requests, "
        f"{injected} injected 503/429 ({injected / len(log):.1%}), 0 failures"
    )


async def test_a_start_is_not_retried_through_the_same_faults_and_says_so(make_harness: HarnessFactory) -> None:
    async with make_harness(retry=DEFAULT_BUDGET) as h:
        await h.faults({"method": "POST", "status": 503, "retry_after": 1})
        room = new_room()
        outcome = await h.call("hms-start-recording", {"room_id": room})
        assert outcome.error is not None
        assert outcome.error.message == "upstream answered 503: service unavailable"
        # One POST: never repeated (the GET before it lists the room's active recordings, for reconciliation).
        assert [r["method"] for r in await h.requests()] == ["GET", "POST"]


async def test_with_the_upstream_down_calls_fail_fast_and_clearly_with_the_default_budget() -> None:
    port = free_port()  # nothing listens there
    service = open_service(
        builtin(),
        env={"HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": CANARY_SECRET},
        upstream=f"http://127.0.0.1:{port}/v2",
        retry=RetryPolicy(),
        seed=None,
    )
    async with service as engine:
        started = time.monotonic()
        with anyio.fail_after(10):
            outcome = await engine.call("hms-list-recordings", {})
        took = time.monotonic() - started
        assert outcome.error is not None
        assert outcome.error.kind == "upstream_unavailable"
        assert outcome.error.http_status == 502
        attempts = RetryPolicy().attempts
        assert outcome.error.message == (
            f"cannot reach the upstream (GET http://127.0.0.1:{port}/v2/recordings): connection refused or host "
            f"unreachable; gave up after {attempts} attempts within the 30s retry budget"
        )
        with anyio.fail_after(10):
            start = await engine.call("hms-start-recording", {"room_id": new_room()})
        assert start.error is not None
        assert "could not confirm whether the start took effect" in start.error.message
        print(f"\nreliability-figure: upstream down, a read failed after {took:.2f}s ({attempts} attempts)")


async def test_with_the_upstream_down_the_mcp_server_keeps_serving_and_recovers(make_harness: HarnessFactory) -> None:
    async with make_harness(retry=DEFAULT_BUDGET) as h:
        app = mcp_app(h, ServeSettings(json_response=True))
        async with serve_http(app) as base, Client(f"{base}/mcp") as client:
            await h.faults({"path_prefix": "/v2/", "mode": "drop"})  # every upstream request: connection dropped
            with anyio.fail_after(10):
                down = await client.call_tool("hms-list-recordings", {})
                assert down.is_error
                assert "the upstream closed the connection without answering" in down.content[0].text  # type: ignore[union-attr]
                assert len((await client.list_tools()).tools) == len(builtin_tools())  # the server is fine
                await h.clear_faults()
                back = await client.call_tool("hms-list-recordings", {})
                assert not back.is_error
