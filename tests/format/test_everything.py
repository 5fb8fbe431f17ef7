"""A file using every alpha2 construct (files/everything.yaml): ``validate --strict`` passes and it serves over MCP.

The Acme upstream is faked at the transport (``httpx2.MockTransport``), the way the style guide asks.
"""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp import Client

from hms_recordings.capability.loader import lenient_findings, load_file
from hms_recordings.capability.validation import validate_file
from hms_recordings.cli import main
from hms_recordings.faces.mcp import build_mcp_server
from hms_recordings.runtime.service import CapabilityService
from hms_recordings.server.serve import Hosted, rest_face
from hms_recordings.server.settings import ServeSettings
from tests.rig import open_service

from .conftest import FILES

EVERYTHING = FILES / "everything.yaml"
WIDGETS = {"data": [{"id": "w1", "size": 3}, {"id": "w2", "size": 5}], "count": 2}


def acme(request: httpx2.Request) -> httpx2.Response:
    if request.url.path == "/v2/widgets" and request.method == "GET":
        assert request.headers["Authorization"] == "Bearer acme-token-1"
        assert request.headers["X-Client"] == "tests"  # a consumes-level static header
        return httpx2.Response(200, json=WIDGETS)
    return httpx2.Response(200, json={"ok": True})


def engine() -> CapabilityService:
    capability = load_file(EVERYTHING)
    transport = httpx2.MockTransport(acme)
    return open_service(capability, transport=transport, upstream=None, env={"ACME_TOKEN": "acme-token-1"}, strict=True)


def test_validate_strict_reports_no_deviation_and_nothing_that_stops_serving() -> None:
    report = validate_file(str(EVERYTHING), strict=True, lenient_check=lenient_findings)

    assert report.exit_code() == 0, report.render()
    assert report.findings == [] or all(f.severity != "error" for f in report.findings)


def test_the_tools_command_lists_every_tool_of_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", str(EVERYTHING), "--json"]) == 0

    names = [t["name"] for t in json.loads(capsys.readouterr().out)]
    assert names == ["list-widgets", "widget-report", "widget-by-ref", "widget-mock", "ping"]


@pytest.mark.anyio
async def test_every_tool_resource_and_prompt_is_served_over_mcp() -> None:
    async with engine() as e, Client(build_mcp_server(e)) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        resources = sorted(str(r.uri) for r in (await client.list_resources()).resources)
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        live = await client.read_resource("acme://widgets")

    assert tools == ["list-widgets", "widget-report", "widget-by-ref", "widget-mock", "ping"]
    assert resources == ["acme://manual/guide.md", "acme://manual/sub/notes.txt", "acme://widgets"]
    assert prompts == ["summarize", "from-file"]
    # a simple call returns the response: consumed outputParameters only shape what later steps see
    assert json.loads(live.contents[0].text) == WIDGETS  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_simple_ref_and_mock_tools_answer() -> None:
    async with engine() as e:
        listed = await e.call("list-widgets", {"limit": 2})
        counted = await e.call("widget-by-ref", {"kind": "any"})
        mocked = await e.call("widget-mock", {})
        pinged = await e.call("ping", {})

    assert listed.data == [{"id": "w1", "size": 3, "live": True}, {"id": "w2", "size": 5, "live": True}]
    assert counted.data == 2
    assert mocked.data == {"answer": "forty-two"}
    assert pinged.data == "pong"


@pytest.mark.anyio
async def test_a_script_step_is_refused_when_called_with_an_error_naming_it() -> None:
    async with engine() as e:
        outcome = await e.call("widget-report", {"id": "w2"})

    assert outcome.error is not None
    assert outcome.error.kind == "unsupported"
    assert outcome.error.message.startswith(
        "step `shape` failed: it is a `script` step, which hms-recordings does not run"
    )


@pytest.mark.anyio
async def test_the_rest_and_skill_exposes_of_the_file_are_served_too() -> None:
    async with engine() as e:
        capability = e.inventory.capability
        settings = ServeSettings.build(capability, flags={"rest_port": 8080}, env={})
        app = rest_face(Hosted(e, [e], [capability]), settings)
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
            widgets = await c.get("/widgets", params={"limit": 2})
            skills = await c.get("/skills")

    assert widgets.json() == {"data": ["w1", "w2"]}
    assert [s["name"] for s in skills.json()["skills"]] == ["acme-widgets"]
