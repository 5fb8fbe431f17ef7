"""Management-token authentication (reference §2, §5)."""

from __future__ import annotations

import httpx2
import jwt
import pytest

from hms_recordings.emulator import EmulatorApp, ManualClock
from hms_recordings.hms.tokens import AppCredentials, mint_management_token


def claims(creds: AppCredentials, now: float, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "access_key": creds.access_key,
        "type": "management",
        "version": 2,
        "iat": int(now) - 10,
        "nbf": int(now) - 10,
        "exp": int(now) + 3600,
        "jti": "6f1c3a3e-0d6c-4b76-9a39-3f0c2f9e1c11",
    }
    base.update(changes)
    return base


@pytest.mark.requirement("AUTH-401")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "not found"),
        ("Basic abc", "authorization header is not a bearer token"),
        ("Bearer x", "token is malformed"),
    ],
)
async def test_missing_or_garbage_token_answers_401_token_validation_error(
    anonymous: httpx2.AsyncClient, header: str | None, detail: str
) -> None:
    """§2, §5 [C D:calls; O QA1, QA2]: 401 {"code":401,"message":"Token validation error","details":[...]}."""
    headers = {"Authorization": header} if header else {}
    response = await anonymous.get("/v2/recordings", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Token validation error", "details": [detail]}


@pytest.mark.requirement("AUTH-401")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("changes", "secret", "detail"),
    [
        ({}, "another-secret-that-is-long-enough-for-hs256", "signature is invalid"),
        ({"type": "app"}, None, "token type is not management"),
        ({"version": 1}, None, "token version is not 2"),
        ({"access_key": "someone-else"}, None, "access key not found"),
    ],
)
async def test_tokens_with_wrong_signature_type_version_or_key_answer_401(
    anonymous: httpx2.AsyncClient,
    credentials: AppCredentials,
    clock: ManualClock,
    changes: dict[str, object],
    secret: str | None,
    detail: str,
) -> None:
    """§5: HS256 with the app secret, type management, version 2 and the configured access key are all required."""
    token = jwt.encode(claims(credentials, clock.now(), **changes), secret or credentials.app_secret, algorithm="HS256")
    response = await anonymous.get("/v2/recordings", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["details"] == [detail]


@pytest.mark.requirement("AUTH-WINDOW")
@pytest.mark.anyio
async def test_token_is_refused_before_nbf_and_from_exp_on_the_emulator_clock(
    anonymous: httpx2.AsyncClient, credentials: AppCredentials, clock: ManualClock
) -> None:
    """§5: nbf <= now < exp, checked on every request even though verification results are cached."""
    now = clock.now()
    early = jwt.encode(claims(credentials, now, nbf=int(now) + 60), credentials.app_secret, algorithm="HS256")
    token = mint_management_token(credentials, valid_for=60, now=now)
    early_response = await anonymous.get("/v2/recordings", headers={"Authorization": f"Bearer {early}"})
    assert early_response.json()["details"] == ["token is not valid yet"]
    assert (await anonymous.get("/v2/recordings", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    clock.advance(61)
    assert (await anonymous.get("/v2/recordings", headers={"Authorization": f"Bearer {early}"})).status_code == 200
    expired = await anonymous.get("/v2/recordings", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401
    assert expired.json()["details"] == ["token is expired"]


@pytest.mark.requirement("AUTH-401")
@pytest.mark.anyio
async def test_admin_routes_and_presigned_downloads_need_no_token(
    anonymous: httpx2.AsyncClient, emulator_app: EmulatorApp
) -> None:
    """product.md admin API: /_emulator/ routes are open; /v2 requests refused by auth still reach the request log."""
    assert (await anonymous.get("/v2/recordings")).status_code == 401
    log = (await anonymous.get("/_emulator/requests")).json()
    assert log == [{"method": "GET", "path": "/v2/recordings", "query": {}, "status": 401}]
    assert emulator_app.emulator.request_log[0]["status"] == 401


@pytest.mark.requirement("AUTH-ENV")
def test_credentials_come_from_environment_with_development_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 2 / product.md: HMS_ACCESS_KEY/HMS_APP_SECRET, falling back to the documented development pair."""
    from hms_recordings.emulator import EmulatorConfig

    assert EmulatorConfig.from_env().credentials == AppCredentials.development()
    monkeypatch.setenv("HMS_ACCESS_KEY", "key-1")
    monkeypatch.setenv("HMS_APP_SECRET", "secret-1")
    creds = EmulatorConfig.from_env().credentials
    assert (creds.access_key, creds.app_secret, creds.is_development) == ("key-1", "secret-1", False)
