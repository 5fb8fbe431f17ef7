"""Upstream answers that are not results (issue 13, items 4, 9, 10, 13): too large, redirected, not JSON, rate limited
with a Retry-After no face can print, and the retry budget at 30 % 503 plus 10 % 429.

Each answer is made by a small ASGI layer in front of the real emulator (``Answer``), so the runtime under test is the
real one, and what it got is exactly what a misbehaving upstream or proxy would send.
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.emulator import EmulatorConfig, create_app
from hms_recordings.runtime.upstream import MAX_RETRY_AFTER_SECONDS, RetryPolicy, parse_retry_after
from hms_recordings.server.settings import ServeSettings
from tests.hosting import rest_app
from tests.rig import emulator_env, open_service

from .conftest import CANARY_CREDS, Harness, HarnessFactory, serve_asgi

pytestmark = pytest.mark.anyio

REC = "6a10aa2d3e4f5a6b7c8d9e0f"
GET = "hms-get-recording"
PATH = f"/v2/recordings/{REC}"


class Answer:
    """ASGI layer: requests for ``path`` (``GET /v2/recordings/<REC>`` by default) get the answer the test sets, on
    every attempt; the rest passes through to the emulator."""

    def __init__(self, app: ASGIApp, path: str = PATH) -> None:
        self.app = app
        self.path = path
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: Iterable[bytes] = ()
        self.hits = 0
        self.other_paths: list[str] = []

    def set(self, status: int, body: bytes | Iterable[bytes] = b"", **headers: str) -> None:
        self.status = status
        self.chunks = [body] if isinstance(body, bytes) else body
        self.headers = [(k.replace("_", "-").encode(), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or self.status is None:
            if scope["type"] == "http" and scope["path"].startswith("/v2"):
                self.other_paths.append(scope["path"])
            await self.app(scope, receive, send)
            return
        self.hits += 1
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def answering(
    make_harness: HarnessFactory, path: str = PATH, **settings: Any
) -> AsyncIterator[tuple[Harness, Answer]]:
    holder: list[Answer] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        holder.append(Answer(app, path))
        return holder[0]

    async with make_harness(wrap=wrap, **settings) as h:
        yield h, holder[0]


@asynccontextmanager
async def rest_socket(h: Harness) -> AsyncIterator[httpx2.AsyncClient]:
    """The REST face over a real socket (uvicorn on 127.0.0.1), as a client reaches ``serve --rest-port``."""
    async with serve_asgi(rest_app(h, ServeSettings())) as base, httpx2.AsyncClient(base_url=base, timeout=20) as c:
        yield c


# ------------------------------------------------------------------------------------------------ item 9: Retry-After


@pytest.mark.parametrize(
    "value", ["inf", "1e999", "-5", "nan", "9" * 400, "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "0x10", "1_000"]
)
async def test_a_429_with_any_retry_after_is_a_rate_limited_problem_over_rest_never_a_crash(
    make_harness: HarnessFactory, value: str
) -> None:
    async with answering(make_harness) as (h, answer), rest_socket(h) as client:
        answer.set(429, b'{"code":429,"message":"slow down"}', content_type="application/json", retry_after=value)
        response = await client.get(f"/recordings/{REC}")
    assert response.status_code == 429, response.text[:300]
    problem = response.json()
    assert problem["kind"] == "rate_limited"
    if "retry_after" in problem:
        assert math.isfinite(problem["retry_after"]) and 0 <= problem["retry_after"] <= MAX_RETRY_AFTER_SECONDS
    if "retry-after" in response.headers:
        assert response.headers["retry-after"].isdigit()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("7", 7.0), ("0.75", 0.75), ("  12 ", 12.0), ("9" * 400, MAX_RETRY_AFTER_SECONDS), ("86401", 86_400)],
)
def test_delay_seconds_are_read_as_rfc_9110_says_and_clamped_to_a_day(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize("value", ["inf", "-inf", "1e999", "1e3", "-5", "nan", "", "soon", "٣", "1.", "+5"])
def test_anything_else_than_digits_or_an_http_date_is_no_advice(value: str) -> None:
    assert parse_retry_after(value) is None


def test_an_http_date_is_the_time_left_until_it_and_a_past_one_is_zero() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == pytest.approx(20.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=now) == MAX_RETRY_AFTER_SECONDS


@given(st.text(max_size=80) | st.from_regex(r"\A[0-9]{1,500}(\.[0-9]{0,12})?\Z"))
def test_any_retry_after_text_reads_as_no_advice_or_a_finite_wait_of_at_most_a_day(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or (math.isfinite(seconds) and 0 <= seconds <= MAX_RETRY_AFTER_SECONDS)


# -------------------------------------------------------------------------------------- item 10: redirects, not JSON


async def test_a_redirect_is_an_upstream_error_naming_the_status_and_host_and_is_never_followed(
    make_harness: HarnessFactory,
) -> None:
    async with answering(make_harness) as (h, answer):
        answer.set(302, b"", location="https://collector.example/steal/abc?token=leaked-value-123")
        outcome = await h.call(GET, {"recording_id": REC})
        async with rest_socket(h) as client:
            response = await client.get(f"/recordings/{REC}")
    assert outcome.error is not None, outcome.data
    assert outcome.error.kind == "upstream_error"
    assert "302" in outcome.error.message and "collector.example" in outcome.error.message
    assert "steal" not in outcome.error.message and "leaked-value" not in outcome.error.message
    assert answer.hits == 2 and answer.other_paths == []  # once per call, and nothing followed anywhere
    assert response.status_code == 502
    assert "collector.example" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", b"<html><body>Please log in</body></html>"),
        ("application/json", b'{"id": "6a10aa2d3e4f5a6b7c8d9e0f", "status": "runn'),  # cut short
        ("application/octet-stream", bytes(range(256))),
    ],
)
async def test_a_200_that_is_not_json_is_an_upstream_error_naming_the_content_type_and_size(
    make_harness: HarnessFactory, content_type: str, body: bytes
) -> None:
    async with answering(make_harness) as (h, answer), rest_socket(h) as client:
        answer.set(200, body, content_type=content_type)
        outcome = await h.call(GET, {"recording_id": REC})
        response = await client.get(f"/recordings/{REC}")
    assert outcome.error is not None, f"a result full of nulls: {outcome.data}"
    assert outcome.error.kind == "upstream_error"
    assert f"{len(body)} bytes of {content_type.split(';')[0]}" in outcome.error.message
    assert response.status_code == 502
    assert "not JSON" in response.json()["detail"]


# ----------------------------------------------------------------------------------------------- item 4: size cap


@pytest.mark.parametrize("declared", [True, False])
async def test_an_answer_over_the_cap_is_an_upstream_error_naming_the_cap(
    make_harness: HarnessFactory, declared: bool
) -> None:
    body = b'{"id":"' + b"x" * 300_000 + b'"}'
    headers = {"content_type": "application/json", **({"content_length": str(len(body))} if declared else {})}
    async with answering(make_harness, max_response_bytes=100_000) as (h, answer):
        answer.set(200, [body[i : i + 4096] for i in range(0, len(body), 4096)], **headers)
        outcome = await h.call(GET, {"recording_id": REC})
        answer.set(200, b'{"id":"6a10aa2d3e4f5a6b7c8d9e0f","status":"running"}', content_type="application/json")
        small = await h.call(GET, {"recording_id": REC})
    assert outcome.error is not None
    assert outcome.error.kind == "upstream_error"
    assert "100000 byte limit (--max-response-bytes)" in outcome.error.message
    assert small.error is None and small.data["status"] == "running"  # under the cap, the same call is a result


async def test_an_endless_answer_is_read_only_up_to_the_cap_then_abandoned() -> None:
    """Over real sockets: 256 MiB without a length; the call ends with the cap's error, holding about the cap."""
    chunk = b"7" * 65_536
    config = EmulatorConfig(credentials=CANARY_CREDS, manual_clock=True, start_delay=0, processing_time=0, seed=3)
    emulator = create_app(config)
    answer = Answer(emulator)
    answer.set(200, (chunk for _ in range(4096)), content_type="application/json")
    async with serve_asgi(answer) as base:
        service = open_service(
            upstream=f"{base}/v2", env=emulator_env(CANARY_CREDS, emulator), max_response_bytes=1 << 20
        )
        async with service:
            tracemalloc.start()
            try:
                with anyio.fail_after(20):
                    outcome = await service.call(GET, {"recording_id": REC})
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert outcome.error is not None
    assert "1048576 byte limit" in outcome.error.message
    assert peak < 16 * (1 << 20), f"peak {peak / (1 << 20):.1f} MiB while reading a capped answer"


