"""Hosted for a team: OAuth access tokens on the MCP and REST faces, scopes per tool, per-caller limits, the audit.

Everything runs over real sockets: the issuer stand-in (tests/oauth/issuer.py) serves real JWKS and metadata from
keys made here, the MCP and REST faces are served by uvicorn as ``serve`` serves them, and the upstream is the
emulator (wrapped to send an ``X-Request-Id``, so that the audit trail has one to keep).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms_recordings.cli import main as cli_main
from hms_recordings.errors import ConfigError
from hms_recordings.server.audit import AuditStore
from hms_recordings.server.gate import Access, open_access
from hms_recordings.server.ratelimit import TokenBuckets
from hms_recordings.server.serve import Hosted, mcp_face, rest_face
from hms_recordings.server.settings import ServeSettings
from tests.oauth.issuer import Issuer, SigningKey
from tests.reliability.conftest import free_port, serve_asgi
from tests.rig import Rig, compiled_tools, make_rig

pytestmark = pytest.mark.anyio

AUDIENCE = "https://recordings.example.test"
ROOM = "6a10aa2d3e4f5a6b7c8d9e01"
READ, WRITE, AUDIT = "recordings:read", "recordings:write", "recordings:audit"
#: The built-in's tools a read-only token sees: every read-only tool but the audit one (its own scope).
READ_TOOLS = {name for name, tool in compiled_tools().items() if tool.read_only} - {"hms-list-audit-events"}
KEY = SigningKey.generate("key-1")


class UpstreamRequestIds:
    """The emulator answering with an ``X-Request-Id`` per request, as many APIs do (100ms documents none)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.count += 1
        rid = f"upstream-{self.count}".encode()

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid)]}
            await send(message)

        await self.app(scope, receive, tagged)


@dataclass
class Team:
    issuer: Issuer
    rig: Rig
    audit: AuditStore
    access: Access
    mcp: str  # http://127.0.0.1:<port>/mcp
    rest: str  # http://127.0.0.1:<port>
    db: Path

    def token(self, scope: str, **claims: Any) -> str:
        return self.issuer.token(KEY, scope=scope, **claims)

    def events(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.audit.query(limit=200)]


@asynccontextmanager
async def team_server(tmp_path: Path, *, buckets: TokenBuckets | None = None, **settings: Any) -> AsyncIterator[Team]:
    issuer = Issuer(AUDIENCE, published=[KEY])
    db = tmp_path / "events.sqlite3"
    audit = AuditStore(db)
    async with serve_asgi(issuer.app()) as issuer_url:
        issuer.url = issuer_url
        mcp_port, rest_port = free_port(), free_port()
        config = ServeSettings(
            port=mcp_port,
            rest_port=rest_port,
            oauth_issuer=issuer_url,
            oauth_audience=AUDIENCE,
            events_db=str(db),
            **settings,
        )
        access = open_access(config)
        assert access is not None
        if buckets is not None:
            access.buckets = buckets
        async with make_rig(wrap=UpstreamRequestIds, observers=[audit]) as rig:
            service = rig.service
            hosted = Hosted(service, [service], [service.inventory.capability], access=access)
            async with (
                serve_asgi(mcp_face(hosted, config), mcp_port) as mcp_base,
                serve_asgi(rest_face(hosted, config), rest_port) as rest_base,
            ):
                yield Team(issuer, rig, audit, access, f"{mcp_base}/mcp", rest_base, db)
        await access.aclose()
    audit.close()


@asynccontextmanager
async def mcp_client(url: str, token: str | None, mode: Any = "legacy") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=10) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


