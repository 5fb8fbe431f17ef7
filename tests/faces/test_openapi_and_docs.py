"""``/openapi.json`` is generated from the compiled tool schemas; ``/docs`` is a self-contained page that reads it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from jsonschema import Draft202012Validator

from hms_recordings import __version__
from hms_recordings.faces.rest_routes import plan_routes
from hms_recordings.taxonomy import KINDS
from tests.rig import Rig

pytestmark = pytest.mark.anyio

METHODS = ("get", "post", "put", "patch", "delete")
SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"


@pytest.fixture
async def spec(rest: httpx2.AsyncClient) -> dict[str, Any]:
    response = await rest.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in spec["paths"].values() for m, op in item.items() if m in METHODS}


async def test_the_document_is_openapi_3_1_with_one_operation_per_served_route(rig: Rig, spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "100ms Recordings"
    routes, _problems = plan_routes(rig.service)
    assert {(r.path, r.method.lower()) for r in routes} == {
        (path, method) for path, item in spec["paths"].items() for method in item
    }
    assert set(operations(spec)) == {r.tool.name for r in routes}  # x-tool routes are named after their tool


async def test_the_built_in_document_is_the_committed_snapshot(spec: dict[str, Any]) -> None:
    assert spec["info"]["version"] == __version__
    text = json.dumps({**spec, "info": {**spec["info"], "version": "<version>"}}, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    changed = "the OpenAPI document changed: review it and run UPDATE_SNAPSHOTS=1"
    assert SNAPSHOT.read_text(encoding="utf-8") == text, changed


async def test_every_schema_in_the_document_is_valid_json_schema(spec: dict[str, Any]) -> None:
    for op in operations(spec).values():
        schemas = [p.get("schema") or p["content"]["application/json"]["schema"] for p in op.get("parameters", [])]
        if "requestBody" in op:
            schemas.append(op["requestBody"]["content"]["application/json"]["schema"])
        schemas.append(op["responses"]["200"]["content"]["application/json"]["schema"])
        for schema in schemas:
            Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(spec["components"]["schemas"]["Problem"])


async def test_path_and_query_parameters_and_the_body_come_from_the_tool_schema(rig: Rig, spec: dict[str, Any]) -> None:
    listing = operations(spec)["hms-list-recordings"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert set(params) == {"room_id", "session_id", "status", "limit", "start"}
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 10, "maximum": 100}
    assert "requestBody" not in listing

    start = operations(spec)["hms-start-recording"]
    assert [(p["name"], p["in"], p["required"]) for p in start["parameters"]] == [("room_id", "path", True)]
    body = start["requestBody"]["content"]["application/json"]["schema"]
    tool_schema = rig.tools["hms-start-recording"].input_schema
    assert set(body["properties"]) == set(tool_schema["properties"]) - {"room_id"}
    assert body["additionalProperties"] is False
    assert start["requestBody"]["required"] is False
    assert start["x-tool"] == "hms-start-recording"
    assert start["x-read-only"] is False
    assert start["responses"]["200"]["content"]["application/json"]["schema"] == (
        rig.tools["hms-start-recording"].output_schema
    )


async def test_errors_are_documented_as_problem_details_with_the_taxonomy(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["properties"]["kind"]["enum"] == sorted(KINDS)
    for op in operations(spec).values():
        for status in ("400", "default"):
            content = op["responses"][status]["content"]
            assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


async def test_the_docs_page_is_self_contained_and_reads_the_openapi_document(rest: httpx2.AsyncClient) -> None:
    response = await rest.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<title>100ms Recordings - REST API</title>" in page
    assert 'fetch("/openapi.json"' in page
    # No CDN, no external asset: every src/href is local, and nothing is loaded from another origin.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page
    assert "<script src" not in page


async def test_the_root_sends_a_browser_to_the_docs(rest: httpx2.AsyncClient) -> None:
    response = await rest.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"