# ------------------------------------------------------------------------------- item 13: the default retry budget

#: The virtual waits of the call running in this task (the sleep seam records them instead of sleeping).
_waited: ContextVar[list[float]] = ContextVar("waited")


async def _virtual_sleep(seconds: float) -> None:
    _waited.get().append(seconds)
    await anyio.lowlevel.checkpoint()


async def test_at_30_percent_503_plus_10_percent_429_every_one_of_1000_reads_succeeds_with_the_defaults(
    make_harness: HarnessFactory,
) -> None:
    defaults = RetryPolicy()
    waits: list[float] = []
    failures: list[str] = []
    async with make_harness(retry=defaults, sleep=_virtual_sleep, seed=13) as h:
        rec = (await h.call_ok("hms-start-recording", {"room_id": "6a0f1c2d3e4f5a6b7c8d9e0f"}))["id"]
        await h.faults(
            {"method": "GET", "path_prefix": "/v2/", "rate": 0.3, "status": 503},
            {"method": "GET", "path_prefix": "/v2/", "rate": 0.1 / 0.7, "status": 429, "retry_after": 1},
        )

        async def read(n: int) -> None:
            _waited.set([])
            outcome = await h.call(GET, {"recording_id": rec})
            if outcome.error is not None:
                failures.append(outcome.error.message)
            waits.append(sum(_waited.get()))

        limiter = anyio.CapacityLimiter(50)

        async def bounded(n: int) -> None:
            async with limiter:
                await read(n)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for n in range(1000):
                    tg.start_soon(bounded, n)
        log = await h.requests()
    injected = sum(1 for r in log if r["status"] in (429, 503))
    print(f"\n1000 reads, {len(log)} upstream requests, {injected} injected failures; longest wait {max(waits):.2f}s")
    assert failures == []
    assert injected > 500  # the faults did fire (about 40 % of about 1,667 requests)
    assert max(waits) < defaults.deadline  # every read ends within the total deadline


