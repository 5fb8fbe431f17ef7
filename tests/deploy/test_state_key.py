"""``HMS_RECORDINGS_STATE_KEY``: a requestState sealed under the shared ring by one replica is accepted by another.

The state is sealed here by the SDK's own boundary (what a replica does when a handler asks for input), then sent to
our MCP face in a 2026-07-28 ``tools/call``; a face with another key, or with none, refuses it at the boundary.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from hms_recordings.errors import ConfigError
from hms_recordings.server.settings import ServeSettings
from tests.deploy.servers import mint_request_state, modern_call
from tests.hosting import mcp_app
from tests.reliability.conftest import serve_asgi
from tests.rig import Rig

pytestmark = pytest.mark.anyio

SHARED = secrets.token_hex(32)


async def call_with_state(rig: Rig, state_key: str | None, request_state: str) -> dict[str, Any]:
    key = SecretStr(state_key) if state_key is not None else None
    app = mcp_app(rig, ServeSettings(stateless=True, json_response=True, state_key=key))
    async with serve_asgi(app) as base, httpx2.AsyncClient() as http:
        return await modern_call(http, f"{base}/mcp", "hms-list-recordings", {}, request_state=request_state)


async def test_state_sealed_under_the_shared_key_elsewhere_is_accepted_here(rig: Rig) -> None:
    sealed = await mint_request_state(SHARED, rig.service.info.name, "hms-list-recordings", {})
    answer = await call_with_state(rig, SHARED, sealed)
    assert answer["result"]["isError"] is False
    assert "recordings" in answer["result"]["structuredContent"]


@pytest.mark.parametrize("key", [secrets.token_hex(32), None], ids=["another key", "no key"])
async def test_state_sealed_under_another_key_is_refused_before_any_handler(rig: Rig, key: str | None) -> None:
    sealed = await mint_request_state(SHARED, rig.service.info.name, "hms-list-recordings", {})
    answer = await call_with_state(rig, key, sealed)
    assert answer["error"]["code"] == -32602
    assert answer["error"]["message"] == "Invalid or expired requestState"
    assert (await rig.requests()) == []  # nothing reached the upstream


async def test_a_key_ring_seals_with_its_first_key_and_accepts_the_others(rig: Rig) -> None:
    old = await mint_request_state(SHARED, rig.service.info.name, "hms-list-recordings", {})
    answer = await call_with_state(rig, f"{secrets.token_hex(32)},{SHARED}", old)  # rotated: new first, old kept
    assert answer["result"]["isError"] is False


def test_a_short_state_key_is_refused_without_being_echoed() -> None:
    for value in ("short-secret-value", f"{SHARED},short-secret-value"):
        with pytest.raises(ConfigError) as refused:
            ServeSettings.build(None, flags={}, env={"HMS_RECORDINGS_STATE_KEY": value})
        assert "HMS_RECORDINGS_STATE_KEY" in str(refused.value)
        assert "short-secret-value" not in str(refused.value)
        assert SHARED not in str(refused.value)


def test_the_state_key_is_read_from_the_environment_only() -> None:
    settings = ServeSettings.build(None, flags={"state_key": SHARED}, env={})
    assert settings.state_key is None
    assert SHARED not in repr(ServeSettings.build(None, flags={}, env={"HMS_RECORDINGS_STATE_KEY": SHARED}))
