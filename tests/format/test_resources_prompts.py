"""MCP resources and prompts (files/resources.yaml), served by the SDK's in-process client."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from hms_recordings.capability.loader import load_file
from hms_recordings.faces.mcp import build_mcp_server
from tests.rig import open_service

from .conftest import FILES, MakeEngine

Record = Callable[..., Awaitable[dict[str, Any]]]


@pytest.mark.anyio
async def test_a_static_directory_is_one_resource_per_file_and_a_static_file_one_resource(
    make_engine: MakeEngine,
) -> None:
    async with Client(build_mcp_server(make_engine("resources.yaml"))) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        guide = await client.read_resource("docs://recordings/guide.md")
        limits = await client.read_resource("docs://limits")

    assert set(listed) == {
        "docs://recordings/guide.md",
        "docs://recordings/sub/notes.txt",
        "docs://limits",
        "hms://recordings",
    }
    assert listed["docs://recordings/guide.md"].mime_type == "text/markdown"
    assert listed["docs://recordings/guide.md"].title == "Recording docs"
    assert guide.contents[0].text == (FILES / "static" / "docs" / "guide.md").read_text()  # type: ignore[union-attr]
    assert json.loads(limits.contents[0].text)["page_size"] == {"min": 10, "max": 100}  # type: ignore[union-attr]
    assert limits.contents[0].mime_type == "application/json"


@pytest.mark.anyio
async def test_a_dynamic_resource_template_calls_the_operation_with_the_uri_parameters(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    async with Client(build_mcp_server(make_engine("resources.yaml"))) as client:
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource(f"hms://recordings/{recording['id']}")
        recent = await client.read_resource("hms://recordings")

    assert [(t.uri_template, t.mime_type) for t in templates] == [
        ("hms://recordings/{recording_id}", "application/json")
    ]
    assert json.loads(read.contents[0].text)["id"] == recording["id"]  # type: ignore[union-attr]
    assert read.contents[0].mime_type == "application/json"
    assert [r["id"] for r in json.loads(recent.contents[0].text)["data"]] == [recording["id"]]  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_failed_dynamic_read_is_an_mcp_error_without_the_token(make_engine: MakeEngine, token: str) -> None:
    async with Client(build_mcp_server(make_engine("resources.yaml"))) as client:
        with pytest.raises(MCPError) as raised:
            await client.read_resource("hms://recordings/0123456789abcdef01234567")

    assert raised.value.error.code == -32602  # not found, as the SDK's ResourceNotFoundError says
    # The read runs through the invoker like a tool: the same kind and words a tool would give for this 404.
    assert raised.value.error.message == "not_found: upstream answered 404: recording not found"
    assert token not in str(raised.value.error)


@pytest.mark.anyio
async def test_a_prompt_substitutes_its_arguments_once_and_never_a_bound_secret(
    make_engine: MakeEngine, token: str
) -> None:
    async with Client(build_mcp_server(make_engine("resources.yaml"))) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        got = await client.get_prompt("summarize-recording", {"recording_id": "{{style}}-r1", "style": "bullets"})

    assert [(a.name, a.required) for a in listed["summarize-recording"].arguments or []] == [
        ("recording_id", True),
        ("style", False),
    ]
    texts = [(m.role, m.content.text) for m in got.messages]  # type: ignore[union-attr]
    assert texts == [
        ("user", "Summarize recording {{style}}-r1 in bullets style. Token: []"),  # a value is not expanded again
        ("assistant", "I will fetch {{style}}-r1 first."),
    ]
    assert token not in json.dumps(texts)


@pytest.mark.anyio
async def test_a_missing_optional_prompt_argument_renders_empty(make_engine: MakeEngine) -> None:
    async with Client(build_mcp_server(make_engine("resources.yaml"))) as client:
        got = await client.get_prompt("summarize-recording", {"recording_id": "r1"})

    assert got.messages[0].content.text.startswith("Summarize recording r1 in  style.")  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_prompt_kept_in_a_file_is_one_user_message(make_engine: MakeEngine) -> None:
    async with Client(build_mcp_server(make_engine("resources.yaml"))) as client:
        got = await client.get_prompt("triage", {"recording_id": "r9"})

    assert [(m.role, m.content.text) for m in got.messages] == [  # type: ignore[union-attr]
        ("user", "Recording r9 failed. Find out why: get it with hms-get-recording and read its status.\n")
    ]


@pytest.mark.anyio
async def test_a_symlink_leading_out_of_a_static_location_is_not_served(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ok.txt").write_text("fine")
    (tmp_path / "secret.txt").write_text("do not serve")
    (tmp_path / "docs" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    text = (FILES / "resources.yaml").read_text().replace("file:///./static/docs", f"file://{tmp_path / 'docs'}")
    (tmp_path / "static").symlink_to(FILES / "static")
    (tmp_path / "cap.yaml").write_text(text)

    engine = open_service(load_file(tmp_path / "cap.yaml"), env={"HMS_MANAGEMENT_TOKEN": "t"}, strict=True)
    async with engine, Client(build_mcp_server(engine)) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}

    assert "docs://recordings/ok.txt" in uris
    assert "docs://recordings/escape.txt" not in uris
