"""Upstream resilience (issue 5): what is retried, how long we wait, and when we give up.

Every claim about what reached the upstream is read from the emulator's request log (or, for failures injected in
front of the emulator, from the injecting middleware's counter).
"""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from hms_recordings.runtime.upstream import RetryPolicy

from .conftest import CANARY_KEY, CANARY_SECRET, CANARY_TOKEN, FailFirst, Gate, HarnessFactory, new_room

pytestmark = pytest.mark.anyio

RETRIED = [429, 502, 503, 504, "drop"]
START = "hms-start-recording"


class SleepRecorder:
    """The upstream client's sleep seam: records the back-off asked for instead of sleeping it."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@pytest.mark.parametrize("failure", RETRIED)
async def test_a_read_is_retried_after_429_502_503_504_or_a_dropped_connection_and_then_succeeds(
    make_harness: HarnessFactory, failure: int | str
) -> None:
    async with make_harness(wrap=lambda app: FailFirst(app, 2, failure)) as h:
        with anyio.fail_after(5):
            data = await h.call_ok("hms-list-recordings", {})
        assert data["recordings"] == []
        assert h.upstream.failed == 2
        assert [r["status"] for r in await h.requests()] == [200]  # the third attempt reached the emulator
        assert h.service.invoker.upstreams.clients["recordings"].retries == 2


@pytest.mark.parametrize("status", [400, 404, 409, 500, 501])
async def test_statuses_that_repeating_cannot_fix_are_not_retried(make_harness: HarnessFactory, status: int) -> None:
    async with make_harness(wrap=lambda app: FailFirst(app, 1, status)) as h:
        outcome = await h.call("hms-list-recordings", {})
        assert outcome.error is not None
        assert outcome.error.upstream_status == status
        assert h.upstream.failed == 1
        assert await h.requests() == []  # the only request was answered by the injected failure


@pytest.mark.parametrize("failure", RETRIED)
async def test_a_start_is_never_sent_twice_whatever_the_failure(
    make_harness: HarnessFactory, failure: int | str
) -> None:
    room = new_room()
    async with make_harness() as h:
        rule: dict[str, Any] = {"method": "POST", "path_prefix": "/v2/recordings/room/", "retry_after": 0}
        rule |= {"mode": "drop"} if failure == "drop" else {"status": failure}
        await h.faults(rule)
        outcome = await h.call(START, {"room_id": room})
        assert outcome.error is not None
        posts = [r for r in await h.requests() if r["method"] == "POST"]
        assert len(posts) == 1
        assert h.active_per_room() == {}
        assert (
            h.service.invoker.upstreams.clients["recordings"].retries == 0 or failure == "drop"
        )  # only the lookup may retry


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("hms-stop-recording", {"room_id": "65f0c0ffee0000000000a0ff"}),
        ("hms-pause-recording", {"room_id": "65f0c0ffee0000000000a0ff"}),
        ("hms-resume-recording", {"room_id": "65f0c0ffee0000000000a0ff"}),
        # Not hms-stop-recording-by-id: it looks the recording up first, and an unknown one ends there, before any
        # POST could be retried.
    ],
)
async def test_writes_annotated_idempotent_are_retried_like_reads(
    make_harness: HarnessFactory, tool: str, args: dict[str, Any]
) -> None:
    async with make_harness(wrap=lambda app: FailFirst(app, 2, 503, method="POST")) as h:
        outcome = await h.call(tool, args)
        # Nothing is recording in that room, so the emulator answers 404 "beam not found" on the third attempt.
        assert outcome.error is not None and outcome.error.kind == "not_found", outcome.error
        assert h.upstream.failed == 2
        # The one POST that reached the emulator (a room stop first lists the room's active recordings: GETs).
        posts = [r["method"] for r in await h.requests() if r["method"] == "POST"]
        assert posts == ["POST"]


async def test_retry_after_is_honoured_when_it_is_within_the_cap(
    make_harness: HarnessFactory,
) -> None:
    sleeper = SleepRecorder()
    async with make_harness(sleep=sleeper, wrap=lambda app: FailFirst(app, 3, 429, retry_after="0.75")) as h:
        asked = sleeper.asked
        await h.call_ok("hms-list-recordings", {})
        assert len(asked) == 3
        assert all(wait >= 0.75 for wait in asked)  # the back-off alone would be a few milliseconds


async def test_an_http_date_retry_after_is_understood(
    make_harness: HarnessFactory,
) -> None:
    sleeper = SleepRecorder()
    async with make_harness(
        sleep=sleeper, wrap=lambda app: FailFirst(app, 1, 503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    ) as h:
        asked = sleeper.asked
        await h.call_ok("hms-list-recordings", {})
        assert len(asked) == 1 and asked[0] < 0.05  # a date in the past means "now": only the jittered back-off


async def test_a_retry_after_longer_than_the_cap_is_reported_to_the_caller_instead_of_waited(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness() as h:
        await h.faults({"method": "GET", "status": 429, "retry_after": 30})
        with anyio.fail_after(2):
            outcome = await h.call("hms-list-recordings", {})
        assert outcome.error is not None
        assert outcome.error.kind == "rate_limited"
        assert outcome.error.retry_after == 30
        assert "retry after 30" in outcome.error.message
        assert len(await h.requests()) == 1


async def test_backoff_is_exponential_with_full_jitter_and_capped(
    make_harness: HarnessFactory,
) -> None:
    policy = RetryPolicy(attempts=6, backoff_base=1.0, backoff_max=4.0, deadline=120.0)
    sleeper = SleepRecorder()
    async with make_harness(sleep=sleeper, retry=policy, wrap=lambda app: FailFirst(app, 5, 503)) as h:
        asked = sleeper.asked
        await h.call_ok("hms-list-recordings", {})
        caps = [1.0, 2.0, 4.0, 4.0, 4.0]
        assert len(asked) == 5
        assert all(0 <= wait <= cap for wait, cap in zip(asked, caps, strict=True))
    # Full jitter: many draws spread over the whole window instead of clustering at the cap.
    draws = [policy.backoff(3, random.Random(seed)) for seed in range(200)]
    assert min(draws) < 0.5 and max(draws) > 3.5


async def test_when_the_attempts_run_out_the_error_says_how_many_and_within_which_budget(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness() as h:
        await h.faults({"method": "GET", "status": 503, "retry_after": 0})
        outcome = await h.call("hms-get-recording-asset", {"asset_id": "6a10bb2d3e4f5a6b7c8d9e0f"})
        assert outcome.error is not None
        assert outcome.error.kind == "upstream_error"
        assert outcome.error.http_status == 502
        assert outcome.error.upstream_status == 503
        assert outcome.error.message == (
            "upstream answered 503: service unavailable; gave up after 4 attempts within the 10s retry budget"
        )
        assert [r["status"] for r in await h.requests()] == [503] * 4


async def test_no_retry_is_started_that_would_end_after_the_deadline(
    make_harness: HarnessFactory,
) -> None:
    policy = RetryPolicy(attempts=10, deadline=5.0, max_retry_after=10.0)
    sleeper = SleepRecorder()
    async with make_harness(sleep=sleeper, retry=policy) as h:
        asked = sleeper.asked
        await h.faults({"method": "GET", "status": 503, "retry_after": 6})
        outcome = await h.call("hms-list-recordings", {})
        assert outcome.error is not None and outcome.error.upstream_status == 503
        assert asked == []  # waiting 6 s would overrun the 5 s deadline: give up at once
        assert len(await h.requests()) == 1


async def test_the_total_deadline_also_cuts_an_attempt_in_flight(make_harness: HarnessFactory) -> None:
    """Regression: the deadline was only checked between attempts, so a slow upstream held callers past it."""
    async with make_harness(retry=RetryPolicy(deadline=0.2)) as h:
        await h.faults({"method": "GET", "mode": "latency", "latency_ms": 10_000})
        with anyio.fail_after(3):
            outcome = await h.call("hms-list-recordings", {})
        assert outcome.error is not None
        assert outcome.error.kind == "upstream_timeout"
        assert outcome.error.http_status == 504
        assert "within the 0.2s deadline" in outcome.error.message


async def test_at_most_max_concurrency_requests_are_in_flight_upstream(make_harness: HarnessFactory) -> None:
    async with make_harness(max_concurrency=3, wrap=Gate) as h:
        gate: Gate = h.upstream
        results: list[Any] = []

        async def one() -> None:
            results.append(await h.call("hms-list-recordings", {}))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(one)
                await anyio.wait_all_tasks_blocked()
                assert gate.in_flight == 3  # nine callers wait for a slot, none of them upstream
                gate.open.set()
        assert gate.most == 3
        assert all(r.ok for r in results) and len(results) == 12
        assert len(await h.requests()) == 12


async def test_a_refused_token_is_renewed_once_and_the_same_request_sent_again(make_harness: HarnessFactory) -> None:
    env = {"HMS_MANAGEMENT_TOKEN": CANARY_TOKEN, "HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": CANARY_SECRET}
    room = new_room()
    async with make_harness(env=env) as h:
        started = await h.call_ok(START, {"room_id": room})
        assert started["status"] == "starting"
        log = await h.requests()
        # The given token is refused (nothing done), a minted one replaces it, and the same request is sent once more:
        # here the start's first request, its look at the room's active recordings; the start itself then goes once.
        assert [(r["method"], r["status"]) for r in log] == [("GET", 401), ("GET", 200), ("POST", 200)]
        assert h.active_per_room() == {room: 1}
        await h.call_ok("hms-list-recordings", {"room_id": room})
        assert [r["status"] for r in await h.requests()][3:] == [200]  # the fresh token is kept


async def test_a_refused_token_that_cannot_be_renewed_gives_a_credentials_error_naming_the_variables(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness(env={"HMS_MANAGEMENT_TOKEN": CANARY_TOKEN}) as h:
        outcome = await h.call("hms-list-recordings", {})
        assert outcome.error is not None
        assert outcome.error.kind == "credentials"
        assert "HMS_MANAGEMENT_TOKEN" in outcome.error.message and "HMS_APP_SECRET" in outcome.error.message
        assert CANARY_TOKEN not in outcome.error.message
        assert len(await h.requests()) == 1


async def test_a_wrong_app_secret_is_tried_twice_at_most_then_reported(make_harness: HarnessFactory) -> None:
    env = {"HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": "a-wrong-app-secret-that-is-long-enough-for-hs256"}
    async with make_harness(env=env) as h:
        outcome = await h.call(START, {"room_id": new_room()})
        assert outcome.error is not None and outcome.error.kind in ("credentials", "forbidden")
        assert [r["status"] for r in await h.requests()] == [401, 401]
        assert h.active_per_room() == {}
