"""The MCP Inspector CLI (pinned ``@modelcontextprotocol/inspector``) against our server, over HTTP and over stdio.

Each target runs the same four steps a user would try first: list the tools, call ``hms-list-recordings``, call a tool
with a bad argument, call a tool that does not exist. Inspector exit codes: 0 success, 5 when the call returned
``isError: true`` or named no served tool (the detail is a JSON ``{"error": {"code": ...}}`` on stderr).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest

from tests.clients.harness import NodeTools, RunningServer, console_script

pytestmark = [pytest.mark.node, pytest.mark.e2e]

CALL_TIMEOUT = 60.0
EXIT_TOOL_ERROR = 5


@dataclass(frozen=True)
class Target:
    """How the Inspector reaches our server: a URL (plus options), or a command it starts over stdio."""

    name: str
    url: str | None = None
    options: tuple[str, ...] = ()

    def argv(self, *inspector_options: str) -> list[str]:
        if self.url is not None:
            return [self.url, *self.options, *inspector_options]
        # `--` ends the Inspector's options: without it the Inspector takes our `--transport stdio` as its own flag
        # and starts `serve` without it (an HTTP server on 9090 that never answers on stdio).
        command = [str(console_script()), "serve", "--emulator", "--transport", "stdio"]
        return [*self.options, *inspector_options, "--", *command]


TARGETS = ("http", "http-modern-era", "http-stateless-json", "stdio", "stdio-modern-era")


@pytest.fixture(scope="module", params=TARGETS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    name: str = request.param
    # The Inspector's default for a one-off call is the 2025 initialize handshake; "modern" is the 2026-07-28 wire.
    options = ("--protocol-era", "modern") if name.endswith("-modern-era") else ()
    if name.startswith("stdio"):
        yield Target(name, None, options)
        return
    fixture = "stateless_json_server" if name == "http-stateless-json" else "http_server"
    server: RunningServer = request.getfixturevalue(fixture)
    yield Target(name, server.url, options)


def inspect(tools: NodeTools, target: Target, *options: str) -> subprocess.CompletedProcess[str]:
    return tools.run("mcp-inspector", "--cli", *target.argv(*options, "--format", "json"), timeout=CALL_TIMEOUT)


def result_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.strip(), f"no output; exit {done.returncode}, stderr:\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(done.stdout)["result"]
    return result


def inspector_error(done: subprocess.CompletedProcess[str]) -> str:
    """The Inspector's ``{"error": {"code": ...}}`` line on stderr (a stdio server's own stderr may surround it)."""
    for line in reversed(done.stderr.splitlines()):
        if line.startswith('{"error"'):
            code: str = json.loads(line)["error"]["code"]
            return code
    raise AssertionError(f"no error line on stderr:\n{done.stderr[-3000:]}")


@pytest.fixture(scope="module")
def listed(node_tools: NodeTools, target: Target) -> dict[str, dict[str, Any]]:
    done = inspect(node_tools, target, "--method", "tools/list")
    assert done.returncode == 0, done.stderr[-3000:]
    return {tool["name"]: tool for tool in result_of(done)["tools"]}


def test_the_inspector_lists_our_tools_with_object_input_schemas(listed: dict[str, dict[str, Any]]) -> None:
    assert {"hms-list-recordings", "hms-start-recording"} <= set(listed)
    assert all(tool["inputSchema"]["type"] == "object" for tool in listed.values())


def test_listing_recordings_succeeds_with_a_result_that_matches_the_published_output_schema(
    node_tools: NodeTools, target: Target, listed: dict[str, dict[str, Any]]
) -> None:
    done = inspect(node_tools, target, "--method", "tools/call", "--tool-name", "hms-list-recordings")
    assert done.returncode == 0, done.stderr[-3000:]
    result = result_of(done)
    assert result.get("isError") is False
    assert result["content"][0]["type"] == "text"
    jsonschema.validate(result["structuredContent"], listed["hms-list-recordings"]["outputSchema"])


def test_a_path_traversal_room_id_is_a_tool_error_naming_the_argument(node_tools: NodeTools, target: Target) -> None:
    done = inspect(
        node_tools,
        target,
        "--method",
        "tools/call",
        "--tool-name",
        "hms-start-recording",
        "--tool-arg",
        "room_id=../etc",
    )
    assert done.returncode == EXIT_TOOL_ERROR, done.stderr[-3000:]
    assert inspector_error(done) == "tool_is_error"
    result = result_of(done)
    assert result["isError"] is True
    assert result["structuredContent"]["error"]["kind"] == "invalid_arguments"
    assert "room_id" in result["structuredContent"]["error"]["fields"]
    assert result["content"][0]["text"].startswith("invalid_arguments: ")
    assert "room_id" in result["content"][0]["text"]


def test_calling_a_tool_we_do_not_serve_is_an_error(node_tools: NodeTools, target: Target) -> None:
    # The Inspector checks the name against tools/list itself; what our server answers (-32602) is checked with the
    # Python client in test_regressions.py.
    done = inspect(node_tools, target, "--method", "tools/call", "--tool-name", "hms-delete-everything")
    assert done.returncode == EXIT_TOOL_ERROR
    assert inspector_error(done) == "tool_not_found"
    assert not done.stdout.strip()


def test_the_inspectors_strict_schema_check_finds_no_error_in_our_tool_schemas(
    node_tools: NodeTools, http_server: RunningServer
) -> None:
    # --strict exits 6 on an error-severity portability problem (our output schemas only draw warnings, for
    # nullable `type: [..., "null"]` unions, which are legal JSON Schema).
    done = node_tools.run(
        "mcp-inspector", "--cli", http_server.url, "--method", "tools/list", "--strict", timeout=CALL_TIMEOUT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Error:" not in done.stderr
