"""The benchmark's reference: a hand-written MCP server on the same SDK, with the same upstream HTTP client.

    python bench/handwritten_server.py --upstream http://127.0.0.1:8765/v2 [--port 9100] [--stateless] [--json-response]
    python bench/handwritten_server.py --upstream http://127.0.0.1:8765/v2 --stdio

Three tools, named as ours (``hms-list-recordings``, ``hms-start-recording``, ``hms-stop-recording``), each one
upstream call through one shared ``httpx2.AsyncClient`` carrying ``Authorization: Bearer $HMS_MANAGEMENT_TOKEN``.
It is what a careful engineer would write by hand in a few minutes: typed arguments with the room-id pattern, upstream
errors as ``ToolError``, the upstream JSON returned as it is. Its transports, flags and uvicorn settings match
``hms-recordings serve`` so that the difference between the two is the capability runtime and nothing else.
"""

from __future__ import annotations

import argparse
import os
from typing import Annotated, Any

import anyio
import httpx2
import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

RoomId = Annotated[str, Field(pattern=r"^[0-9a-f]{24}$", description="Room id, 24 hex characters.")]


def build_server(client: httpx2.AsyncClient) -> MCPServer:
    """One server whose tools share ``client`` (created once per process, as ours does)."""
    mcp = MCPServer("handwritten", version="0.0.1", log_level="WARNING")

    async def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await client.request(method, path, json=body)
        if response.status_code >= 400:
            raise ToolError(f"upstream answered {response.status_code}: {response.text[:300]}")
        data: dict[str, Any] = response.json()
        return data

    @mcp.tool(name="hms-list-recordings", annotations=ToolAnnotations(read_only_hint=True))
    async def list_recordings() -> dict[str, Any]:
        """List recordings, newest first."""
        return await call("GET", "/recordings")

    @mcp.tool(name="hms-start-recording")
    async def start_recording(room_id: RoomId, meeting_url: str | None = None) -> dict[str, Any]:
        """Start a composite recording of a room."""
        return await call("POST", f"/recordings/room/{room_id}/start", {"meeting_url": meeting_url})

    @mcp.tool(name="hms-stop-recording")
    async def stop_recording(room_id: RoomId) -> dict[str, Any]:
        """Stop every active recording of a room."""
        return await call("POST", f"/recordings/room/{room_id}/stop", {})

    return mcp


async def serve(args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {os.environ['HMS_MANAGEMENT_TOKEN']}", "Accept": "application/json"}
    async with httpx2.AsyncClient(base_url=args.upstream, headers=headers, timeout=30, trust_env=False) as client:
        mcp = build_server(client)
        if args.stdio:
            await mcp.run_stdio_async()
            return
        app = mcp.streamable_http_app(host=args.host, stateless_http=args.stateless, json_response=args.json_response)
        config = uvicorn.Config(
            app, host=args.host, port=args.port, log_level="warning", lifespan="on", log_config=None, access_log=False
        )
        await uvicorn.Server(config).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="the emulator's API base, e.g. http://127.0.0.1:8765/v2")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--stateless", action="store_true")
    parser.add_argument("--json-response", action="store_true")
    anyio.run(serve, parser.parse_args())


if __name__ == "__main__":
    main()
