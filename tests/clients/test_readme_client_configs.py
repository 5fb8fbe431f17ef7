"""The README's MCP client examples work as written: every config is parsed and the server started from it.

The section sits between ``<!-- clients:start -->`` and ``<!-- clients:end -->``: in README.md once the README has
it, otherwise in docs/clients.md (and when both have it they must agree). stdio examples are started through the
official Python client with exactly their ``command`` and ``args``; HTTP examples must name the server's default
address, and the documented ``hms-recordings serve`` line is started with exactly its arguments. Only the
environment may differ, so that a port someone else already uses on this machine does not fail the test: then
``HMS_RECORDINGS_PORT`` / ``HMS_RECORDINGS_REST_PORT`` move the server, as a user would.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import anyio
import pytest
from mcp import Client, StdioServerParameters

from hms_recordings.capability.loader import load_file
from hms_recordings.server.settings import ServeSettings
from tests.clients.harness import NPM_TOOLS, REPO, free_port, port_is_free, server_env, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

SECTION = re.compile(r"<!-- clients:start -->\n(?P<body>.*?)<!-- clients:end -->", re.S)
BLOCK = re.compile(r"^```(?P<lang>\w*)\n(?P<code>.*?)^```$", re.M | re.S)
HEADING = re.compile(r"^#{2,4} (?P<title>.+)$", re.M)
CALL_TIMEOUT = 60.0


def section(path: Path) -> str | None:
    if not path.exists():
        return None
    match = SECTION.search(path.read_text())
    return match["body"] if match else None


README_SECTION = section(REPO / "README.md")
DOCS_SECTION = section(REPO / "docs" / "clients.md")
SOURCE = README_SECTION if README_SECTION is not None else DOCS_SECTION


@dataclass(frozen=True)
class Block:
    heading: str
    lang: str
    code: str


def blocks(text: str) -> list[Block]:
    found = []
    for match in BLOCK.finditer(text):
        headings = HEADING.findall(text[: match.start()])
        found.append(Block(headings[-1] if headings else "", match["lang"], match["code"]))
    return found


@dataclass(frozen=True)
class ServerEntry:
    client: str
    name: str
    config: dict[str, Any]


def json_entries(text: str) -> list[ServerEntry]:
    entries = []
    for block in blocks(text):
        if block.lang != "json":
            continue
        document = json.loads(block.code)
        # VS Code keys its servers under "servers"; Claude Desktop, Claude Code and Cursor under "mcpServers".
        key = "servers" if block.heading.startswith("VS Code") else "mcpServers"
        assert set(document) == {key}, f"{block.heading}: expected only {key!r} at the top level"
        entries += [ServerEntry(block.heading, name, config) for name, config in document[key].items()]
    return entries


def shell_commands(text: str) -> list[list[str]]:
    return [shlex.split(line) for b in blocks(text) if b.lang == "sh" for line in b.code.splitlines() if line.strip()]


ENTRIES = json_entries(SOURCE or "")
STDIO = [e for e in ENTRIES if "command" in e.config]
HTTP = [e for e in ENTRIES if "url" in e.config]
STDIO_COMMANDS = sorted({(e.config["command"], *e.config["args"]) for e in STDIO})
DEFAULTS = ServeSettings.build(load_file(), flags={}, env={})
DEFAULT_URL = f"http://{DEFAULTS.host}:{DEFAULTS.port}/mcp"


def test_the_client_section_exists_and_the_readme_copy_matches_docs_clients_md() -> None:
    assert DOCS_SECTION is not None, "docs/clients.md lost its <!-- clients:start/end --> markers"
    if README_SECTION is not None:
        assert README_SECTION == DOCS_SECTION, "README.md's client section differs from docs/clients.md's"


def test_the_examples_cover_claude_desktop_claude_code_cursor_and_vs_code_in_both_forms() -> None:
    clients = {e.client for e in STDIO}
    assert {"Claude Desktop", "Claude Code", "Cursor"} <= clients
    assert any(c.startswith("VS Code") for c in clients)
    assert {e.client for e in HTTP} >= {"Claude Code", "Cursor"}
    assert any(e.client.startswith("VS Code") for e in HTTP)


def test_every_server_entry_is_a_well_formed_stdio_or_http_config() -> None:
    assert ENTRIES
    for entry in ENTRIES:
        where = f"{entry.client} / {entry.name}"
        if "command" in entry.config:
            assert set(entry.config) <= {"type", "command", "args", "env"}, where
            assert entry.config.get("type", "stdio") == "stdio", where
            assert all(isinstance(arg, str) for arg in entry.config["args"]), where
        else:
            assert set(entry.config) <= {"type", "url"}, where
            assert entry.config.get("type", "http") == "http", where
        if entry.client.startswith(("VS Code", "Claude Code")):
            assert "type" in entry.config, f"{where}: this client's project file states the type"


def test_every_http_example_names_the_servers_default_address() -> None:
    assert HTTP
    assert {e.config["url"] for e in HTTP} == {DEFAULT_URL}


def test_the_shell_one_liners_use_the_same_command_url_and_pinned_inspector_as_the_json() -> None:
    commands = shell_commands(SOURCE or "")
    seen_stdio, seen_urls = set(), set()
    for argv in commands:
        if "--" in argv:
            seen_stdio.add(tuple(argv[argv.index("--") + 1 :]))
        seen_urls |= {arg for arg in argv if arg.startswith(("http://", "https://"))}
        for arg in argv:
            if arg.startswith("@modelcontextprotocol/inspector@"):
                assert arg.rsplit("@", 1)[1] == NPM_TOOLS["@modelcontextprotocol/inspector"], "pin the tested version"
    assert seen_stdio == set(STDIO_COMMANDS)
    assert seen_urls == {DEFAULT_URL}


def ports_env() -> tuple[int, dict[str, str]]:
    """The port the server will use, and the environment that moves it (and REST) off ports already taken."""
    env = {}
    port = DEFAULTS.port
    if not port_is_free(port):
        port = free_port()
        env["HMS_RECORDINGS_PORT"] = str(port)
    if DEFAULTS.rest_port is not None and not port_is_free(DEFAULTS.rest_port):
        env["HMS_RECORDINGS_REST_PORT"] = str(free_port())
    return port, env


async def list_and_call(client: Client) -> None:
    names = {tool.name for tool in (await client.list_tools()).tools}
    assert "hms-list-recordings" in names
    result = await client.call_tool("hms-list-recordings", {})
    assert result.is_error is False, result.content


@pytest.mark.parametrize("command", STDIO_COMMANDS, ids=lambda c: " ".join(c))
async def test_a_stdio_example_starts_the_server_with_exactly_its_arguments(command: tuple[str, ...]) -> None:
    _, env = ports_env()
    env["PATH"] = server_env()["PATH"]  # the venv's bin first: how a user who installed the project runs it
    assert shutil.which(command[0], path=env["PATH"]), f"{command[0]} is not on PATH"
    params = StdioServerParameters(command=command[0], args=list(command[1:]), env=env)
    with anyio.fail_after(CALL_TIMEOUT):
        async with Client(params) as client:
            await list_and_call(client)


@pytest.fixture(scope="module")
def documented_http_server() -> Iterator[str]:
    """The documented ``hms-recordings serve ...`` line, started as written; yields the URL to connect to."""
    lines = [argv for argv in shell_commands(SOURCE or "") if argv[:2] == ["hms-recordings", "serve"]]
    assert len(lines) == 1, f"expected one documented `hms-recordings serve` line, found {lines}"
    argv = lines[0]
    port, env = ports_env()
    command = [shutil.which(argv[0], path=server_env()["PATH"]) or argv[0], *argv[1:]]
    server, stop = start_server(command, port=port, env=server_env(env))
    try:
        assert server.url == f"http://{DEFAULTS.host}:{port}/mcp"
        yield server.url
    finally:
        stop()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_http_example_reaches_the_documented_server(
    documented_http_server: str, mode: Literal["legacy", "2026-07-28"]
) -> None:
    parts = urlsplit(DEFAULT_URL)
    url = urlunsplit(parts._replace(netloc=urlsplit(documented_http_server).netloc))
    with anyio.fail_after(CALL_TIMEOUT):
        async with Client(url, mode=mode) as client:
            await list_and_call(client)
