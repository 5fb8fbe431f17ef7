"""The emulator's own OpenAPI 3.1 description (issue 2)."""

from __future__ import annotations

import re

import httpx2
import pytest
from starlette.routing import Route

from hms_recordings.emulator import EmulatorApp


@pytest.mark.requirement("OPENAPI")
@pytest.mark.anyio
async def test_openapi_document_describes_every_v2_route_with_operation_ids_and_schemas(
    anonymous: httpx2.AsyncClient, emulator_app: EmulatorApp
) -> None:
    """Issue 2: OpenAPI 3.1 at /openapi.json, servers /v2, every /v2 route with operationId and responses."""
    doc = (await anonymous.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "/v2"}]
    routes = {
        (method, route.path.removeprefix("/v2"))
        for route in emulator_app.routes
        if isinstance(route, Route) and route.path.startswith("/v2/")
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m != "parameters"}
    assert documented == routes
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_]*", i) for i in ids)
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert doc["security"] == [{"bearerAuth": []}]


@pytest.mark.requirement("OPENAPI")
@pytest.mark.anyio
async def test_openapi_references_resolve_and_path_parameters_are_declared(anonymous: httpx2.AsyncClient) -> None:
    """Issue 2: a structurally complete document: every $ref resolves, every {param} is a declared path parameter."""
    doc = (await anonymous.get("/openapi.json")).json()
    text = str(doc)
    for ref in re.findall(r"'\$ref': '#/components/schemas/(\w+)'", text):
        assert ref in doc["components"]["schemas"], ref
    for path, item in doc["paths"].items():
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path
            assert "200" in operation["responses"]
            assert "401" in operation["responses"]
    start = doc["paths"]["/recordings/room/{room_id}/start"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StartRecordingRequest"
    }
    assert "transcription" in doc["components"]["schemas"]["StartRecordingRequest"]["properties"]
    assert "thumbnails" in doc["components"]["schemas"]["EmbeddedRecordingAsset"]["required"]
