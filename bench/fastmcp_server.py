"""The nearest peer: FastMCP 4 serving the emulator's OpenAPI document through its OpenAPI integration.

    python bench/fastmcp_server.py --upstream http://127.0.0.1:8765/v2 [--port 9200] [--stateless] [--json-response]
    python bench/fastmcp_server.py --upstream http://127.0.0.1:8765/v2 --stdio

At start it reads ``/openapi.json`` from the emulator (as a user pointing FastMCP at an API would) and builds one tool
per operation with ``FastMCP.from_openapi``, calling the API through one ``httpx2.AsyncClient`` that carries
``Authorization: Bearer $HMS_MANAGEMENT_TOKEN``. The three operations the benchmark calls are given our tool names
(``mcp_names``), which FastMCP slugifies (``hms_list_recordings``: hyphens become underscores, see ``TOOL_NAMES``);
nothing else is tuned.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from fastmcp import FastMCP

#: operationId in the emulator's OpenAPI document -> the name asked for (FastMCP turns "-" into "_").
MCP_NAMES = {
    "listRecordings": "hms-list-recordings",
    "startRecordingForRoom": "hms-start-recording",
    "stopRecordingsForRoom": "hms-stop-recording",
}
#: Our tool name -> the name this server publishes, for the load generator.
TOOL_NAMES = {name: name.replace("-", "_") for name in MCP_NAMES.values()}


def build_server(upstream: str, token: str) -> FastMCP:
    from fastmcp import FastMCP  # here, so that the load generator can read TOOL_NAMES without importing FastMCP

    root = upstream.rstrip("/").removesuffix("/v2")
    spec = httpx2.get(f"{root}/openapi.json", timeout=10, trust_env=False).raise_for_status().json()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    client = httpx2.AsyncClient(base_url=upstream, headers=headers, timeout=30, trust_env=False)
    return FastMCP.from_openapi(spec, client=client, name="fastmcp-openapi", mcp_names=MCP_NAMES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="the emulator's API base, e.g. http://127.0.0.1:8765/v2")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--stateless", action="store_true")
    parser.add_argument("--json-response", action="store_true")
    args = parser.parse_args()
    mcp = build_server(args.upstream, os.environ["HMS_MANAGEMENT_TOKEN"])
    if args.stdio:
        mcp.run("stdio", show_banner=False, log_level="WARNING")
        return
    mcp.run(
        "http",
        show_banner=False,
        host=args.host,
        port=args.port,
        log_level="WARNING",
        stateless_http=args.stateless,
        json_response=args.json_response,
        uvicorn_config={"access_log": False},
    )


if __name__ == "__main__":
    main()
