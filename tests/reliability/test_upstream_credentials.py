"""Refused credentials (issue 13, item 1): a new management token only after a 401, at most once per token, and a
redactor whose cost does not grow with the number of tokens ever minted.

Before: every 401 *and* 403 minted a token and recompiled the redaction pattern with it; 600 refused starts (a start
in an unknown room answers 403 on the real API) took the server from 76 to 564 MiB. The memory and latency figures
of 600 refused calls against a real ``serve`` process come from ``bench/refused_calls.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from hms_recordings.hms.credentials import ManagementTokens
from hms_recordings.hms.tokens import AppCredentials, mint_management_token
from hms_recordings.runtime.redact import DEFAULT_REMEMBERED, REDACTED, Redactor
from hms_recordings.server.settings import ServeSettings
from tests.hosting import mcp_app

from .conftest import CANARY_KEY, CANARY_SECRET, CANARY_TOKEN, Harness, HarnessFactory, new_room, serve_asgi

pytestmark = pytest.mark.anyio

START = "hms-start-recording"
REFUSE_STARTS = {"method": "POST", "path_prefix": "/v2/recordings/room/", "status": 403}


def tokens_of(h: Harness) -> ManagementTokens:
    credentials = h.service.invoker.upstreams.clients["recordings"].credentials
    assert isinstance(credentials, ManagementTokens)
    return credentials


@asynccontextmanager
async def mcp_client(h: Harness) -> AsyncIterator[Client]:
    """An MCP SDK client over Streamable HTTP on a real socket."""
    async with (
        serve_asgi(mcp_app(h, ServeSettings())) as base,
        httpx2.AsyncClient(timeout=10) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
    ):
        yield client


async def test_600_refused_starts_mint_no_token_and_keep_the_redactor_bounded(h: Harness) -> None:
    await h.faults(REFUSE_STARTS)
    tokens = tokens_of(h)
    known = h.service.redactor.size
    async with mcp_client(h) as client:
        for _ in range(10):
            result = await client.call_tool(START, {"room_id": new_room()})
            assert result.is_error
            assert "100ms refused to start a recording" in str(result.content[0])
    for _ in range(590):
        outcome = await h.call(START, {"room_id": new_room()})
        assert outcome.error is not None and outcome.error.kind == "forbidden"
    assert tokens.minted == 1  # the first call's token; a 403 never mints another
    assert h.service.redactor.size == known + 1
    starts = [r for r in await h.requests() if r["method"] == "POST"]
    assert len(starts) == 600  # each refused start sent once: a 403 is not retried with a new token either


async def test_calls_refused_together_with_a_401_share_one_new_token(make_harness: HarnessFactory) -> None:
    # The given token is not one the emulator accepts: every call's first attempt is a 401.
    env = {"HMS_MANAGEMENT_TOKEN": CANARY_TOKEN, "HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": CANARY_SECRET}
    async with make_harness(env=env) as h:
        results: list[Any] = []

        async def read() -> None:
            results.append(await h.call("hms-list-recordings", {"limit": 10}))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(read)
        assert all(r.error is None for r in results), [r.error for r in results if r.error]
        assert tokens_of(h).minted == 1
        statuses = [r["status"] for r in await h.requests()]
    assert statuses.count(401) == 20 and statuses.count(200) == 20


async def test_a_token_refused_with_401_is_renewed_once_and_each_new_token_at_most_once(
    make_harness: HarnessFactory,
) -> None:
    # The app secret is wrong: every minted token is refused. Each call renews once, and never loops.
    env = {"HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": "canary-wrong-app-secret-0b7e2f9a61c4d8e3"}
    async with make_harness(env=env) as h:
        for _ in range(200):
            outcome = await h.call("hms-list-recordings", {"limit": 10})
            assert outcome.error is not None and outcome.error.kind == "credentials"
        tokens = tokens_of(h)
        assert tokens.minted == 201  # one to start, then one per refused token: 200 refusals, 200 renewals
        assert h.service.redactor.size <= 2 + DEFAULT_REMEMBERED  # the two bound secrets and the newest tokens
        assert len(await h.requests()) == 400  # each call: the refused attempt and one retry with a new token


def test_the_redactor_keeps_only_the_newest_tokens_by_value_and_masks_older_ones_by_shape() -> None:
    creds = AppCredentials("key-for-the-redactor-test", "secret-for-the-redactor-test-long-enough-for-hs256")
    redactor = Redactor(["secret-for-the-redactor-test-long-enough-for-hs256"])
    minted = [mint_management_token(creds, now=1_700_000_000 + n) for n in range(5_000)]
    for token in minted:
        redactor.remember(token)
    assert redactor.size == 1 + DEFAULT_REMEMBERED
    assert redactor(f"newest {minted[-1]}") == f"newest {REDACTED}"
    assert redactor(f"oldest {minted[0]}") == f"oldest {REDACTED}"  # no longer known by value: the JWT shape
    opaque = "opaque-token-not-shaped-like-anything-1234"
    redactor.remember(opaque)
    assert redactor(f"x {opaque} y") == f"x {REDACTED} y"


def test_a_merged_redactor_also_scrubs_tokens_the_other_learns_later() -> None:
    service_side = Redactor()
    log_side = Redactor()
    log_side.merge(service_side)
    service_side.remember("opaque-token-minted-after-the-merge-99")
    assert "opaque-token" not in log_side("got opaque-token-minted-after-the-merge-99")
