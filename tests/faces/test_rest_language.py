"""The REST face speaks REST: errors name routes, not MCP tool names, and a problem's ``type`` resolves to a page the
server serves (on the REST and the MCP port, without the bearer token)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest

from hms_recordings.server.settings import ServeSettings
from tests.faces.conftest import mcp_face, rest_face
from tests.rig import Rig

pytestmark = pytest.mark.anyio

UNKNOWN = "6a10aa2d3e4f5a6b7c8d9e0f"
TOOL_NAME = re.compile(r"\bhms-[a-z-]+")
INBOUND = "an-inbound-token-of-sixteen-plus"


async def test_a_rest_error_names_the_route_to_call_not_the_tool(rig: Rig) -> None:
    async with rest_face(rig) as rest:
        missing = (await rest.get(f"/recordings/{UNKNOWN}")).json()
        no_active = (await rest.post(f"/rooms/{UNKNOWN}/recording/stop", json={})).json()
    assert "call GET /recordings to find recording ids" in missing["detail"]
    assert "GET /recordings with room_id=" in no_active["detail"]
    assert not TOOL_NAME.search(missing["detail"]) and not TOOL_NAME.search(no_active["detail"])


async def test_invalid_arguments_on_rest_name_the_route(rig: Rig) -> None:
    async with rest_face(rig) as rest:
        body = (await rest.get("/recordings", params={"limit": "5000"})).json()
    assert body["detail"].startswith("invalid arguments for GET /recordings: `limit` must be <= 100")


async def test_the_same_error_on_mcp_still_names_the_tool(rig: Rig) -> None:
    outcome = await rig.call("hms-get-recording", {"recording_id": UNKNOWN})
    assert outcome.error is not None and "call hms-list-recordings to find recording ids" in outcome.error.message


async def test_a_problem_type_resolves_to_a_page_that_explains_the_kind(rig: Rig) -> None:
    settings = ServeSettings(auth_token=INBOUND)
    auth = {"Authorization": f"Bearer {INBOUND}"}
    async with rest_face(rig, settings) as rest:
        response = await rest.get(f"/recordings/{UNKNOWN}", headers=auth)
        problem = response.json()
        page = await rest.get(urljoin(str(response.url), problem["type"]))  # no token: the page is public
        index = await rest.get("/problems")
        unknown = await rest.get("/problems/no_such_kind")
        unauthorized = (await rest.get("/recordings")).json()
        unauthorized_page = await rest.get(urljoin(str(response.url), unauthorized["type"]))
    assert problem["type"] == "/problems/not_found"
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "does not exist" in page.text and "What to do" in page.text
    assert index.status_code == 200 and "/problems/rate_limited" in index.text
    assert unknown.status_code == 404 and unknown.json()["kind"] == "no_route"
    assert unauthorized["type"] == "/problems/unauthorized" and unauthorized_page.status_code == 200


async def test_the_mcp_port_serves_the_problem_pages_too(rig: Rig) -> None:
    async with mcp_face(rig, ServeSettings(auth_token=INBOUND)) as mcp:
        page = await mcp.get("/problems/host_not_allowed")
    assert page.status_code == 200 and "Host or Origin" in page.text
