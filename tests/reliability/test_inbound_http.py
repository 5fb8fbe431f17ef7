"""Inbound protection on the HTTP MCP face (issue 5): address policy, bearer token, Host/Origin, body size, malformed
JSON-RPC, and no inbound header ever forwarded upstream."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from hms_recordings.errors import ConfigError
from hms_recordings.server.middleware import transport_security
from hms_recordings.server.settings import ServeSettings
from tests.hosting import mcp_app

from .conftest import CANARY_SECRET, Harness, builtin_tools, free_port, new_room, serve_asgi

pytestmark = pytest.mark.anyio

TOKEN = "inbound-token-7d3c9a0e5b"  # what MCP clients present to us; never what we present upstream
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


# -- where we listen ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com"])
def test_a_non_loopback_address_without_a_token_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on .* HMS_RECORDINGS_AUTH_TOKEN .* --insecure"):
        ServeSettings.build(None, flags={"host": host}, env={})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_needs_no_token(host: str) -> None:
    assert ServeSettings.build(None, flags={"host": host}, env={}).auth_token is None


def test_a_token_or_an_explicit_insecure_flag_allows_other_addresses() -> None:
    with_token = ServeSettings.build(None, flags={"host": "0.0.0.0"}, env={"HMS_RECORDINGS_AUTH_TOKEN": TOKEN})
    assert with_token.bearer_token() == TOKEN
    assert TOKEN not in repr(with_token)
    assert ServeSettings.build(None, flags={"host": "0.0.0.0", "insecure": True}, env={}).insecure
    stdio = ServeSettings.build(None, flags={"host": "0.0.0.0", "transport": "stdio"}, env={})
    assert stdio.transport == "stdio"  # nothing listens on stdio


@pytest.mark.e2e
def test_serve_refuses_to_start_on_all_interfaces_without_a_token() -> None:
    cmd = [
        sys.executable,
        "-m",
        "hms_recordings.cli",
        "serve",
        "--emulator",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 3
    assert "refusing to listen on 0.0.0.0 without inbound authentication" in done.stderr
    assert done.stdout == ""


# -- an HTTP MCP server over the harness engine -------------------------------------------------------------------


@asynccontextmanager
async def mcp_http(h: Harness, **config: Any) -> AsyncIterator[tuple[str, httpx2.AsyncClient]]:
    app = mcp_app(h, ServeSettings(**config))
    async with serve_asgi(app) as base, httpx2.AsyncClient(base_url=base, headers=HEADERS, timeout=10) as raw:
        yield base, raw


async def mcp_session(raw: httpx2.AsyncClient, headers: dict[str, str] | None = None) -> dict[str, str]:
    """A legacy (2025-11-25) session opened by hand; returns the headers later requests need."""
    response = await raw.post("/mcp", json=INITIALIZE, headers=headers)
    assert response.status_code == 200, response.text
    session = {
        **(headers or {}),
        "Mcp-Session-Id": response.headers["mcp-session-id"],
        "MCP-Protocol-Version": "2025-11-25",
    }
    await raw.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
    return session


async def list_tools(raw: httpx2.AsyncClient, session: dict[str, str]) -> httpx2.Response:
    return await raw.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=session)


async def test_without_the_bearer_token_every_request_is_refused_with_401(h: Harness) -> None:
    async with mcp_http(h, host="0.0.0.0", auth_token=TOKEN, json_response=True) as (_, raw):
        for authorization in [
            None,
            "",
            "Bearer",
            f"Bearer {TOKEN}x",
            f"Bearer {TOKEN[:-1]}",
            f"Basic {TOKEN}",
            TOKEN,
            f"Bearer  {TOKEN}extra",
        ]:
            headers = {} if authorization is None else {"Authorization": authorization}
            response = await raw.post("/mcp", json=INITIALIZE, headers=headers)
            assert response.status_code == 401, authorization
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["error"] == "unauthorized"
            assert TOKEN not in response.text
        session = await mcp_session(raw, {"Authorization": f"Bearer {TOKEN}"})
        assert len((await list_tools(raw, session)).json()["result"]["tools"]) == len(builtin_tools())
    assert await h.requests() == []


async def test_the_bearer_scheme_is_case_insensitive(h: Harness) -> None:
    """Regression: RFC 7235 makes the auth-scheme case-insensitive; "bearer <token>" was refused."""
    async with mcp_http(h, host="0.0.0.0", auth_token=TOKEN, json_response=True) as (_, raw):
        for scheme in ("bearer", "BEARER", "Bearer"):
            assert (
                await raw.post("/mcp", json=INITIALIZE, headers={"Authorization": f"{scheme} {TOKEN}"})
            ).status_code == 200


async def test_host_and_origin_are_checked_also_when_not_on_loopback(h: Harness) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with mcp_http(h, host="0.0.0.0", auth_token=TOKEN, json_response=True) as (base, raw):
        port = base.rsplit(":", 1)[1]
        bad_host = await raw.post("/mcp", json=INITIALIZE, headers={**auth, "Host": "evil.example:80"})
        assert bad_host.status_code == 421
        no_port = await raw.post("/mcp", json=INITIALIZE, headers={**auth, "Host": "127.0.0.1"})
        assert no_port.status_code == 421
        for origin in ("http://evil.example", "null", f"http://evil.example:{port}"):
            bad_origin = await raw.post("/mcp", json=INITIALIZE, headers={**auth, "Origin": origin})
            assert bad_origin.status_code == 403, origin
        good = await raw.post("/mcp", json=INITIALIZE, headers={**auth, "Origin": f"http://127.0.0.1:{port}"})
        assert good.status_code == 200


def test_a_named_address_and_extra_hosts_are_the_only_ones_allowed() -> None:
    env = {"HMS_RECORDINGS_ALLOWED_HOSTS": "mcp.example.com, 10.0.0.7:9090", "HMS_RECORDINGS_AUTH_TOKEN": TOKEN}
    settings = transport_security(ServeSettings.build(None, flags={"host": "192.168.1.20"}, env=env))
    assert settings.enable_dns_rebinding_protection
    assert settings.allowed_hosts == [
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
        "192.168.1.20:*",
        "mcp.example.com:*",
        "10.0.0.7:9090",
    ]
    assert "https://mcp.example.com:*" in settings.allowed_origins
    assert not any(h == "*" or h.startswith("0.0.0.0") for h in settings.allowed_hosts)


async def test_a_body_over_one_mebibyte_is_refused_with_413_and_the_server_keeps_serving(h: Harness) -> None:
    async with mcp_http(h, json_response=True) as (_, raw):
        session = await mcp_session(raw)
        call = {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "hms-start-recording", "arguments": {"room_id": new_room(), "meeting_url": ""}},
        }
        padding = "x" * ServeSettings().max_request_bytes  # the default bound: 1 MiB
        call["params"]["arguments"]["meeting_url"] = "https://x.example/" + padding  # type: ignore[index]
        big = json.dumps(call).encode()
        assert (await raw.post("/mcp", content=big, headers=session)).status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must hold while streaming
            for start in range(0, len(big), 65_536):
                yield big[start : start + 65_536]

        assert (await raw.post("/mcp", content=chunks(), headers=session)).status_code == 413
        assert (await list_tools(raw, session)).status_code == 200
    assert await h.requests() == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{nope", "application/json", 400, -32700),
        (b"", "application/json", 400, -32700),
        (b"\xff\xfe\x00", "application/json", 400, -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}', "text/plain", 400, None),
        (b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]', "application/json", 400, None),
        (b'{"jsonrpc":"2.0","id":1}', "application/json", 400, None),
        (b'{"jsonrpc":"1.0","id":1,"method":"tools/list"}', "application/json", 400, None),
        (b'{"id":1,"method":"tools/list"}', "application/json", 400, None),
        (b"42", "application/json", 400, None),
        (b"null", "application/json", 400, None),
        (b'"tools/list"', "application/json", 400, None),
        # The SDK reads an object id as a notification with an extra member: accepted (202), nothing answered.
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', "application/json", 202, None),
        (b"[" * 100_000, "application/json", 400, -32700),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":' + b"[" * 5000 + b"]" * 5000 + b"}}",
            "application/json",
            400,
            -32700,
        ),
    ],
)
async def test_malformed_json_rpc_gets_a_clear_4xx_and_the_server_keeps_serving(
    h: Harness, body: bytes, content_type: str, status: int, code: int | None
) -> None:
    async with mcp_http(h, json_response=True) as (_, raw):
        session = await mcp_session(raw)
        with anyio.fail_after(10):
            response = await raw.post("/mcp", content=body, headers={**session, "Content-Type": content_type})
        assert response.status_code == status, response.text
        assert response.text or status == 202  # says what is wrong
        if code is not None:
            assert response.json()["error"]["code"] == code
        assert (await list_tools(raw, session)).status_code == 200
    assert await h.requests() == []


async def test_malformed_tool_calls_are_refused_and_reach_nothing(h: Harness) -> None:
    async with mcp_http(h, json_response=True) as (_, raw):
        session = await mcp_session(raw)
        calls: list[Any] = [
            {"name": "hms-start-recording", "arguments": "room_id"},
            {"name": "hms-start-recording", "arguments": [new_room()]},
            {"name": "hms-start-recording"},
            {"name": 7, "arguments": {}},
            {"name": "no-such-tool", "arguments": {}},
            {"name": "hms-start-recording", "arguments": {"room_id": "../../recordings"}},
            {"arguments": {"room_id": new_room()}},
        ]
        for i, params in enumerate(calls):
            message = {"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call", "params": params}
            response = await raw.post("/mcp", json=message, headers=session)
            assert response.status_code in (200, 400), response.text
            answer = response.json()
            assert "error" in answer or answer["result"]["isError"] is True, answer
        assert (await list_tools(raw, session)).status_code == 200
    assert await h.requests() == []


async def test_inbound_headers_are_never_forwarded_upstream(h: Harness) -> None:
    inbound = {
        "Authorization": f"Bearer {TOKEN}",
        "Cookie": "session=inbound-cookie-4f2a",
        "X-Forwarded-For": "203.0.113.9",
        "X-Api-Key": "inbound-api-key-8b1c",
        "X-Custom-Trace": "inbound-trace-5e6d",
        "User-Agent": "inbound-agent/1.0",
    }
    async with (
        mcp_http(h, host="0.0.0.0", auth_token=TOKEN) as (base, _),
        httpx2.AsyncClient(headers=inbound, timeout=10) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
    ):
        room = new_room()
        started = await client.call_tool("hms-start-recording", {"room_id": room})
        assert not started.is_error
        assert not (await client.call_tool("hms-list-recordings", {"room_id": room})).is_error
    assert len(h.spy.seen) == 3  # the start's look at the room, the start, the list
    for headers in h.spy.seen:
        assert set(headers) <= {
            "host",
            "accept",
            "accept-encoding",
            "connection",
            "user-agent",
            "authorization",
            "content-length",
            "content-type",
        }
        assert headers["user-agent"] == "hms-recordings"
        assert headers["authorization"].startswith("Bearer eyJ")  # the management token minted by the server
        text = json.dumps(headers)
        for value in inbound.values():
            assert value.split(" ")[-1] not in text
        assert CANARY_SECRET not in text
