"""Management tokens: given, minted from the key and secret, renewed before expiry and after a refusal (§5)."""

from __future__ import annotations

import jwt
import pytest

from hms_recordings.hms.credentials import ManagementTokens
from hms_recordings.hms.tokens import AppCredentials, verify_management_token
from hms_recordings.runtime.redact import Redactor
from tests.builtin.rig import ROOM, make_rig

pytestmark = pytest.mark.anyio
DEV = AppCredentials.development()


async def test_only_the_key_and_secret_are_enough_to_call_100ms() -> None:
    env = {"HMS_ACCESS_KEY": DEV.access_key, "HMS_APP_SECRET": DEV.app_secret}
    async with make_rig(env=env) as rig:
        outcome = await rig.call("hms-list-recordings", {"room_id": ROOM})
    assert outcome.ok, outcome.error


async def test_a_refused_token_is_renewed_once_and_the_call_retried() -> None:
    env = {
        "HMS_MANAGEMENT_TOKEN": "expired-or-revoked-token",
        "HMS_ACCESS_KEY": DEV.access_key,
        "HMS_APP_SECRET": DEV.app_secret,
    }
    async with make_rig(env=env) as rig:
        outcome = await rig.call("hms-list-recordings", {})
        log = [entry["status"] for entry in await rig.upstream_requests()]
        provider = rig.service.invoker.upstreams.clients["recordings"].credentials
    assert outcome.ok, outcome.error
    assert log == [401, 200]
    assert isinstance(provider, ManagementTokens) and provider.minted == 1


async def test_a_refused_token_without_key_and_secret_is_reported_not_retried() -> None:
    async with make_rig(env={"HMS_MANAGEMENT_TOKEN": "expired-or-revoked-token"}) as rig:
        outcome = await rig.call("hms-list-recordings", {})
        log = [entry["status"] for entry in await rig.upstream_requests()]
    assert outcome.error is not None and outcome.error.kind == "credentials"
    assert log == [401]


async def test_minted_tokens_are_cached_and_renewed_five_minutes_before_expiry() -> None:
    now = [1_800_000_000.0]
    tokens = ManagementTokens(None, DEV, Redactor(), valid_for=3600, clock=lambda: now[0])
    first = await tokens.token()
    assert await tokens.token() == first
    claims = verify_management_token(first, DEV, now=now[0])
    assert claims["exp"] - claims["iat"] == 3600 + 10
    now[0] += 3600 - 301
    assert await tokens.token() == first
    now[0] += 2
    renewed = await tokens.token()
    assert renewed != first and tokens.minted == 2
    assert jwt.get_unverified_header(renewed)["alg"] == "HS256"


async def test_every_minted_token_and_the_secret_are_known_to_the_redactor() -> None:
    redactor = Redactor()
    tokens = ManagementTokens(None, DEV, redactor)
    token = await tokens.token()
    assert redactor(f"sent {token} with {DEV.app_secret}") == "sent [redacted] with [redacted]"


def test_no_credential_at_all_refuses_to_start_with_the_variables_to_set() -> None:
    tokens = ManagementTokens(None, None, Redactor())
    problem = tokens.problem()
    assert problem is not None
    assert "HMS_MANAGEMENT_TOKEN" in problem and "HMS_ACCESS_KEY" in problem and "HMS_APP_SECRET" in problem
