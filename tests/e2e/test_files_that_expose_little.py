"""Published files that expose little, served as ``serve`` serves them, over real sockets and the official client.

A file that consumes an API and exposes nothing (the format's shared consumes files) is served one MCP tool per
consumed operation; a file whose only expose is a control port is served as that port alone. Both are what
``validate`` says of them (issue 17: ``validate`` and ``serve`` agree).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters

from hms_recordings.cli import main
from tests.corpus.corpus import CORPUS
from tests.corpus.recording_upstream import recording_upstream

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CLI = [sys.executable, "-m", "hms_recordings.cli"]
#: naftiko/framework v1.0.0-alpha1, tutorial/shared: one consumed API, an apikey credential, no exposes.
CONSUMES_ONLY = CORPUS / "files/naftiko-v1.0.0-alpha1/src/main/resources/tutorial/shared/legacy-consumes.yaml"
#: naftiko/framework v1.0.0-alpha2, src/test/resources/control: a control port and nothing else.
CONTROL_ONLY = CORPUS / "files/naftiko-v1.0.0-alpha2/src/test/resources/control/control-capability.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_consumes_file_is_served_one_tool_per_operation_that_sends_its_request() -> None:
    with recording_upstream() as upstream:
        params = StdioServerParameters(
            command=sys.executable,
            args=[
                *CLI[1:],
                "serve",
                str(CONSUMES_ONLY),
                "--transport",
                "stdio",
                "--upstream",
                f"legacy={upstream.base}/x",
            ],
            env={"DOCKYARD_API_KEY": "dock-key-1", "PATH": os.environ.get("PATH", "")},
        )
        with anyio.fail_after(60):
            async with Client(params) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert list(tools) == ["legacy-list-vessels"]
                assert tools["legacy-list-vessels"].annotations is not None
                assert tools["legacy-list-vessels"].annotations.read_only_hint is True
                result = await client.call_tool("legacy-list-vessels", {"status": "docked"})
                assert result.is_error is False, result.content
        [request] = upstream.under("/x")
        assert (request.method, request.raw_path, request.query_string) == ("GET", "/x/vessels", "status=docked")
        assert request.header("x-dock-key") == "dock-key-1"


def test_validate_says_the_consumes_file_is_served_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(CONSUMES_ONLY)]) == 0
    out = capsys.readouterr().out
    assert "left out by the file, supplied by default (1, not errors):" in out
    assert "serves each consumed operation as an MCP tool" in out


async def test_a_file_with_only_a_control_port_serves_that_port_alone(tmp_path: Path) -> None:
    port, mcp_port = free_port(), free_port()
    copy = tmp_path / "control.yaml"
    copy.write_text(CONTROL_ONLY.read_text(encoding="utf-8").replace("port: 9199", f"port: {port}"), encoding="utf-8")
    process = subprocess.Popen(  # noqa: ASYNC220 - started once; its output is only read after it exits
        [*CLI, "serve", str(copy), "--port", str(mcp_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        with anyio.fail_after(20):
            while True:
                try:
                    async with httpx2.AsyncClient() as probe:
                        live = await probe.get(f"http://127.0.0.1:{port}/health/live")
                    break
                except httpx2.ConnectError:
                    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                    await anyio.sleep(0.1)
        assert live.json() == {"status": "live"}
        with pytest.raises(httpx2.ConnectError):  # no MCP face: the file declares none
            async with httpx2.AsyncClient() as probe:
                await probe.get(f"http://127.0.0.1:{mcp_port}/mcp")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert "control port on" in err.decode() + out.decode()
