"""The ``hms-management`` credential provider: 100ms management tokens, given or minted.

* ``HMS_MANAGEMENT_TOKEN`` set: it is sent as it is (as the seed does).
* ``HMS_ACCESS_KEY`` + ``HMS_APP_SECRET`` set: tokens are minted (reference §5, :mod:`hms_recordings.hms.tokens`),
  cached and renewed five minutes before they expire.
* both: the given token is used first; if 100ms refuses it with a 401, a minted one replaces it.
* a token is renewed only after a 401, and at most once per token: calls refused together with the same token share
  one new token, and a refused request that carried an older token is simply sent again with the current one. A 403
  ("user does not have required permission", e.g. a start in an unknown room) never mints: a new token of the same
  app has the same permissions. Before this rule, 600 refused starts minted 600 tokens (issue 13, item 1).

Every token in play is given to the redactor (minted ones through its bounded ``remember``), so it never shows in logs,
errors or results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import anyio

from hms_recordings.capability.model import Authentication
from hms_recordings.capability.templates import Scope, Template
from hms_recordings.errors import CredentialError
from hms_recordings.hms.tokens import DEFAULT_VALIDITY_SECONDS, AppCredentials, mint_management_token
from hms_recordings.runtime.bindings import Bindings
from hms_recordings.runtime.redact import Redactor

__all__ = ["ManagementTokens", "provider"]

RENEW_BEFORE_EXPIRY = 300
MISSING = "set HMS_MANAGEMENT_TOKEN, or HMS_ACCESS_KEY and HMS_APP_SECRET (the server then mints tokens itself)"


class ManagementTokens:
    def __init__(
        self,
        token: str | None,
        creds: AppCredentials | None,
        redactor: Redactor,
        *,
        valid_for: int = DEFAULT_VALIDITY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._given = token
        self._creds = creds
        self._redactor = redactor
        self._valid_for = valid_for
        self._clock = clock
        self._current: str | None = token
        self._expires = float("inf") if token else 0.0
        self._lock = anyio.Lock()
        self.minted = 0  # how many tokens were minted: observable in tests and /metrics
        if creds is not None:
            redactor.add(creds.app_secret)

    def problem(self) -> str | None:
        return None if (self._given or self._creds) else MISSING

    async def _mint(self) -> str:
        assert self._creds is not None
        token = mint_management_token(self._creds, valid_for=self._valid_for, now=self._clock())
        self._redactor.remember(token)
        self._current = token
        self._expires = self._clock() + self._valid_for
        self.minted += 1
        return token

    async def token(self) -> str:
        if self._current is not None and self._clock() < self._expires - RENEW_BEFORE_EXPIRY:
            return self._current
        async with self._lock:
            if self._current is not None and self._clock() < self._expires - RENEW_BEFORE_EXPIRY:
                return self._current
            if self._creds is None:
                if self._current is None:
                    raise CredentialError(f"no 100ms credential: {MISSING}")
                return self._current
            return await self._mint()

    async def apply(self, headers: dict[str, str], query: list[tuple[str, str]]) -> None:
        headers["Authorization"] = f"Bearer {await self.token()}"

    async def renew(self, refused: Mapping[str, str]) -> bool:
        """After a 401: mint a fresh token when we can, unless the refused one was already replaced.

        A given token alone cannot be renewed. ``refused`` are the headers of the refused request: when the token it
        carried is no longer the current one, another call has already renewed it, and sending again with the current
        token is all it takes."""
        if self._creds is None:
            return False
        used = refused.get("Authorization", "").removeprefix("Bearer ")
        async with self._lock:
            if self._current is not None and used != self._current:
                return True
            await self._mint()
        return True


def provider(auth: Authentication, bindings: Bindings, redactor: Redactor) -> ManagementTokens:
    values = bindings.values
    # The token comes from the authentication's own template (`{{env.HMS_MANAGEMENT_TOKEN}}`), as for plain bearer.
    scope = Scope(bindings=values, namespaces=bindings.namespaces)
    template = Template.compile(auth.token or "")
    token = template.render(scope) if auth.token and not template.missing(scope) else None
    key, secret = values.get("HMS_ACCESS_KEY"), values.get("HMS_APP_SECRET")
    creds = AppCredentials(key, secret) if key and secret else None
    if token:
        redactor.add(token)
    return ManagementTokens(token, creds, redactor)