async def rpc(url: str, token: str | None, method: str, params: dict[str, Any]) -> httpx2.Response:
    """One stateless-style JSON-RPC POST (initialize first when the server keeps sessions)."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        first = await http.post(url, json=init)
        if first.status_code != 200:
            return first
        session = first.headers.get("mcp-session-id")
        if session:
            http.headers["mcp-session-id"] = session
            http.headers["mcp-protocol-version"] = "2025-11-25"
        await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        return await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})


def challenge_fields(response: httpx2.Response) -> dict[str, str]:
    scheme, _, rest = response.headers["www-authenticate"].partition(" ")
    assert scheme == "Bearer"
    fields: dict[str, str] = {}
    for part in rest.split('", '):
        name, _, value = part.partition("=")
        fields[name.strip()] = value.strip().strip('"')
    return fields


# --------------------------------------------------------------------------------------------------- scopes


async def test_a_read_only_caller_sees_and_calls_only_read_tools_over_mcp(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, mcp_client(team.mcp, team.token(READ)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == READ_TOOLS
        listed = await client.call_tool("hms-list-recordings", {"room_id": ROOM})
        assert not listed.is_error
        refused = await rpc(
            team.mcp, team.token(READ), "tools/call", {"name": "hms-start-recording", "arguments": {"room_id": ROOM}}
        )
        assert refused.status_code == 403
        fields = challenge_fields(refused)
        assert fields["error"] == "insufficient_scope" and fields["scope"] == WRITE
        assert fields["resource_metadata"] == team.mcp.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
        assert refused.json()["error"] == "insufficient_scope"
        assert team.events() == []  # refused before it ran: nothing started, nothing audited
        assert team.rig.active_per_room() == {}


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_official_mcp_client_is_refused_a_tool_beyond_its_scopes(tmp_path: Path, mode: str) -> None:
    # Without an OAuth provider to step up with, the SDK's client reports the HTTP 403 as a failed request.
    async with team_server(tmp_path) as team, mcp_client(team.mcp, team.token(READ), mode) as client:
        assert {t.name for t in (await client.list_tools()).tools} == READ_TOOLS
        with pytest.raises(MCPError, match="Server returned an error response"):
            await client.call_tool("hms-start-recording", {"room_id": ROOM})
        assert team.rig.active_per_room() == {} and team.events() == []
        assert not (await client.call_tool("hms-list-recordings", {})).is_error  # the session goes on


async def test_a_writers_start_is_in_the_audit_log_with_its_subject(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team:
        token = team.token(f"{READ} {WRITE}", sub="bob@example.test", client_id="claude-desktop")
        async with mcp_client(team.mcp, token) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "hms-start-recording" in names and "hms-list-audit-events" not in names
            started = await client.call_tool(
                "hms-start-recording",
                {"room_id": ROOM, "meeting_url": "https://app.example.test/meet/abc?token=secret-meeting-token-42"},
            )
            assert not started.is_error, started.content
            recording = started.structured_content["id"]  # type: ignore[index]
            [event] = team.events()
        assert event["subject"] == "bob@example.test" and event["client"] == "claude-desktop"
        assert event["tool"] == "hms-start-recording" and event["face"] == "mcp" and event["outcome"] == "ok"
        assert event["room_id"] == ROOM and event["recording_id"] == recording
        assert event["upstream_request_ids"] and event["upstream_request_ids"][0].startswith("upstream-")
        assert event["arguments"]["meeting_url"] == "https://app.example.test/meet/abc?[redacted]"
        raw = team.db.read_bytes() + (tmp_path / "events.sqlite3-wal").read_bytes()
        assert b"secret-meeting-token-42" not in raw and token.encode() not in raw  # nothing secret written
        # The caller's token never travels upstream: the emulator saw only the server's own credential.
        for headers in team.rig.spy.seen:
            assert token not in json.dumps(headers)


async def test_rest_refuses_a_write_without_the_scope_and_audits_a_write_with_it(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(base_url=team.rest, timeout=10) as http:
        reader = {"Authorization": f"Bearer {team.token(READ)}"}
        assert (await http.get("/recordings", headers=reader)).status_code == 200
        refused = await http.post(f"/rooms/{ROOM}/recording/start", headers=reader, json={})
        assert refused.status_code == 403
        assert refused.json()["kind"] == "insufficient_scope"
        fields = challenge_fields(refused)
        assert fields["error"] == "insufficient_scope" and fields["scope"] == WRITE
        assert fields["resource_metadata"] == f"{team.rest}/.well-known/oauth-protected-resource"
        assert team.events() == [] and team.rig.active_per_room() == {}
        writer = {"Authorization": f"Bearer {team.token(f'{READ} {WRITE}', sub='carol')}"}
        started = await http.post(f"/rooms/{ROOM}/recording/start", headers=writer, json={})
        assert started.status_code == 200, started.text
        [event] = team.events()
        assert (event["subject"], event["face"], event["tool"], event["outcome"]) == (
            "carol",
            "rest",
            "hms-start-recording",
            "ok",
        )
        stopped = await http.post(f"/rooms/{ROOM}/recording/stop", headers=writer, json={})
        assert stopped.status_code == 200
        assert [e["tool"] for e in team.events()] == ["hms-stop-recording", "hms-start-recording"]


async def test_the_audit_tool_is_for_the_audit_scope_only(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(base_url=team.rest, timeout=10) as http:
        writer = {"Authorization": f"Bearer {team.token(f'{READ} {WRITE}', sub='dave')}"}
        assert (await http.post(f"/rooms/{ROOM}/recording/start", headers=writer, json={})).status_code == 200
        refused = await http.get("/audit-events", headers=writer)
        assert refused.status_code == 403 and challenge_fields(refused)["scope"] == AUDIT
        auditor = team.token(AUDIT, sub="erin")
        page = await http.get("/audit-events", headers={"Authorization": f"Bearer {auditor}"})
        assert page.status_code == 200
        assert [(e["subject"], e["tool"]) for e in page.json()["events"]] == [("dave", "hms-start-recording")]
        async with mcp_client(team.mcp, auditor) as client:
            assert {t.name for t in (await client.list_tools()).tools} == {"hms-list-audit-events"}
            result = await client.call_tool("hms-list-audit-events", {"room_id": ROOM})
            assert [e["subject"] for e in result.structured_content["events"]] == ["dave"]  # type: ignore[index]
            with pytest.raises(MCPError, match="needs the scope recordings:read"):
                await client.read_resource("hms://recordings/6a10aa2d3e4f5a6b7c8d9e0f")  # resources are reads
        assert len(team.events()) == 1  # reading the trail is not itself an action


async def test_the_audit_command_reads_the_trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(base_url=team.rest, timeout=10) as http:
        writer = {"Authorization": f"Bearer {team.token(f'{READ} {WRITE}', sub='frank')}"}
        assert (await http.post(f"/rooms/{ROOM}/recording/start", headers=writer, json={})).status_code == 200
        monkeypatch.setenv("HMS_RECORDINGS_EVENTS_DB", str(team.db))
        assert cli_main(["audit", "--json", "--room", ROOM, "--since", "1h"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(e["subject"], e["tool"], e["room_id"]) for e in lines] == [("frank", "hms-start-recording", ROOM)]
        assert cli_main(["audit", "--room", "6a10aa2d3e4f5a6b7c8d9eff"]) == 0
        assert capsys.readouterr().out == ""
        assert cli_main(["audit"]) == 0
        [line] = capsys.readouterr().out.splitlines()
        assert "frank (agent-1)  hms-start-recording" in line and f"room_id={ROOM}" in line and "via rest" in line


# --------------------------------------------------------------------------------------------------- bad tokens


def _bad_tokens(issuer: Issuer) -> dict[str, str | None]:
    stranger = SigningKey.generate("key-1")  # same key id, other key: the signature cannot verify
    unknown = SigningKey.generate("key-unknown")
    return {
        "missing": None,
        "expired": issuer.token(KEY, lifetime=-120),  # beyond the 30 s leeway
        "wrong audience": issuer.token(KEY, aud="https://other.example.test"),
        "wrong issuer": issuer.token(KEY, iss="https://evil.example.test"),
        "not yet valid": issuer.token(KEY, nbf=int(time.time()) + 600),
        "unknown key": issuer.token(unknown),
        "forged signature": issuer.token(stranger),
        "not a jwt": "definitely-not-a-jwt",
        "no subject": issuer.token(KEY, sub=None),
    }


EXPECTED = {
    "missing": None,
    "expired": "the token has expired",
    "wrong audience": "the token was issued for another audience",
    "wrong issuer": "the token was issued by another issuer",
    "not yet valid": "the token is not valid yet (nbf)",
    "unknown key": "the token is signed with a key the issuer does not publish",
    "forged signature": "the token's signature does not verify",
    "not a jwt": "the token is not a JWT",
    "no subject": "the token has no sub claim",
}


async def test_every_bad_token_is_refused_with_the_challenge_on_both_faces(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(timeout=10) as http:
        for case, token in _bad_tokens(team.issuer).items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answers = {
                "mcp": await rpc(team.mcp, token, "tools/list", {}),
                "rest": await http.get(f"{team.rest}/recordings", headers=headers),
            }
            for face, response in answers.items():
                assert response.status_code == 401, (case, face, response.text)
                fields = challenge_fields(response)
                base = team.mcp.replace("/mcp", "") if face == "mcp" else team.rest
                suffix = "/mcp" if face == "mcp" else ""
                assert fields["resource_metadata"] == f"{base}/.well-known/oauth-protected-resource{suffix}", case
                assert fields["scope"] == READ, case
                if EXPECTED[case] is None:
                    assert "error" not in fields, case  # RFC 6750 §3.1: no error code when no token was sent
                else:
                    assert fields["error"] == "invalid_token", case
                    assert fields["error_description"] == EXPECTED[case], (case, face)
                assert token is None or token not in response.text
        assert team.rig.active_per_room() == {} and team.events() == []


async def test_the_protected_resource_metadata_names_the_issuer_and_every_scope(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(timeout=10) as http:
        mcp_doc = (await http.get(team.mcp.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))).json()
        assert mcp_doc["resource"] == team.mcp
        assert mcp_doc["authorization_servers"] == [team.issuer.url]
        assert mcp_doc["scopes_supported"] == [AUDIT, READ, WRITE]
        assert mcp_doc["bearer_methods_supported"] == ["header"]
        rest_doc = (await http.get(f"{team.rest}/.well-known/oauth-protected-resource")).json()
        assert rest_doc["resource"] == team.rest


# --------------------------------------------------------------------------------------------------- keys


async def test_a_rotated_key_is_fetched_once_and_the_retired_one_is_refused(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(timeout=10) as http:
        old = {"Authorization": f"Bearer {team.token(READ)}"}
        for _ in range(3):
            assert (await http.get(f"{team.rest}/recordings", headers=old)).status_code == 200
        assert team.issuer.jwks_fetches == 1  # cached
        rotated = SigningKey.generate("key-2")
        team.issuer.published = [rotated]
        new = {"Authorization": f"Bearer {team.issuer.token(rotated)}"}
        assert (await http.get(f"{team.rest}/recordings", headers=new)).status_code == 200
        assert team.issuer.jwks_fetches == 2  # the unknown key id made it fetch again
        retired = await http.get(f"{team.rest}/recordings", headers=old)
        assert retired.status_code == 401  # key-1 is gone from the fetched set
        # Tokens naming made-up key ids cannot make the server hammer the issuer: one refetch per interval (30 s).
        for i in range(5):
            forged = SigningKey.generate(f"made-up-{i}")
            answer = await http.get(
                f"{team.rest}/recordings", headers={"Authorization": f"Bearer {team.issuer.token(forged)}"}
            )
            assert answer.status_code == 401
        assert team.issuer.jwks_fetches == 2


async def test_the_keys_are_found_through_rfc_8414_metadata_when_there_is_no_openid_document(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(timeout=10) as http:
        team.issuer.openid = False
        team.access.verifier.keys.jwks_url = None  # not fetched yet: discovery runs on the first token
        answer = await http.get(f"{team.rest}/recordings", headers={"Authorization": f"Bearer {team.token(READ)}"})
        assert answer.status_code == 200
        assert team.access.verifier.keys.jwks_url == f"{team.issuer.url}/jwks"


# --------------------------------------------------------------------------------------------------- limits


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_per_caller_rate_limit_refuses_at_its_edge_and_says_when_to_retry(tmp_path: Path) -> None:
    clock = ManualClock()
    buckets = TokenBuckets(60, 3, clock=clock)  # one call a second, three at once
    async with team_server(tmp_path, buckets=buckets) as team, httpx2.AsyncClient(timeout=10) as http:
        alice = {"Authorization": f"Bearer {team.token(READ, sub='alice')}"}
        bob = {"Authorization": f"Bearer {team.token(READ, sub='bob')}"}
        for _ in range(3):
            assert (await http.get(f"{team.rest}/recordings", headers=alice)).status_code == 200
        refused = await http.get(f"{team.rest}/recordings", headers=alice)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["kind"] == "caller_rate_limited" and refused.json()["retry_after"] == 1
        assert (await http.get(f"{team.rest}/recordings", headers=bob)).status_code == 200  # per caller
        mcp_refused = await rpc(
            team.mcp, team.token(READ, sub="alice"), "tools/call", {"name": "hms-list-recordings", "arguments": {}}
        )
        assert mcp_refused.status_code == 429 and mcp_refused.headers["retry-after"] == "1"
        clock.now += 1.0
        assert (await http.get(f"{team.rest}/recordings", headers=alice)).status_code == 200
        assert (await http.get(f"{team.rest}/recordings", headers=alice)).status_code == 429


# --------------------------------------------------------------------------------------------------- settings


def test_the_issuer_and_the_audience_go_together_and_exclude_the_static_token() -> None:
    with pytest.raises(ConfigError, match="go together"):
        ServeSettings(oauth_issuer="https://issuer.example.test")
    with pytest.raises(ConfigError, match="set one"):
        ServeSettings(oauth_issuer="https://issuer.example.test", oauth_audience=AUDIENCE, auth_token="x" * 20)
    assert ServeSettings(host="10.0.0.5", oauth_issuer="https://issuer.example.test", oauth_audience=AUDIENCE).oauth
    with pytest.raises(ConfigError, match="https"):
        open_access(ServeSettings(oauth_issuer="http://issuer.example.test", oauth_audience=AUDIENCE))


def test_several_files_are_refused_with_oauth_rather_than_served_without_it() -> None:
    from hms_recordings.capability.loader import BUILTIN_CAPABILITY
    from hms_recordings.server.multi import plan_serving

    env = {"HMS_RECORDINGS_OAUTH_ISSUER": "https://issuer.example.test", "HMS_RECORDINGS_OAUTH_AUDIENCE": AUDIENCE}
    with pytest.raises(ConfigError, match="one capability file per process"):
        plan_serving({"files": [str(BUILTIN_CAPABILITY), str(BUILTIN_CAPABILITY)]}, env=env)


# --------------------------------------------------------------------------------------------------- x-scopes


def test_scopes_come_from_x_scopes_else_from_the_read_only_hint(tmp_path: Path) -> None:
    from hms_recordings.capability.loader import load_file
    from hms_recordings.errors import CapabilityError
    from hms_recordings.runtime.access import ScopePolicy

    policy = ScopePolicy(READ, WRITE)
    tools = compiled_tools()
    assert policy.required(tools["hms-list-audit-events"]) == {AUDIT}  # the built-in's x-scopes
    assert policy.required(tools["hms-get-recording"]) == {READ}
    assert policy.required(tools["hms-pause-recording"]) == {WRITE}
    builtin = Path(__file__).parents[2] / "src/hms_recordings/capability/builtin/recordings.yaml"
    text = builtin.read_text(encoding="utf-8")
    overridden = text.replace(
        "    - name: hms-pause-recording\n", "    - name: hms-pause-recording\n      x-scopes: [rooms:pause, ops]\n"
    )
    (tmp_path / "pause.yaml").write_text(overridden, encoding="utf-8")
    pause = compiled_tools(load_file(tmp_path / "pause.yaml"))["hms-pause-recording"]
    assert policy.required(pause) == {"rooms:pause", "ops"}
    (tmp_path / "bad.yaml").write_text(overridden.replace("[rooms:pause, ops]", '["two words"]'), encoding="utf-8")
    with pytest.raises(CapabilityError, match="a scope is a name without spaces"):
        load_file(tmp_path / "bad.yaml")


async def test_a_refused_callers_problem_type_resolves_without_a_token_on_both_faces(tmp_path: Path) -> None:
    async with team_server(tmp_path) as team, httpx2.AsyncClient(timeout=10) as http:
        refused = await http.get(f"{team.rest}/recordings")
        kind = refused.json()["type"]
        pages = {base: await http.get(f"{base}{kind}") for base in (team.rest, team.mcp.removesuffix("/mcp"))}
        index = await http.get(f"{team.rest}/problems")
    assert refused.status_code == 401 and kind.startswith("/problems/")
    assert all(page.status_code == 200 and "What to do" in page.text for page in pages.values()), pages
    assert index.status_code == 200
