"""Stateful MCP sessions are bounded per client and in all, and a newcomer is served when every session is taken.

Driven through the MCP face exactly as ``serve`` builds it (guarded, the SDK's session manager behind
:class:`~hms_recordings.server.middleware.SessionFairness`), in process: each client is a remote address given to
the ASGI transport, as uvicorn gives it from the socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.faces.mcp import build_mcp_server, mcp_http_app
from hms_recordings.runtime.access import PRINCIPAL_KEY, Principal
from hms_recordings.server.middleware import SessionFairness, transport_security
from hms_recordings.server.settings import ServeSettings
from tests.hosting import BASE, mcp_app
from tests.rig import Rig, make_rig

from .test_inbound_http import HEADERS, INITIALIZE

pytestmark = pytest.mark.anyio

ACCEPT = HEADERS
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def _starlette(app: ASGIApp) -> Starlette:
    """The Starlette app inside the guard layers, whose lifespan runs the SDK's session manager."""
    while not isinstance(app, Starlette):
        app = app.app  # type: ignore[attr-defined]
    return app


class Clients:
    """One ASGI app, and an HTTP client per remote address."""

    def __init__(self, app: ASGIApp, stack: AsyncExitStack) -> None:
        self.app = app
        self.stack = stack
        self.by_address: dict[str, httpx2.AsyncClient] = {}

    async def of(self, address: str) -> httpx2.AsyncClient:
        if address not in self.by_address:
            transport = httpx2.ASGITransport(app=self.app, client=(address, 40000))
            client = httpx2.AsyncClient(transport=transport, base_url=BASE)
            self.by_address[address] = await self.stack.enter_async_context(client)
        return self.by_address[address]

    async def open(self, address: str) -> httpx2.Response:
        return await (await self.of(address)).post("/mcp", json=INITIALIZE, headers=ACCEPT)

    async def session(self, address: str) -> str:
        response = await self.open(address)
        assert response.status_code == 200, response.text
        return response.headers["mcp-session-id"]

    async def list_tools(self, address: str, sid: str) -> httpx2.Response:
        headers = {**ACCEPT, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        return await (await self.of(address)).post("/mcp", json=LIST, headers=headers)


@asynccontextmanager
async def clients_of(app: ASGIApp) -> AsyncIterator[Clients]:
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(_starlette(app).router.lifespan_context(_starlette(app)))
        yield Clients(app, stack)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as built:
        yield built


def sdk_endpoint(rig: Rig, *, idle: float, max_sessions: int) -> Starlette:
    """The bare SDK endpoint, for a layer built by hand (its own clock, limits unlike the SDK's)."""
    return mcp_http_app(
        build_mcp_server(rig.service),
        stateless=False,
        json_response=True,
        transport_security=transport_security(ServeSettings()),
        session_idle_timeout=idle,
        max_sessions=max_sessions,
    )


def served(rig: Rig, **settings: Any) -> ASGIApp:
    return mcp_app(rig, ServeSettings(json_response=True, **settings))


async def test_one_client_cannot_hold_more_than_its_share_and_others_are_still_served(rig: Rig) -> None:
    async with clients_of(served(rig, max_sessions_per_client=3, max_sessions=10)) as c:
        mine = [await c.session("10.0.0.1") for _ in range(3)]
        refused = await c.open("10.0.0.1")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 300
        assert "already holds 3 open MCP sessions" in refused.json()["error"]["message"]
        assert refused.json()["id"] is None
        other = await c.session("10.0.0.2")
        assert (await c.list_tools("10.0.0.2", other)).status_code == 200
        assert [(await c.list_tools("10.0.0.1", sid)).status_code for sid in mine] == [200] * 3  # nothing was lost


async def test_the_per_client_share_uses_the_sse_answer_too(rig: Rig) -> None:
    async with clients_of(mcp_app(rig, ServeSettings(max_sessions_per_client=2))) as c:
        await c.session("10.0.0.1")
        await c.session("10.0.0.1")
        assert (await c.open("10.0.0.1")).status_code == 429


async def test_a_deleted_session_frees_its_place_in_the_share(rig: Rig) -> None:
    async with clients_of(served(rig, max_sessions_per_client=1)) as c:
        sid = await c.session("10.0.0.1")
        assert (await c.open("10.0.0.1")).status_code == 429
        client = await c.of("10.0.0.1")
        closed = await client.delete("/mcp", headers={"mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"})
        assert closed.status_code < 300
        assert (await c.open("10.0.0.1")).status_code == 200


async def test_when_every_session_is_taken_the_biggest_holders_idle_session_makes_room(rig: Rig) -> None:
    async with clients_of(served(rig, max_sessions_per_client=5, max_sessions=6)) as c:
        hoarded = [await c.session("10.0.0.1") for _ in range(5)]
        modest = await c.session("10.0.0.2")
        newcomer = await c.session("10.0.0.3")  # all 6 were open: the hoarder's least recently used one made room
        assert (await c.list_tools("10.0.0.3", newcomer)).status_code == 200
        assert (await c.list_tools("10.0.0.1", hoarded[0])).status_code == 404  # it initializes again
        assert [(await c.list_tools("10.0.0.1", sid)).status_code for sid in hoarded[1:]] == [200] * 4
        assert (await c.list_tools("10.0.0.2", modest)).status_code == 200


async def test_newcomers_arriving_together_at_a_full_server_are_all_served(rig: Rig) -> None:
    async with clients_of(served(rig, max_sessions_per_client=10, max_sessions=10)) as c:
        for _ in range(10):
            await c.session("10.0.0.1")
        answers: dict[str, int] = {}

        async def arrive(address: str) -> None:
            answers[address] = (await c.open(address)).status_code

        async with anyio.create_task_group() as tg:
            for n in range(2, 8):
                tg.start_soon(arrive, f"10.0.1.{n}")
        assert answers == {f"10.0.1.{n}": 200 for n in range(2, 8)}


async def test_an_authenticated_subject_has_its_share_wherever_it_connects_from(rig: Rig) -> None:
    endpoint = sdk_endpoint(rig, idle=60, max_sessions=100)
    fair = SessionFairness(endpoint, per_client=2, max_sessions=100, idle_timeout=60)

    async def as_subject(scope: Scope, receive: Receive, send: Send) -> None:
        # What the OAuth layer leaves in the request state once it has verified a token (server/oauth.py).
        subject = dict(scope["headers"]).get(b"x-test-subject", b"").decode()
        scope.setdefault("state", {})[PRINCIPAL_KEY] = Principal(subject, None, frozenset())
        await fair(scope, receive, send)

    async with endpoint.router.lifespan_context(endpoint), AsyncExitStack() as stack:
        c = Clients(as_subject, stack)
        alice = {**ACCEPT, "x-test-subject": "alice"}
        for address in ("10.0.0.1", "10.0.0.2"):
            assert (await (await c.of(address)).post("/mcp", json=INITIALIZE, headers=alice)).status_code == 200
        third = await (await c.of("10.0.0.3")).post("/mcp", json=INITIALIZE, headers=alice)
        assert third.status_code == 429  # a new address does not buy alice more sessions
        bob = {**ACCEPT, "x-test-subject": "bob"}
        assert (await (await c.of("10.0.0.3")).post("/mcp", json=INITIALIZE, headers=bob)).status_code == 200


async def test_idle_sessions_stop_counting_after_the_idle_timeout(rig: Rig) -> None:
    now = [0.0]
    endpoint = sdk_endpoint(rig, idle=60, max_sessions=100)
    app = SessionFairness(endpoint, per_client=2, max_sessions=100, idle_timeout=60, clock=lambda: now[0])
    async with endpoint.router.lifespan_context(endpoint), AsyncExitStack() as stack:
        c = Clients(app, stack)
        await c.session("10.0.0.1")
        now[0] = 30.0
        await c.session("10.0.0.1")
        refused = await c.open("10.0.0.1")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "30"  # the first one ends at 60
        now[0] = 60.0
        assert (await c.open("10.0.0.1")).status_code == 200


async def test_the_sdks_own_limit_answers_503_with_retry_after(rig: Rig) -> None:
    endpoint = sdk_endpoint(rig, idle=120, max_sessions=1)
    app = SessionFairness(endpoint, per_client=10, max_sessions=10, idle_timeout=120)
    async with endpoint.router.lifespan_context(endpoint), AsyncExitStack() as stack:
        c = Clients(app, stack)
        await c.session("10.0.0.1")
        full = await c.open("10.0.0.2")
        assert full.status_code == 503
        assert 1 <= int(full.headers["retry-after"]) <= 120
