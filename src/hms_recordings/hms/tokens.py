"""100ms management tokens: minting (for the server and ``hms-recordings token``) and verification (for the emulator).

A management token is an HS256 JWT signed with the app secret, with the claims ``access_key``, ``type: management``,
``version: 2``, ``iat``, ``nbf``, ``exp`` and ``jti`` (reference §5). As in the official Node SDK, ``iat`` is set ten
seconds in the past to absorb clock skew, ``nbf`` equals ``iat`` and the default lifetime is 24 hours.

When ``HMS_ACCESS_KEY``/``HMS_APP_SECRET`` are unset, the *development defaults* below are used by both sides, so that
``hms-recordings serve --emulator`` and ``hms-recordings emulator`` work with nothing configured. They are public
values and must never be used against the real 100ms API (which would reject them anyway).

    >>> creds = AppCredentials.development()
    >>> token = mint_management_token(creds, valid_for=60, now=1_700_000_000)
    >>> verify_management_token(token, creds, now=1_700_000_030)["type"]
    'management'
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_VALIDITY_SECONDS",
    "DEV_ACCESS_KEY",
    "DEV_APP_SECRET",
    "MAX_VALIDITY_SECONDS",
    "AppCredentials",
    "TokenInvalid",
    "mint_management_token",
    "verify_management_token",
]

DEV_ACCESS_KEY = "hms-emulator-dev-access-key"
DEV_APP_SECRET = "hms-emulator-dev-app-secret-not-for-production"
DEFAULT_VALIDITY_SECONDS = 86_400
#: Dashboard-issued tokens are capped at 14 days (reference §5); self-signed ones get the same ceiling here.
MAX_VALIDITY_SECONDS = 14 * 86_400
CLOCK_SKEW_SECONDS = 10


@dataclass(frozen=True)
class AppCredentials:
    """An app access key and secret. ``repr`` never shows the secret."""

    access_key: str
    app_secret: str
    is_development: bool = False

    def __repr__(self) -> str:
        return f"AppCredentials(access_key={self.access_key!r}, app_secret='***', is_development={self.is_development})"

    @classmethod
    def development(cls) -> AppCredentials:
        return cls(DEV_ACCESS_KEY, DEV_APP_SECRET, is_development=True)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, allow_development: bool = False
    ) -> AppCredentials | None:
        """``HMS_ACCESS_KEY`` + ``HMS_APP_SECRET`` when both are set; else the development pair if allowed, or None."""
        env = os.environ if env is None else env
        key, secret = env.get("HMS_ACCESS_KEY", ""), env.get("HMS_APP_SECRET", "")
        if key and secret:
            return cls(key, secret)
        return cls.development() if allow_development else None


class TokenInvalid(Exception):
    """Why a token was refused, in the words the 100ms API puts in ``details``."""


def mint_management_token(
    creds: AppCredentials, *, valid_for: int = DEFAULT_VALIDITY_SECONDS, now: float | None = None
) -> str:
    """Return a signed management token valid for ``valid_for`` seconds from now."""
    if not 1 <= valid_for <= MAX_VALIDITY_SECONDS:
        raise ValueError(f"valid_for must be between 1 and {MAX_VALIDITY_SECONDS} seconds, got {valid_for}")
    import jwt  # imported when used: PyJWT pulls in cryptography, which a server given a ready token never needs

    issued = int(now if now is not None else time.time()) - CLOCK_SKEW_SECONDS
    claims = {
        "access_key": creds.access_key,
        "type": "management",
        "version": 2,
        "iat": issued,
        "nbf": issued,
        "exp": issued + CLOCK_SKEW_SECONDS + valid_for,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, creds.app_secret, algorithm="HS256", headers={"typ": "JWT"})


def verify_management_token(token: str, creds: AppCredentials, *, now: float | None = None) -> dict[str, Any]:
    """Return the claims of a valid management token, or raise :class:`TokenInvalid` with the reason."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            creds.app_secret,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": ["exp", "nbf"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenInvalid("signature is invalid") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenInvalid(f"token is missing the {exc.claim} claim") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid("token is malformed") from exc
    moment = now if now is not None else time.time()
    if claims.get("type") != "management":
        raise TokenInvalid("token type is not management")
    if claims.get("version") != 2:
        raise TokenInvalid("token version is not 2")
    if claims.get("access_key") != creds.access_key:
        raise TokenInvalid("access key not found")
    if not isinstance(claims.get("nbf"), int | float) or moment < claims["nbf"]:
        raise TokenInvalid("token is not valid yet")
    if not isinstance(claims.get("exp"), int | float) or moment >= claims["exp"]:
        raise TokenInvalid("token is expired")
    return claims
