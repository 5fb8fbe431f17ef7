"""Health, readiness, Prometheus metrics, request ids and access logs on the HTTP faces."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from hms_recordings.capability.loader import load_file
from hms_recordings.config import ServeConfig
from hms_recordings.faces.ops import control_expose
from hms_recordings.logs import JsonFormatter
from hms_recordings.serve import build_http_app, build_rest_http_app
from tests.builtin.rig import ROOM, Rig, make_rig
from tests.faces.conftest import face_client, mcp_face, rest_face

pytestmark = pytest.mark.anyio

FILES = Path(__file__).parent / "files"
#: One sample line of the Prometheus text format: name, optional labels, a number.
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? -?[0-9.e+-]+$|^[a-z_]+(\{.*\})? \+?Inf$')


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


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


async def test_metrics_count_tool_calls_upstream_latency_retries_and_rejections(rig: Rig) -> None:
    config = ServeConfig(auth_token="inbound-secret-token-123")
    auth = {"Authorization": "Bearer inbound-secret-token-123"}
    async with rest_face(rig, config) as rest:
        assert (await rest.get("/recordings", headers=auth)).status_code == 200
        assert (await rest.get("/recordings", params={"limit": "1"}, headers=auth)).status_code == 400
        assert (await rest.post(f"/rooms/{ROOM}/recording/start", content=b"[", headers=auth)).status_code == 415
        assert (await rest.get("/recordings")).status_code == 401
        await rig.admin.put(
            "/_emulator/faults", json={"rules": [{"path_prefix": "/v2/recordings", "rate": 1, "status": 503}]}
        )
        assert (await rest.get("/recordings", headers=auth)).status_code == 502
        response = await rest.get("/metrics", headers=auth)
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    assert metric(text, "hms_tool_calls_total", tool="hms-list-recordings", outcome="ok") == 1
    assert metric(text, "hms_tool_calls_total", tool="hms-list-recordings", outcome="invalid_arguments") == 1
    assert metric(text, "hms_tool_calls_total", tool="hms-list-recordings", outcome="upstream_error") == 1
    assert metric(text, "hms_upstream_retries_total", namespace="recordings") >= 1
    assert metric(text, "hms_rejections_total", reason="unauthorized") == 1
    assert metric(text, "hms_rejections_total", reason="invalid_arguments") == 2
    count = metric(text, "hms_upstream_request_duration_seconds_count", operation="recordings.listrecordings")
    infinite = metric(
        text, "hms_upstream_request_duration_seconds_bucket", operation="recordings.listrecordings", le="+Inf"
    )
    assert count == infinite == len(await rig.upstream_requests())
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line


async def test_the_mcp_face_serves_the_operations_routes_too(rig: Rig) -> None:
    async with mcp_face(rig) as mcp:
        assert (await mcp.get("/health/live")).json() == {"status": "live"}
        assert (await mcp.get("/health/ready")).status_code == 200
        metrics = await mcp.get("/metrics")
        assert "hms_upstream_retries_total" in metrics.text
        assert metrics.headers["x-request-id"]
        assert (await mcp.get("/metrics", headers={"Host": "evil.example"})).status_code == 421


async def test_a_control_expose_takes_the_operations_routes_off_the_faces(rig: Rig) -> None:
    assert control_expose(load_file(FILES / "skill_capability.yaml")) == ("127.0.0.1", 9099)
    assert control_expose(load_file()) is None
    async with face_client(build_http_app(rig.engine, ServeConfig(), with_ops=False)) as mcp:
        assert (await mcp.get("/metrics")).status_code == 404
    async with face_client(build_rest_http_app(rig.engine, ServeConfig(), with_ops=False)) as rest:
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
