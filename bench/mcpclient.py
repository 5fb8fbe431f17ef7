"""Raw load-generation clients: JSON-RPC over Streamable HTTP, over a stdio pipe, and the direct (floor) API client.

The SDK's ``Client`` costs more per call than the servers under test on this machine (reference §6), so the load
generator speaks the wire protocol itself, the same way for every contender:

* :class:`HttpMcpSession`: one keep-alive connection; ``initialize`` + ``notifications/initialized`` (2025-11-25),
  then ``Mcp-Session-Id`` (stateful servers) and ``MCP-Protocol-Version`` on every request;
  ``Accept: application/json, text/event-stream``; SSE answers are read from their ``data:`` lines.
* :class:`StdioMcpSession`: newline-delimited JSON-RPC over a child's stdin/stdout; several requests may be in flight,
  answers are matched by id.
* :class:`DirectSession`: the same upstream calls without MCP, straight to the emulator.

Every session offers ``list_recordings()``, ``start(room_id)`` and ``stop(room_id)`` and raises :class:`CallFailed`
when the answer is not a success.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any, Protocol

import httpx2

__all__ = [
    "MEETING_URL",
    "PROTOCOL_VERSION",
    "TOOL_NAMES",
    "CallFailed",
    "DirectSession",
    "HttpMcpSession",
    "Session",
    "StdioMcpSession",
    "initialize_params",
]

PROTOCOL_VERSION = "2025-11-25"
MEETING_URL = "https://bench.app.100ms.live/meeting/abc-defg-hij"
_LIMITS = httpx2.Limits(max_connections=1, max_keepalive_connections=1)


class CallFailed(RuntimeError):
    """A call answered with an error (JSON-RPC error, ``isError: true`` or an HTTP status >= 400)."""


class Session(Protocol):
    async def list_recordings(self) -> None: ...

    async def start(self, room_id: str) -> None: ...

    async def stop(self, room_id: str) -> None: ...

    async def aclose(self) -> None: ...


def initialize_params() -> dict[str, Any]:
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "hms-recordings-bench", "version": "1"},
    }


def _check_result(message: dict[str, Any]) -> dict[str, Any]:
    if "error" in message:
        raise CallFailed(f"JSON-RPC error: {message['error']}")
    result: dict[str, Any] = message["result"]
    if result.get("isError"):
        raise CallFailed(f"tool error: {json.dumps(result.get('content'))[:300]}")
    return result


#: Our tool names; a server that names them otherwise gives its own spelling (``tool_names``).
TOOL_NAMES = {name: name for name in ("hms-list-recordings", "hms-start-recording", "hms-stop-recording")}


class _McpTools:
    """The three tool calls, on top of a ``request(method, params)`` primitive."""

    names: dict[str, str] = TOOL_NAMES

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return _check_result(await self.request("tools/call", {"name": name, "arguments": arguments}))

    async def list_recordings(self) -> None:
        await self.call_tool(self.names["hms-list-recordings"], {})

    async def start(self, room_id: str) -> None:
        await self.call_tool(self.names["hms-start-recording"], {"room_id": room_id, "meeting_url": MEETING_URL})

    async def stop(self, room_id: str) -> None:
        await self.call_tool(self.names["hms-stop-recording"], {"room_id": room_id})


class HttpMcpSession(_McpTools):
    """One MCP client over Streamable HTTP with its own keep-alive connection."""

    def __init__(self, url: str, names: dict[str, str] | None = None) -> None:
        self.url = url
        self.names = names or TOOL_NAMES
        self.client = httpx2.AsyncClient(limits=_LIMITS, timeout=60, trust_env=False)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        self._next_id = 0
        self.session_id: str | None = None

    async def open(self) -> HttpMcpSession:
        response = await self._post(
            {"jsonrpc": "2.0", "id": self._id(), "method": "initialize", "params": initialize_params()}
        )
        result = _check_result(self._message(response))
        self.session_id = response.headers.get("mcp-session-id")
        if self.session_id:
            self.headers["Mcp-Session-Id"] = self.session_id
        self.headers["MCP-Protocol-Version"] = result["protocolVersion"]
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def _post(self, message: dict[str, Any]) -> httpx2.Response:
        response = await self.client.post(self.url, content=json.dumps(message).encode(), headers=self.headers)
        if response.status_code >= 400:
            raise CallFailed(f"HTTP {response.status_code}: {response.text[:300]}")
        return response

    @staticmethod
    def _message(response: httpx2.Response) -> dict[str, Any]:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in response.text.splitlines():
                if line.startswith("data:") and line[5:].strip():
                    message: dict[str, Any] = json.loads(line[5:])
                    if "result" in message or "error" in message:
                        return message
            raise CallFailed("the SSE stream ended without an answer")
        answer: dict[str, Any] = json.loads(response.content)
        return answer

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        message = {"jsonrpc": "2.0", "id": self._id(), "method": method, "params": params}
        return self._message(await self._post(message))

    async def aclose(self) -> None:
        if self.session_id:
            with contextlib.suppress(httpx2.HTTPError):
                await self.client.delete(self.url, headers=self.headers)
        await self.client.aclose()


class StdioMcpSession(_McpTools):
    """An MCP server started as a child process and spoken to over its stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process, names: dict[str, str] | None = None) -> None:
        self.process = process
        self.names = names or TOOL_NAMES
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def spawn(
        cls, argv: Sequence[str], env: dict[str, str], *, names: dict[str, str] | None = None, stderr: int | None = None
    ) -> StdioMcpSession:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL if stderr is None else stderr,
            env=env,
            limit=64 * 1024 * 1024,
        )
        return cls(process, names)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def initialize(self) -> dict[str, Any]:
        """The handshake; answers the ``initialize`` result (its arrival marks the end of a cold start)."""
        result = _check_result(await self.request("initialize", initialize_params()))
        await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            future = self._pending.pop(message.get("id"), None) if "id" in message else None
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CallFailed("the server closed its stdout"))

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return await asyncio.wait_for(future, 60)

    async def aclose(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class DirectSession:
    """The floor: the same upstream requests the servers make, sent straight to the emulator."""

    def __init__(self, api_url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.client = httpx2.AsyncClient(base_url=api_url, headers=headers, limits=_LIMITS, timeout=60, trust_env=False)

    async def _check(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            raise CallFailed(f"HTTP {response.status_code}: {response.text[:300]}")
        response.json()  # every server decodes the answer; so does the floor

    async def list_recordings(self) -> None:
        await self._check(await self.client.get("/recordings"))

    async def start(self, room_id: str) -> None:
        await self._check(
            await self.client.post(f"/recordings/room/{room_id}/start", json={"meeting_url": MEETING_URL})
        )

    async def stop(self, room_id: str) -> None:
        await self._check(await self.client.post(f"/recordings/room/{room_id}/stop", json={}))

    async def aclose(self) -> None:
        await self.client.aclose()
