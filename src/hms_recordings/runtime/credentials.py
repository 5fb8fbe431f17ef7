"""Outbound credentials: what a consumed API's ``authentication`` puts on each request.

Static kinds (bearer, basic, apikey) render their templates against the bindings once; a value that cannot be
rendered (an optional binding left unset) makes every call fail with a :class:`CredentialError` naming the variables.
The ``x-provider`` extension names a *credential provider* registered under the entry-point group
``hms_recordings.credential_providers`` (the 100ms management-token minter is one), so the generic runtime needs no
knowledge of any particular API.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points

from hms_recordings.capability.model import Authentication
from hms_recordings.capability.templates import Scope, Template
from hms_recordings.errors import CapabilityError, CredentialError
from hms_recordings.runtime.bindings import Bindings
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.upstream import CredentialSource

__all__ = ["ProviderFactory", "StaticCredentials", "credential_source", "providers"]

ProviderFactory = Callable[[Authentication, Bindings, Redactor], CredentialSource]


class StaticCredentials:
    def __init__(self, headers: dict[str, str], query: list[tuple[str, str]], problem: str | None = None) -> None:
        self._headers = headers
        self._query = query
        self._problem = problem

    async def apply(self, headers: dict[str, str], query: list[tuple[str, str]]) -> None:
        if self._problem:
            raise CredentialError(self._problem)
        headers.update(self._headers)
        query.extend(self._query)

    async def renew(self, refused: Mapping[str, str]) -> bool:
        return False  # a fixed credential cannot become any better by asking again

    def problem(self) -> str | None:
        return self._problem


def _render(source: str | None, scope: Scope, what: str) -> tuple[str, str | None]:
    template = Template.compile(source or "")
    missing = template.missing(scope)
    if missing:
        names = ", ".join(name.split(".")[-1] for name in missing)
        return "", f"the {what} needs {names}, which is not set; set it in the environment"
    return template.render(scope), None


@cache
def providers() -> dict[str, ProviderFactory]:
    found: dict[str, ProviderFactory] = {}
    for entry in entry_points(group="hms_recordings.credential_providers"):
        found[entry.name] = entry.load()
    return found


def credential_source(auth: Authentication | None, bindings: Bindings, redactor: Redactor) -> CredentialSource | None:
    if auth is None:
        return None
    if auth.provider:
        factory = providers().get(auth.provider)
        if factory is None:
            known = ", ".join(sorted(providers())) or "none installed"
            raise CapabilityError(f"unknown credential provider x-provider: {auth.provider} (known: {known})")
        return factory(auth, bindings, redactor)
    scope = Scope(bindings=bindings.values, namespaces=bindings.namespaces)
    if auth.type == "bearer":
        token, problem = _render(auth.token, scope, "bearer token")
        if not problem and not token:
            problem = "the bearer token is empty"
        redactor.add(token)
        return StaticCredentials({"Authorization": f"Bearer {token}"}, [], problem)
    if auth.type in ("basic", "digest"):
        user, p1 = _render(auth.username, scope, "username")
        password, p2 = _render(auth.password, scope, "password")
        redactor.add(password)
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        redactor.add(encoded)
        return StaticCredentials({"Authorization": f"Basic {encoded}"}, [], p1 or p2)
    if auth.type == "apikey":
        value, problem = _render(auth.value, scope, "API key")
        redactor.add(value)
        name = auth.key or "X-API-Key"
        if auth.placement == "query":
            return StaticCredentials({}, [(name, value)], problem)
        return StaticCredentials({name: value}, [], problem)
    return None
