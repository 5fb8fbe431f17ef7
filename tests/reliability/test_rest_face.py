"""The REST face under hostile input (issue 5): the same checks as MCP, in HTTP's words (problem+json 4xx), nothing
sent upstream, and never a 5xx from our server. Driven by the face's own ``/openapi.json``."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hms_recordings.server.settings import ServeSettings
from tests.hosting import face_client, rest_app

from .conftest import Harness, new_room
from .test_bad_input import TRICKS, VALID, json_values

pytestmark = pytest.mark.anyio

TOKEN = "inbound-rest-token-61c2e8d0"
PROBLEM = "application/problem+json"


@asynccontextmanager
async def rest(h: Harness, **config: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with face_client(rest_app(h, ServeSettings(**config))) as client:
        yield client


async def operations(client: httpx2.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = (await client.get("/openapi.json")).json()
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def fill(path: str, value: str) -> str:
    """``path`` with every placeholder set to ``value``, percent-encoded (dots too, or the client would resolve
    "." and ".." segments itself and the server would never see them)."""
    return re.sub(r"\{[^}]+\}", quote(value, safe="").replace(".", "%2E"), path)


def assert_problem(response: httpx2.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    assert problem["detail"] and len(problem["detail"]) < 700
    return problem


async def test_path_tricks_in_every_rest_route_are_refused_and_reach_nothing(h: Harness) -> None:
    async with rest(h) as client:
        routes = [(m, p) for m, p, _ in await operations(client) if "{" in p]
        assert len(routes) >= 9
        for method, path in routes:
            for trick in [*TRICKS[:-1], "a" * 5000]:  # a megabyte URL is refused by the client itself
                response = await client.request(method, fill(path, trick), json={} if method == "POST" else None)
                if trick == "" and response.status_code == 307:
                    continue  # "/recordings/" is redirected to "/recordings" (Starlette's trailing-slash rule)
                # 404: an encoded slash splits the segment, so no route matches; 400: the engine refused the value.
                assert_problem(response, 400, 404)
    assert await h.requests() == []


async def test_query_tricks_are_refused_and_reach_nothing(h: Harness) -> None:
    async with rest(h) as client:
        for trick in [*TRICKS[:-1], "a" * 5000]:
            for name in ("room_id", "session_id", "start"):
                assert_problem(await client.get("/recordings", params={name: trick}), 400)
        assert_problem(await client.get("/recordings", params=[("room_id", VALID), ("room_id", VALID)]), 400)
        assert_problem(await client.get("/recordings", params={"limit": "ten"}), 400)
        assert_problem(await client.get("/recordings", params={"bogus": "1"}), 400)
    assert await h.requests() == []


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{bad", {"content-type": "application/json"}, (400,)),
        (b"[1, 2]", {"content-type": "application/json"}, (400,)),
        (b'"meeting_url"', {"content-type": "application/json"}, (400,)),
        (b"\xff\xfe", {"content-type": "application/json"}, (400,)),
        (b'{"bogus": 1}', {"content-type": "application/json"}, (400,)),
        (b'{"room_id": "6a0f1c2d3e4f5a6b7c8d9e0a"}', {"content-type": "application/json"}, (400,)),
        (b'{"resolution": {"width": "wide"}}', {"content-type": "application/json"}, (400,)),
        (b"meeting_url=x", {"content-type": "application/x-www-form-urlencoded"}, (400, 415)),
        (b"[" * 200_000, {"content-type": "application/json"}, (400,)),  # too deep for the decoder: 400, not 500
        (b'{"meeting_url": "' + b"a" * 1_100_000 + b'"}', {"content-type": "application/json"}, (413,)),
    ],
)
async def test_malformed_or_oversized_bodies_get_a_clear_4xx_and_reach_nothing(
    h: Harness, body: bytes, headers: dict[str, str], status: tuple[int, ...]
) -> None:
    async with rest(h) as client:
        response = await client.post(f"/rooms/{VALID}/recording/start", content=body, headers=headers)
        assert_problem(response, *status)
        assert (await client.get("/recordings")).status_code == 200  # still serving
    assert [r["method"] for r in await h.requests()] == ["GET"]


async def test_an_oversized_streamed_body_without_content_length_is_refused(h: Harness) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"meeting_url": "'
        for _ in range(40):
            yield b"a" * 32_768
        yield b'"}'

    async with rest(h) as client:
        response = await client.post(
            f"/rooms/{VALID}/recording/start", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413)
    assert await h.requests() == []


async def test_rest_requires_the_bearer_token_and_checks_host_and_origin_off_loopback(h: Harness) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with rest(h, host="0.0.0.0", auth_token=TOKEN) as client:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}0"}, {"Authorization": f"Basic {TOKEN}"}):
            refused = assert_problem(await client.get("/recordings", headers=headers), 401)
            assert TOKEN not in json.dumps(refused)
        assert (await client.get("/recordings", headers={"Authorization": f"bearer {TOKEN}"})).status_code == 200
        bad_host = await client.get("/recordings", headers={**auth, "Host": "evil.example:9091"})
        assert bad_host.status_code == 421
        bad_origin = await client.get("/recordings", headers={**auth, "Origin": "http://evil.example"})
        assert bad_origin.status_code == 403
        room = new_room()
        started = await client.post(f"/rooms/{room}/recording/start", json={}, headers=auth)
        assert started.status_code == 200, started.text
    # The inbound token never went upstream: only the server's own management token did.
    assert all(TOKEN not in json.dumps(seen) for seen in h.spy.seen)
    assert all(seen["authorization"].startswith("Bearer eyJ") for seen in h.spy.seen)


# -- property-based over the face's own OpenAPI document ----------------------------------------------------------

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.sampled_from(TRICKS[:-1]) | st.text(max_size=30) | st.from_regex(r"\A[0-9a-f]{24}\Z")


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(
        st.sampled_from(
            [
                "/recordings",
                "/recordings/{recording_id}",
                "/recordings/{recording_id}/stop",
                "/recordings/{recording_id}/wait",
                "/rooms/{room_id}/recording/start",
                "/rooms/{room_id}/recording/stop",
                "/recording-assets",
                "/recording-assets/{asset_id}",
                "/recording-assets/{asset_id}/presigned-url",
            ]
        )
    )
    method = "POST" if path.endswith(("/stop", "/start")) else "GET"
    names = [
        "room_id",
        "session_id",
        "status",
        "limit",
        "start",
        "type",
        "until",
        "timeout_seconds",
        "presign_duration",
        "x",
    ]
    query = draw(st.dictionaries(st.sampled_from(names) | st.text(max_size=6), texts, max_size=3))
    if path.endswith("/wait"):
        query["timeout_seconds"] = "1"
    body = draw(st.none() | json_values) if method == "POST" else None
    return {"method": method, "url": fill(path, draw(texts)), "params": query, "body": body}


@SETTINGS
@given(request=requests())
async def test_any_request_built_from_the_openapi_gets_json_and_never_a_5xx(
    h: Harness, request: dict[str, Any]
) -> None:
    assert (await h.admin.post("/_emulator/reset")).status_code == 204
    async with rest(h) as client:
        content = None if request["body"] is None else json.dumps(request["body"], allow_nan=True).encode()
        response = await client.request(
            request["method"],
            request["url"],
            params=request["params"],
            content=content,
            headers={"content-type": "application/json"},
        )
    assert response.status_code < 500, (request, response.text[:300])
    if response.status_code >= 400:
        problem = assert_problem(response, response.status_code)
        if problem.get("kind") == "invalid_arguments":
            assert await h.requests() == [], request
    elif response.status_code == 307:
        assert request["url"].endswith("/")  # only Starlette's trailing-slash redirect
    else:
        response.json()
    assert all(entry["status"] is None or entry["status"] < 500 for entry in await h.requests())