# ------------------------------------------------------------------------------- property: any answer at all


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    status=st.sampled_from([200, 201, 204, 301, 302, 307, 308, 400, 401, 403, 404, 409, 418, 429, 500, 502, 503]),
    content_type=st.sampled_from(["application/json", "text/html", "text/plain", "", "application/json; x=\x7f"]),
    body=st.binary(max_size=400)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ).map(lambda value: json.dumps(value, allow_nan=True).encode()),
    retry_after=st.none() | st.text(max_size=30).filter(lambda t: t.isprintable() and t.isascii()),
    location=st.none() | st.text(max_size=40).filter(lambda t: t.isprintable() and t.isascii()),
)
async def test_any_upstream_answer_is_a_result_or_an_upstream_error_never_an_internal_error(
    make_harness: HarnessFactory,
    status: int,
    content_type: str,
    body: bytes,
    retry_after: str | None,
    location: str | None,
) -> None:
    headers = {"content_type": content_type}
    if retry_after is not None:
        headers["retry_after"] = retry_after
    if location is not None:
        headers["location"] = location
    async with answering(make_harness, retry=RetryPolicy(attempts=2, backoff_base=0.0001, max_retry_after=0.01)) as (
        h,
        answer,
    ):
        answer.set(status, body, **headers)
        started = time.monotonic()
        outcome = await h.call(GET, {"recording_id": REC})
    assert time.monotonic() - started < 5
    if outcome.error is None:
        assert 200 <= status < 300
        # Only strict JSON is ever a result; an answer of blanks only is no content, as an empty one is (upstream.py
        # `_is_json`), which hypothesis found with a body of one tab.
        json.loads(body.strip() or b"null", parse_constant=_refuse)
    else:
        assert outcome.error.kind != "internal_error", outcome.error
        if outcome.error.retry_after is not None:
            assert math.isfinite(outcome.error.retry_after)
