"""Real ``serve`` processes for the deployment tests: started as an operator starts them, read through their logs.

Each process writes its stderr (banner and JSON log lines) to a file, never a pipe: a busy server logging one line
per call would fill a pipe nobody reads and stall. Who answered a call is read from that log (``pid`` of each
``hms_recordings.calls`` line), not from anything the server was changed to report for a test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp.server.context import ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

from hms_recordings.hms.tokens import AppCredentials, mint_management_token

__all__ = [
    "CLI",
    "MODERN",
    "ServeProcess",
    "free_port",
    "mint_request_state",
    "modern_call",
    "server_env",
]

CLI = [sys.executable, "-m", "hms_recordings.cli"]
MODERN = "2026-07-28"
_BANNER = re.compile(r"hms-recordings: MCP on http://127\.0\.0\.1:(\d+)/mcp")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    """The process environment with a management token the test's emulator accepts."""
    return {**os.environ, "HMS_MANAGEMENT_TOKEN": mint_management_token(AppCredentials.development()), **extra}


@dataclass
class ServeProcess:
    """One ``hms-recordings serve ...`` process and its log file."""

    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=server_env)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # started once, watched through its log file
                [*CLI, "serve", *self.args], env=self.env, stdout=subprocess.DEVNULL, stderr=out
            )
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def port(self, within: float = 60) -> int:
        """The MCP port its banner names (the banner is printed once every port is taken)."""
        with anyio.fail_after(within):
            while True:
                found = _BANNER.search(self.text())
                if found:
                    return int(found.group(1))
                assert self.alive(), f"serve exited early:\n{self.text()}"
                await anyio.sleep(0.05)

    async def ready(self, port: int, within: float = 30) -> None:
        """Until ``/health/ready`` answers 200."""
        async with httpx2.AsyncClient() as http:
            with anyio.fail_after(within):
                while True:
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200:
                            return
                    except httpx2.TransportError:
                        pass
                    assert self.alive(), f"serve exited early:\n{self.text()}"
                    await anyio.sleep(0.05)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def exit_code(self, within: float = 60) -> int:
        assert self.process is not None
        with anyio.fail_after(within):
            while self.process.poll() is None:  # noqa: ASYNC110 - bounded polling: a process offers no event
                await anyio.sleep(0.05)
        return self.process.returncode

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines (the banner lines are not JSON and are left out)."""
        out = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def calls_per_pid(self) -> Counter[int]:
        """How many tool calls each process of this server finished, from the call log."""
        return Counter(int(e["pid"]) for e in self.log_lines() if e["logger"] == "hms_recordings.calls")


def _meta() -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "deploy-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }


async def modern_call(
    http: httpx2.AsyncClient, url: str, name: str, arguments: dict[str, Any], *, request_state: str | None = None
) -> dict[str, Any]:
    """One 2026-07-28 ``tools/call`` as raw JSON-RPC (the SDK client does not let a caller set ``requestState``)."""
    params: dict[str, Any] = {"name": name, "arguments": arguments, "_meta": _meta()}
    if request_state is not None:
        params["requestState"] = request_state
    response = await http.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params},
        headers={
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/call",
            "Mcp-Name": name,
        },
    )
    assert response.status_code in (200, 400), response.text
    body: dict[str, Any] = response.json()
    return body


async def mint_request_state(key: str, audience: str, name: str, arguments: dict[str, Any]) -> str:
    """A ``requestState`` for ``tools/call name(arguments)`` sealed by the SDK's own boundary under ``key``, as a
    replica whose handler asked for input would have sealed it."""
    boundary = RequestStateBoundary(RequestStateSecurity(keys=[key]), default_audience=audience)
    params = {"name": name, "arguments": arguments}
    ctx: ServerRequestContext[Any, Any] = ServerRequestContext(
        session=None,  # type: ignore[arg-type]  # sealing reads only the method, params and principal
        lifespan_context=None,
        protocol_version=MODERN,
        method="tools/call",
        params=params,
    )

    async def handler(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
        return {"resultType": "input_required", "inputRequests": {}, "requestState": "round-1"}

    result = await boundary(ctx, handler)
    assert isinstance(result, dict)
    sealed: str = result["requestState"]
    assert sealed != "round-1"
    return sealed
