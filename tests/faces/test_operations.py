"""Health, readiness, Prometheus metrics, request ids and access logs on the HTTP faces (server/ package)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hms_recordings import __version__
from hms_recordings.capability.loader import load_file
from hms_recordings.server.logging import JsonFormatter
from hms_recordings.server.metrics import Metrics
from hms_recordings.server.settings import ServeSettings
from tests.faces.conftest import mcp_face, rest_face
from tests.hosting import face_client, mcp_app, rest_app
from tests.rig import ROOM, Rig, make_rig

pytestmark = pytest.mark.anyio

FILES = Path(__file__).parent / "files"
#: One sample line of the Prometheus text format: name, optional labels, a number.
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? -?[0-9.e+-]+$|^[a-z_]+(\{.*\})? \+?Inf$')
INBOUND = "inbound-secret-token-123"


def metric(text: str, name: str, **labels: str) -> float:
    """The value of the one sample named ``name`` whose labels include ``labels`` (parsed, not pattern-matched)."""
    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    assert len(found) == 1, f"{len(found)} samples {name}{labels} in:\n{text}"
    return found[0]


async def test_live_is_200_without_any_upstream_call(rig: Rig) -> None:
    async with rest_face(rig) as rest:
        response = await rest.get("/health/live")
    assert response.json() == {"status": "live"}
    assert await rig.upstream_requests() == []


async def test_ready_is_200_when_the_upstream_answers_with_our_credential_accepted(rig: Rig) -> None:
    async with rest_face(rig) as rest:
        response = await rest.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checked": ["recordings.listrecordings"]}
    assert [(r["method"], r["path"], r["status"]) for r in await rig.upstream_requests()] == [
        ("GET", "/v2/recordings", 200)
    ]


async def test_ready_is_503_naming_the_reason_when_the_credential_is_refused() -> None:
    async with make_rig(env={"HMS_MANAGEMENT_TOKEN": "not-a-valid-token"}) as rig, rest_face(rig) as rest:
        response = await rest.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["kind"] == "credentials"
    assert body["detail"].startswith("not ready: the upstream refused our credential")
    assert "not-a-valid-token" not in response.text


async def test_ready_is_503_when_the_upstream_fails(rig: Rig) -> None:
    await rig.admin.put("/_emulator/faults", json={"rules": [{"path_prefix": "/v2/recordings", "status": 503}]})
    async with rest_face(rig) as rest:
        response = await rest.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["kind"] == "upstream_error"


async def test_metrics_count_tool_calls_upstream_latency_retries_and_rejections() -> None:
    metrics = Metrics()
    settings = ServeSettings(auth_token=INBOUND)
    auth = {"Authorization": f"Bearer {INBOUND}"}
    async with make_rig(observers=[metrics]) as rig, face_client(rest_app(rig, settings, metrics)) as rest:
        assert (await rest.get("/recordings", headers=auth)).status_code == 200
        assert (await rest.get("/recordings", params={"limit": "1"}, headers=auth)).status_code == 400
        assert (await rest.post(f"/rooms/{ROOM}/recording/start", content=b"[", headers=auth)).status_code == 415
        assert (await rest.get("/recordings")).status_code == 401
        await rig.admin.put(
            "/_emulator/faults", json={"rules": [{"path_prefix": "/v2/recordings", "rate": 1, "status": 503}]}
        )
        assert (await rest.get("/recordings", headers=auth)).status_code == 502
        response = await rest.get("/metrics", headers=auth)
        sent = len(await rig.upstream_requests())
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    calls = "hms_tool_calls_total"
    assert metric(text, calls, tool="hms-list-recordings", outcome="ok", face="rest") == 1
    assert metric(text, calls, tool="hms-list-recordings", outcome="invalid_arguments", face="rest") == 1
    assert metric(text, calls, tool="hms-list-recordings", outcome="upstream_error", face="rest") == 1
    assert metric(text, "hms_upstream_retries_total", namespace="recordings") >= 1
    assert metric(text, "hms_rejections_total", reason="unauthorized") == 1
    # The bad limit, and the body that is not an object (refused by the face before the invoker).
    assert metric(text, "hms_rejections_total", reason="invalid_arguments") == 2
    assert metric(text, "hms_build_info", version=__version__) == 1
    operation = "recordings.listrecordings"
    count = metric(text, "hms_upstream_request_duration_seconds_count", operation=operation)
    infinite = metric(text, "hms_upstream_request_duration_seconds_bucket", operation=operation, le="+Inf")
    assert count == infinite == sent
    assert metric(text, "hms_upstream_responses_total", operation=operation, status="5xx") == sent - 1
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line


async def test_two_servers_in_one_process_keep_their_own_metrics() -> None:
    first, second = Metrics(), Metrics()
    async with make_rig(observers=[first]) as rig:
        assert (await rig.call("hms-list-recordings", {})).ok
    assert metric(first.render().decode(), "hms_tool_calls_total", tool="hms-list-recordings", face="api") == 1
    assert "hms_tool_calls_total{" not in second.render().decode()


async def test_the_mcp_face_serves_the_operations_routes_too(rig: Rig) -> None:
    async with mcp_face(rig) as mcp:
        assert (await mcp.get("/health/live")).json() == {"status": "live"}
        assert (await mcp.get("/health/ready")).status_code == 200
        metrics = await mcp.get("/metrics")
        assert "hms_upstream_retries_total" in metrics.text
        assert metrics.headers["x-request-id"]
        assert (await mcp.get("/metrics", headers={"Host": "evil.example"})).status_code == 421


async def test_a_control_expose_takes_the_operations_routes_off_the_faces(rig: Rig) -> None:
    assert load_file(FILES / "skill_capability.yaml").control == ("127.0.0.1", 9099)
    assert load_file().control is None
    async with face_client(mcp_app(rig, with_ops=False)) as mcp:
        assert (await mcp.get("/metrics")).status_code == 404
    async with face_client(rest_app(rig, with_ops=False)) as rest:
        assert (await rest.get("/health/live")).status_code == 404


async def test_each_request_logs_one_line_with_its_id_and_route_template_but_no_query(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hms_recordings.access")
    async with rest_face(rig) as rest:
        response = await rest.get(
            "/recordings/6a10aa2d3e4f5a6b7c8d9e0f?presign=secret-in-query", headers={"X-Request-Id": "trace-7"}
        )
    assert response.status_code == 400  # the unknown `presign` argument
    [record] = [r for r in caplog.records if r.name == "hms_recordings.access"]
    assert record.getMessage().startswith("GET /recordings/{recording_id} 400 ")
    assert record.request_id == "trace-7"  # type: ignore[attr-defined]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "trace-7"
    assert isinstance(line["duration_ms"], float)
    assert "secret-in-query" not in line["message"]


async def test_a_control_character_in_the_path_cannot_forge_an_access_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hms_recordings.access")
    async with mcp_face(rig) as mcp:
        await mcp.get("/nothing%0a2026-01-01 00:00:00 INFO hms_recordings.access: GET /admin 200 0.1 ms")
    [record] = [r for r in caplog.records if r.name == "hms_recordings.access"]
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message
    assert message.startswith("GET /nothing\\x0a2026-01-01 00:00:00 INFO ")
