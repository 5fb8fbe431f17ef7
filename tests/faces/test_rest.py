"""The REST face against the in-process emulator: routes as declared, same results and errors as the MCP tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from hms_recordings.emulator import EmulatorConfig
from hms_recordings.faces.mcp import describe_tools, outcome_to_result
from hms_recordings.faces.rest import build_rest_app
from hms_recordings.faces.rest_routes import plan_routes
from hms_recordings.runtime.service import CombinedService
from hms_recordings.runtime.upstream import RetryPolicy
from hms_recordings.server.settings import ServeSettings
from tests.faces.conftest import face_client, rest_face
from tests.rig import MEETING, ROOM, Rig, emulator_env, make_rig, open_service

pytestmark = pytest.mark.anyio

FILES = Path(__file__).parent / "files"
PROBLEM = "application/problem+json"
JSON_BODY = {"content-type": "application/json"}


TRACE = {"X-Request-Id": "trace-1"}  # a fixed request id, so that a whole problem document can be expected


def expected_problem(kind: str, status: int, detail: str, fields: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """The whole problem document the REST face answers for a request sent with :data:`TRACE`."""
    title = kind.replace("_", " ").capitalize()
    body: dict[str, Any] = {"type": f"/problems/{kind}", "title": title, "status": status}
    body |= {"detail": f"{detail} (request trace-1)", "kind": kind}
    if fields:
        body["fields"] = list(fields)
    return {**body, **extra, "request_id": "trace-1"}


def problem(response: httpx2.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["kind"] == kind
    assert body["status"] == status
    assert body["type"] == f"/problems/{kind}"
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["detail"].endswith(f" (request {body['request_id']})")
    return body


# ------------------------------------------------------------------------------------------------------------ routes


async def test_the_built_in_capability_serves_every_tool_on_a_resource_style_route(rig: Rig) -> None:
    routes, problems = plan_routes(rig.service)
    assert problems == []
    assert {r.tool.name for r in routes} == set(rig.tools)
    table = {(r.method, r.path): r.tool.name for r in routes}
    assert table[("GET", "/recordings")] == "hms-list-recordings"
    assert table[("POST", "/rooms/{room_id}/recording/start")] == "hms-start-recording"
    assert table[("GET", "/recording-assets/{asset_id}/presigned-url")] == "hms-get-recording-presigned-url"


async def test_a_recording_can_be_started_paused_resumed_stopped_and_downloaded_over_rest(
    rig: Rig, rest: httpx2.AsyncClient
) -> None:
    started = await rest.post(f"/rooms/{ROOM}/recording/start", json={"meeting_url": MEETING})
    assert started.status_code == 200, started.text
    recording = started.json()
    assert recording["status"] == "starting"
    running = await rest.get(f"/recordings/{recording['id']}/wait", params={"until": "running"})
    assert running.json()["reached"] is True
    assert (await rest.post(f"/rooms/{ROOM}/recording/pause")).status_code == 200
    assert (await rest.post(f"/rooms/{ROOM}/recording/resume", json={})).status_code == 200
    stopped = await rest.post(f"/rooms/{ROOM}/recording/stop")
    assert [r["id"] for r in stopped.json()["stopped"]] == [recording["id"]]
    done = await rest.get(f"/recordings/{recording['id']}/wait", params={"until": "completed", "timeout_seconds": 5})
    assets = done.json()["recording"]["assets"]
    composite = next(a for a in assets if a["type"] == "room-composite")
    asset = await rest.get(f"/recording-assets/{composite['id']}")
    assert asset.json()["status"] == "completed"
    link = await rest.get(f"/recording-assets/{composite['id']}/presigned-url", params={"presign_duration": 60})
    assert link.status_code == 200
    assert link.json()["url"].startswith("http")
    listed = await rest.get("/recording-assets", params={"room_id": ROOM, "type": "room-composite"})
    assert [a["id"] for a in listed.json()["assets"]] == [composite["id"]]


async def test_a_rest_route_gives_the_same_result_as_the_mcp_tool(rig: Rig, rest: httpx2.AsyncClient) -> None:
    await rest.post(f"/rooms/{ROOM}/recording/start", json={"meeting_url": MEETING})
    over_rest = await rest.get("/recordings", params={"room_id": ROOM, "limit": "10"})
    direct = await rig.call("hms-list-recordings", {"room_id": ROOM, "limit": 10})
    assert over_rest.json() == direct.data
    assert over_rest.headers["content-type"] == "application/json"


async def test_query_strings_are_read_as_the_schema_types(rest: httpx2.AsyncClient) -> None:
    assert (await rest.get("/recordings", params={"limit": "25"})).status_code == 200
    refused = await rest.get("/recordings", params={"limit": "ten"}, headers=TRACE)
    assert refused.json() == expected_problem(
        "invalid_arguments",
        400,
        "invalid arguments for GET /recordings: `limit` must be of type integer",
        ("limit",),
    )


async def test_a_rest_error_has_the_kind_and_text_of_the_mcp_tool_error_in_rest_words(
    rig: Rig, rest: httpx2.AsyncClient
) -> None:
    missing = "6a10aa2d3e4f5a6b7c8d9e0f"
    said = f"recording {missing} does not exist; call {{}} to find recording ids."
    response = await rest.get(f"/recordings/{missing}", headers=TRACE)
    assert response.json() == expected_problem("not_found", 404, said.format("GET /recordings"))
    mcp = outcome_to_result(await rig.call("hms-get-recording", {"recording_id": missing}))
    assert [c.text for c in mcp.content] == [f"not_found: {said.format('hms-list-recordings')}"]  # type: ignore[union-attr]


async def test_a_second_start_is_a_409_problem_naming_the_active_recording(rest: httpx2.AsyncClient) -> None:
    first = (await rest.post(f"/rooms/{ROOM}/recording/start", json={"meeting_url": MEETING})).json()
    body = problem(await rest.post(f"/rooms/{ROOM}/recording/start", json={"meeting_url": MEETING}), 409, "conflict")
    assert first["id"] in body["detail"]
    assert body["data"]["id"] == first["id"]
    again = await rest.post(f"/rooms/{ROOM}/recording/start", json={"meeting_url": MEETING, "if_active": "return"})
    assert again.json()["id"] == first["id"]


# --------------------------------------------------------------------------------------------------------- bad input


START_FIELDS = "audio_only, destination, if_active, meeting_url, resolution, room_id, transcription"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail", "fields"),
    [
        (
            b"{not json",
            JSON_BODY,
            400,
            "the request body is not valid JSON (Expecting property name enclosed in double quotes)",
            (),
        ),
        (b"[1, 2]", JSON_BODY, 400, "the request body must be a JSON object, not list", ()),
        (
            b'{"meeting_url": "https://x.test/m", "bogus": 1}',
            JSON_BODY,
            400,
            "invalid arguments for POST /rooms/{room_id}/recording/start: unknown argument `bogus` "
            f"(allowed: {START_FIELDS})",
            ("bogus",),
        ),
        (
            b'{"room_id": "6a0f1c2d3e4f5a6b7c8d9e01"}',
            JSON_BODY,
            400,
            "`room_id` is part of the path; do not repeat it in the body",
            ("room_id",),
        ),
        (
            b'{"meeting_url": 5}',
            JSON_BODY,
            400,
            "invalid arguments for POST /rooms/{room_id}/recording/start: `meeting_url` must be of type string",
            ("meeting_url",),
        ),
        (
            b"meeting_url=https://x.test",
            FORM,
            415,
            "send the request body as JSON, with Content-Type: application/json",
            (),
        ),
        (b"\xff\xfe", JSON_BODY, 400, "the request body is not valid JSON (not UTF-8)", ()),
        (b'{"meeting_url": NaN}', JSON_BODY, 400, "the request body is not valid JSON (NaN is not a JSON number)", ()),
        (
            b'{"meeting_url": "https://x.test/m", "resolution": -Infinity}',
            JSON_BODY,
            400,
            "the request body is not valid JSON (-Infinity is not a JSON number)",
            (),
        ),
        (
            b'{"meeting_url": "\\ud800"}',
            JSON_BODY,
            400,
            "the request body holds text that is not valid Unicode (a lone surrogate)",
            (),
        ),
        (
            b'{"\\udfff": 1}',
            JSON_BODY,
            400,
            "the request body holds text that is not valid Unicode (a lone surrogate)",
            (),
        ),
        (b'{"meeting_url": "\xed\xa0\x80"}', JSON_BODY, 400, "the request body is not valid JSON (not UTF-8)", ()),
    ],
)
async def test_bad_bodies_are_a_4xx_problem_and_nothing_is_sent_upstream(
    rig: Rig,
    rest: httpx2.AsyncClient,
    body: bytes,
    headers: dict[str, str],
    status: int,
    detail: str,
    fields: tuple[str, ...],
) -> None:
    response = await rest.post(f"/rooms/{ROOM}/recording/start", content=body, headers={**headers, **TRACE})
    assert response.json() == expected_problem("invalid_arguments", status, detail, fields)
    assert await rig.upstream_requests() == []


async def test_a_field_given_twice_is_refused(rig: Rig, rest: httpx2.AsyncClient) -> None:
    repeated = await rest.get("/recordings?limit=10&limit=20")
    assert "given 2 times" in problem(repeated, 400, "invalid_arguments")["detail"]
    both = await rest.post(f"/rooms/{ROOM}/recording/start?meeting_url=https://a.test", json={"meeting_url": MEETING})
    assert "both in the query string and in the body" in problem(both, 400, "invalid_arguments")["detail"]
    in_path = await rest.get(f"/recordings/{'6a10aa2d3e4f5a6b7c8d9e0f'}?recording_id=6a10aa2d3e4f5a6b7c8d9e01")
    assert "part of the path" in problem(in_path, 400, "invalid_arguments")["detail"]
    assert await rig.upstream_requests() == []


async def test_a_body_over_one_mebibyte_is_413(rig: Rig, rest: httpx2.AsyncClient) -> None:
    big = json.dumps({"meeting_url": "https://x.test/" + "a" * 1_100_000}).encode()
    problem(await rest.post(f"/rooms/{ROOM}/recording/start", content=big, headers=JSON_BODY), 413, "too_large")

    async def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        for _ in range(20):
            yield b" " * 100_000

    streamed = await rest.post(f"/rooms/{ROOM}/recording/start", content=chunks(), headers=JSON_BODY)
    problem(streamed, 413, "too_large")
    assert await rig.upstream_requests() == []


async def test_the_body_limit_is_settable(rig: Rig) -> None:
    async with face_client(build_rest_app(rig.service, max_body_bytes=2048)) as rest:
        start = f"/rooms/{ROOM}/recording/start"
        big = await rest.post(start, json={"meeting_url": MEETING + "?" + "a" * 2048})
        assert big.status_code == 413
        assert big.json()["detail"] == "the request body is larger than 2048 bytes"
        assert await rig.upstream_requests() == []
        assert (await rest.post(start, json={"meeting_url": MEETING})).status_code == 200


async def test_an_invalid_path_value_is_refused_before_the_upstream(rig: Rig, rest: httpx2.AsyncClient) -> None:
    # A slash inside a path value: the same refusal, in the same words, as on MCP and the CLI.
    body = problem(await rest.post("/rooms/..%2F..%2Fadmin/recording/start"), 400, "invalid_arguments")
    assert body["fields"] == ["room_id"]
    assert "`room_id` must match the pattern" in body["detail"]
    bad = problem(await rest.post("/rooms/NOT-AN-ID/recording/start", json={}), 400, "invalid_arguments")
    assert bad["fields"] == ["room_id"]
    assert await rig.upstream_requests() == []


async def test_an_encoded_or_trailing_slash_is_no_route_never_a_redirect_to_another_id(
    rig: Rig, rest: httpx2.AsyncClient
) -> None:
    for path in ("/recordings/6a10aa2d3e4f5a6b7c8d9e0f%2F", "/recordings/6a10aa2d3e4f5a6b7c8d9e0f/", "/recordings/"):
        response = await rest.get(path, headers=TRACE)
        assert response.json() == expected_problem(
            "no_route", 404, f"no route GET {response.request.url.path}; see /openapi.json"
        )
    assert await rig.upstream_requests() == []


async def test_unknown_routes_and_methods_are_problem_documents(rest: httpx2.AsyncClient) -> None:
    problem(await rest.get("/nothing-here"), 404, "no_route")
    wrong = await rest.delete("/recordings")
    body = problem(wrong, 405, "method_not_allowed")
    assert "GET" in wrong.headers["allow"]
    assert "does not take DELETE" in body["detail"]


# ---------------------------------------------------------------------------------------------- upstream failures


async def put_faults(rig: Rig, *rules: dict[str, Any]) -> None:
    response = await rig.admin.put("/_emulator/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


async def test_an_upstream_429_is_passed_through_with_retry_after(rig: Rig, rest: httpx2.AsyncClient) -> None:
    await put_faults(rig, {"method": "GET", "path_prefix": "/v2/recordings", "status": 429, "retry_after": 120})
    response = await rest.get("/recordings", headers=TRACE)
    said = "upstream answered 429: rate limit exceeded, retry after 120 seconds"
    assert response.json() == expected_problem("rate_limited", 429, said, upstream_status=429, retry_after=120.0)
    assert response.headers["retry-after"] == "120"


async def test_an_upstream_failure_is_502(rig: Rig, rest: httpx2.AsyncClient) -> None:
    await put_faults(rig, {"method": "GET", "path_prefix": "/v2/recordings", "status": 500})
    response = await rest.get("/recordings", headers=TRACE)
    said = "upstream answered 500: internal server error"
    assert response.json() == expected_problem("upstream_error", 502, said, upstream_status=500)


async def test_a_dropped_connection_is_502_upstream_unavailable(rig: Rig, rest: httpx2.AsyncClient) -> None:
    await put_faults(rig, {"method": "GET", "path_prefix": "/v2/recordings", "mode": "drop"})
    response = await rest.get("/recordings", headers=TRACE)
    said = (
        "the upstream closed the connection without answering (GET http://emulator.test/v2/recordings): "
        "ConnectionDropped; gave up after 4 attempts within the 10s retry budget"
    )
    assert response.json() == expected_problem("upstream_unavailable", 502, said)


async def test_an_upstream_timeout_is_504() -> None:
    async with make_rig(retry=RetryPolicy(attempts=1, deadline=0.1)) as rig, rest_face(rig) as rest:
        await put_faults(rig, {"method": "GET", "path_prefix": "/v2/recordings", "mode": "latency", "latency_ms": 3000})
        problem(await rest.get("/recordings"), 504, "upstream_timeout")


async def test_a_refused_credential_is_502_and_the_problem_holds_no_secret() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJmYWtlIjoidG9rZW4ifQ.c2lnbmF0dXJlLW5vdC12YWxpZA"
    async with make_rig(env={"HMS_MANAGEMENT_TOKEN": token}) as rig, rest_face(rig) as rest:
        response = await rest.get("/recordings", headers=TRACE)
        said = (
            "upstream answered 401: Token validation error (signature is invalid): the upstream refused our "
            "credential; check HMS_ACCESS_KEY, HMS_APP_SECRET, HMS_MANAGEMENT_TOKEN"
        )
        assert response.json() == expected_problem("credentials", 502, said)
        assert token not in response.text
        assert "eyJ" not in response.text


# ------------------------------------------------------------------------------------------ selection and safety


async def test_read_only_mode_unmounts_and_undocuments_the_write_routes() -> None:
    async with make_rig(read_only=True) as rig, rest_face(rig) as rest:
        problem(await rest.post(f"/rooms/{ROOM}/recording/start", json={}), 404, "no_route")
        assert (await rest.get("/recordings")).status_code == 200
        paths = (await rest.get("/openapi.json")).json()["paths"]
        assert "/rooms/{room_id}/recording/start" not in paths
        assert all(method == "get" for item in paths.values() for method in item)
        assert await rig.upstream_requests() == [
            {"method": "GET", "path": "/v2/recordings", "query": {}, "status": 200}
        ]


async def test_a_tool_selection_serves_only_the_selected_routes() -> None:
    async with make_rig(tools=("hms-get-recording",)) as rig, rest_face(rig) as rest:
        paths = (await rest.get("/openapi.json")).json()["paths"]
        assert list(paths) == ["/recordings/{recording_id}"]
        problem(await rest.get("/recordings"), 404, "no_route")


async def test_the_inbound_bearer_token_guards_rest_with_a_problem_document(rig: Rig) -> None:
    secret = "inbound-secret-token-123"
    async with rest_face(rig, ServeSettings(auth_token=secret)) as rest:
        refused = await rest.get("/recordings", headers={"Authorization": "Bearer wrong"})
        problem(refused, 401, "unauthorized")
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert secret not in refused.text
        assert (await rest.get("/recordings", headers={"Authorization": f"Bearer {secret}"})).status_code == 200
        assert (await rest.get("/docs")).status_code == 200  # the page asks for the token itself
        assert (await rest.get("/health/live")).status_code == 200
        problem(await rest.get("/openapi.json"), 401, "unauthorized")
        spec = (await rest.get("/openapi.json", headers={"Authorization": f"Bearer {secret}"})).json()
        assert spec["security"] == [{"bearer": []}]


async def test_host_and_origin_checks_apply_to_rest(rig: Rig, rest: httpx2.AsyncClient) -> None:
    problem(await rest.get("/recordings", headers={"Host": "evil.example"}), 421, "host_not_allowed")
    problem(await rest.get("/recordings", headers={"Origin": "http://evil.example"}), 403, "host_not_allowed")
    same_origin = await rest.get("/recordings", headers={"Origin": "http://127.0.0.1:9091"})
    assert same_origin.status_code == 200
    assert await rig.upstream_requests() == [{"method": "GET", "path": "/v2/recordings", "query": {}, "status": 200}]


async def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(rest: httpx2.AsyncClient) -> None:
    kept = await rest.get("/nothing", headers={"X-Request-Id": "trace-42.a"})
    assert kept.headers["x-request-id"] == "trace-42.a"
    assert kept.json()["detail"].endswith("(request trace-42.a)")
    replaced = await rest.get("/nothing", headers={"X-Request-Id": "<script>alert(1)</script>"})
    assert replaced.headers["x-request-id"] != "<script>alert(1)</script>"
    assert "<script>" not in replaced.text


# ------------------------------------------------------------------------------------------------ plain alpha2 ops


async def test_plain_alpha2_rest_operations_run_through_call_with_and_input_parameters() -> None:
    async with make_rig(FILES / "plain_rest.yaml") as rig, rest_face(rig) as rest:
        await rig.call_ok("hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING})
        listed = await rest.get(f"/rooms/{ROOM}/recordings", params={"page_size": "10"})
        assert listed.status_code == 200, listed.text
        assert [r["room_id"] for r in listed.json()["items"]] == [ROOM]
        requests = await rig.upstream_requests()
        assert requests[-1]["query"] == {"room_id": ROOM, "limit": "10", "status": "running"}
        bad = problem(await rest.get("/rooms/not-hex/recordings"), 400, "invalid_arguments")
        assert bad["fields"] == ["room_id"]
        body = problem(await rest.get(f"/rooms/{ROOM}/recordings", params={"page_size": "5"}), 400, "invalid_arguments")
        assert "`page_size` must be >= 10" in body["detail"]
        spec = (await rest.get("/openapi.json")).json()
        parameters = spec["paths"]["/rooms/{room_id}/recordings"]["get"]["parameters"]
        assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
            ("room_id", "path", True),
            ("page_size", "query", False),
        ]
        assert parameters[0]["schema"]["pattern"] == "^[0-9a-f]{24}$"


async def test_an_x_tool_naming_no_mcp_tool_is_reported_and_the_rest_of_the_file_is_served() -> None:
    async with make_rig(FILES / "bad_x_tool.yaml") as rig, rest_face(rig) as rest:
        assert rig.service.inventory.problems == (
            "REST operation GET /recordings: x-tool 'hms-no-such-tool' names no MCP tool (known: hms-list)",
        )
        assert list(rig.tools) == ["hms-list"]
        assert (await rest.get("/openapi.json")).json()["paths"] == {}
        problem(await rest.get("/recordings"), 404, "no_route")


# ------------------------------------------------------------------------------------------ text from the request


async def test_a_24_digit_id_in_the_path_reaches_the_upstream_as_text(rig: Rig, rest: httpx2.AsyncClient) -> None:
    # The REST twin of the CLI bug: an all-digit id is a string where the schema says string, never a number.
    problem(await rest.get("/recordings/123456789012345678901234"), 404, "not_found")
    assert await rig.upstream_requests() == [
        {"method": "GET", "path": "/v2/recordings/123456789012345678901234", "query": {}, "status": 404}
    ]


async def test_a_query_value_for_a_string_argument_is_never_read_as_a_number(
    rig: Rig, rest: httpx2.AsyncClient
) -> None:
    assert (await rest.get("/recordings", params={"room_id": "123456789012345678901234"})).status_code == 200
    [sent] = await rig.upstream_requests()
    assert sent["query"] == {"room_id": "123456789012345678901234"}


async def test_a_query_value_is_text_read_by_the_schema_and_a_body_value_is_json_as_sent(
    rig: Rig, rest: httpx2.AsyncClient
) -> None:
    start = f"/rooms/{ROOM}/recording/start"
    refused = await rest.post(start, json={"meeting_url": MEETING, "audio_only": "true"}, headers=TRACE)
    said = "invalid arguments for POST /rooms/{room_id}/recording/start: `audio_only` must be of type boolean"
    assert refused.json() == expected_problem("invalid_arguments", 400, said, ("audio_only",))
    assert await rig.upstream_requests() == []
    started = await rest.post(start, params={"audio_only": "true"}, json={"meeting_url": MEETING})
    assert started.status_code == 200, started.text
    [recording] = rig.emulator.emulator.store.recordings.values()
    assert recording.audio_only is True


async def test_a_refusal_of_the_face_is_left_in_the_request_state_for_the_hosting_layer(rig: Rig) -> None:
    states: list[dict[str, Any]] = []
    app = build_rest_app(rig.service)

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        states.append(dict(scope.get("state") or {}))

    async with face_client(spy) as client:
        await client.post(f"/rooms/{ROOM}/recording/start", content=b"[1]", headers=JSON_BODY)
        await client.get("/recordings", params={"limit": "ten"})
    assert states == [
        {"route": "/rooms/{room_id}/recording/start", "rejection": "invalid_arguments"},
        {"route": "/recordings"},  # refused by the invoker, which tells the call observers itself
    ]


# ------------------------------------------------------------------------------------------------ route planning


async def test_a_path_parameter_spelled_differently_from_its_argument_is_served_under_the_argument_name() -> None:
    async with make_rig(FILES / "respelled_path.yaml") as rig, rest_face(rig) as rest:
        routes, problems = plan_routes(rig.service)
        assert [(r.method, r.path, r.operation_id) for r in routes] == [
            ("GET", "/recordings/{recording_id}", "get-recording"),
            ("GET", "/dashed/{recording-id}", "get-dashed"),
            ("GET", "/pairs/{recording-id}/{p0}", "get-pair"),
            ("GET", "/by-header", "get-by-header"),
        ]
        assert [r.route_path for r in routes] == [
            "/recordings/{recording_id}",
            "/dashed/{p0}",
            "/pairs/{p1}/{p0}",
            "/by-header",
        ]
        assert problems == [
            "REST operation GET /recordings/{{recording_id}} (get-again) has the method and path of get-recording, "
            "declared first and served; this one is not served",
            "REST operation GET /rooms/{{room}}/recordings: path parameter room is not an argument of get-unknown "
            "(its arguments: recording_id); the operation is not served over REST",
        ]
        missing = "6a10aa2d3e4f5a6b7c8d9e0f"
        problem(await rest.get(f"/recordings/{missing}"), 404, "not_found")
        problem(await rest.get(f"/dashed/{missing}"), 404, "not_found")
        problem(await rest.get(f"/pairs/{missing}/an-asset"), 404, "not_found")  # the emulator has no such asset
        assert [r["path"] for r in await rig.upstream_requests()] == [
            f"/v2/recordings/{missing}",
            f"/v2/recordings/{missing}",
            f"/v2/recordings/{missing}/assets/an-asset",
        ]
        paths = (await rest.get("/openapi.json")).json()["paths"]
        assert {path: [p["name"] for p in item["get"]["parameters"]] for path, item in paths.items()} == {
            "/recordings/{recording_id}": ["recording_id"],
            "/dashed/{recording-id}": ["recording-id"],
            "/pairs/{recording-id}/{p0}": ["recording-id", "p0"],
            "/by-header": ["rid"],
        }
        assert paths["/by-header"]["get"]["parameters"][0]["in"] == "header"


async def test_a_declared_header_parameter_is_read_from_the_header_and_refused_when_also_in_the_query() -> None:
    async with make_rig(FILES / "respelled_path.yaml") as rig, rest_face(rig) as rest:
        missing = "6a10aa2d3e4f5a6b7c8d9e0f"
        problem(await rest.get("/by-header", headers={"rid": missing}), 404, "not_found")
        twice = await rest.get("/by-header", params={"rid": missing}, headers={"rid": missing, **TRACE})
        said = "`rid` is given both in the query string and in a header; give it once"
        assert twice.json() == expected_problem("invalid_arguments", 400, said, ("rid",))
        assert [r["path"] for r in await rig.upstream_requests()] == [f"/v2/recordings/{missing}"]


async def test_a_published_file_whose_paths_name_undeclared_parameters_serves_them_on_every_face() -> None:
    # api-evangelist/cloudflare: the consumed path says {zone_id} without declaring it, the REST path says
    # {zone-id}. The placeholder is an argument of each tool, and the REST route reads it from its respelled name.
    async with (
        make_rig(FILES / "cloudflare-dns-dnssec.yaml", env={"CLOUDFLARE_API_KEY": "test-key"}) as rig,
        rest_face(rig) as rest,
    ):
        routes, problems = plan_routes(rig.service)
        assert problems == []
        assert [(r.method, r.path) for r in routes] == [
            (method, "/v1/zones/{zone_id}/dnssec")
            for method in ("GET", "PATCH", "DELETE")  # named as the argument
        ]
        tools = describe_tools(rig.service.tools())
        assert [t["name"] for t in tools] == [
            "cloudflare-get-dnssec-settings",
            "cloudflare-update-dnssec-settings",
            "cloudflare-delete-dnssec-settings",
        ]
        assert all("zone_id" in t["inputSchema"]["required"] for t in tools)
        await rest.get("/v1/zones/abc/dnssec")
        problem(await rest.get("/v1/zones/a%2Fb/dnssec"), 400, "invalid_arguments")
        assert [r["path"] for r in await rig.upstream_requests()] == ["/v2/zones/abc/dnssec"]


async def test_several_files_on_one_rest_face_run_each_plain_operation_on_its_own_upstream() -> None:
    config = EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=3)
    missing = "6a10aa2d3e4f5a6b7c8d9e0f"
    async with make_rig(emulator=config) as rig:
        env = emulator_env(config.credentials, rig.emulator)
        transport = httpx2.ASGITransport(app=rig.spy)
        async with open_service(FILES / "second_api.yaml", transport=transport, env=env) as second:
            combined = CombinedService([("built-in", rig.service), ("second_api.yaml", second)])
            async with face_client(build_rest_app(combined)) as rest:
                archived = await rest.get(f"/archive/{missing}")
                assert archived.status_code == 404, archived.text  # the emulator's answer, via the archive client
                assert (await rest.get(f"/recordings/{missing}")).status_code == 404
        assert [r["path"] for r in await rig.upstream_requests()] == [f"/v2/recordings/{missing}"] * 2
