"""Management-token checks for ``/v2`` requests (reference §5), cached by token string.

Verifying an HS256 JWT costs tens of microseconds; a client reuses one token for thousands of requests, so the result
is cached. What never changes for a given token string (signature, type, version, access key) is cached as is; the
``nbf``/``exp`` window is re-checked against the emulator clock on every request, because time moves.
"""

from __future__ import annotations

import jwt

from hms_recordings.hms.tokens import AppCredentials, TokenInvalid, verify_management_token

from .clock import Clock
from .responses import ApiError

__all__ = ["TokenVerifier"]

_CACHE_LIMIT = 4_096
_TIME_REASONS = frozenset({"token is not valid yet", "token is expired"})


class TokenVerifier:
    def __init__(self, credentials: AppCredentials, clock: Clock) -> None:
        self._credentials = credentials
        self._clock = clock
        # token -> (nbf, exp) when valid apart from time, or the reason it can never be valid
        self._cache: dict[str, tuple[float, float] | str] = {}

    def check(self, authorization: str | None) -> None:
        """Raise a 401 ``Token validation error`` unless ``authorization`` carries a valid management token."""
        if not authorization:
            raise _unauthorized("not found")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("authorization header is not a bearer token")
        now = self._clock.now()
        cached = self._cache.get(token)
        if cached is None:
            cached = self._verify(token, now)
        if isinstance(cached, str):
            raise _unauthorized(cached)
        nbf, exp = cached
        if now < nbf:
            raise _unauthorized("token is not valid yet")
        if now >= exp:
            raise _unauthorized("token is expired")

    def _verify(self, token: str, now: float) -> tuple[float, float] | str:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()  # crude but bounded; a benchmark uses a handful of tokens
        try:
            claims = verify_management_token(token, self._credentials, now=now)
        except TokenInvalid as exc:
            reason = str(exc)
            if reason in _TIME_REASONS:
                # Valid but outside its window now: cache its window, not the verdict.
                return self._window_of(token, now) or reason
            self._cache[token] = reason
            return reason
        window = (float(claims["nbf"]), float(claims["exp"]))
        self._cache[token] = window
        return window

    def _window_of(self, token: str, now: float) -> tuple[float, float] | None:
        # The signature was verified a moment ago by verify_management_token; only the window is read here.
        claims = jwt.decode(token, options={"verify_signature": False})
        try:
            window = (float(claims["nbf"]), float(claims["exp"]))
        except (KeyError, TypeError, ValueError):
            return None
        self._cache[token] = window
        return window


def _unauthorized(reason: str) -> ApiError:
    return ApiError(401, "Token validation error", [reason])
