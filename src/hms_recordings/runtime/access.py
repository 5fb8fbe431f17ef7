"""Who may call what: the authenticated caller and the scopes each entry needs.

Generic on purpose: the scope names come from the server's settings (a read scope, a write scope) and from a tool's
``x-scopes``; nothing here knows an issuer, a token format or a product. The hosting layer authenticates a request
and leaves a :class:`Principal` in the ASGI scope's state under :data:`PRINCIPAL_KEY`; faces read it with
:func:`principal_of` and ask a :class:`ScopePolicy` (listing) or an :data:`Admission` (calling). A request without a
principal (stdio, the static token, no inbound auth) is not restricted by scopes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hms_recordings.runtime.compiled import CompiledTool

__all__ = ["PRINCIPAL_KEY", "Admission", "Principal", "Refusal", "ScopePolicy", "principal_of"]

#: Key of the authenticated caller in the ASGI scope's ``state`` mapping.
PRINCIPAL_KEY = "principal"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the token's subject, the client it was issued to, and its scopes."""

    subject: str
    client_id: str | None
    scopes: frozenset[str]


@dataclass(frozen=True)
class Refusal:
    """A call refused before it runs: the HTTP status, a problem kind, the message and the headers to send."""

    status: int
    kind: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: float | None = None


#: Decides whether a principal may call an entry now (scopes, rate limits); ``None`` admits the call.
Admission = Callable[[Principal, CompiledTool], Refusal | None]


@dataclass(frozen=True)
class ScopePolicy:
    """The scopes an entry needs: its ``x-scopes`` when the file says, else ``read`` for a read-only entry and
    ``write`` for any other (an entry that changes state)."""

    read: str
    write: str

    def required(self, tool: CompiledTool) -> frozenset[str]:
        if tool.tool.scopes is not None:
            return frozenset(tool.tool.scopes)
        return frozenset({self.read if tool.read_only else self.write})

    def allows(self, principal: Principal | None, tool: CompiledTool) -> bool:
        return principal is None or self.required(tool) <= principal.scopes

    def supported(self, tools: list[CompiledTool]) -> list[str]:
        """Every scope some entry needs, sorted (the protected-resource metadata's ``scopes_supported``)."""
        return sorted({self.read, self.write}.union(*(self.required(t) for t in tools)))


def principal_of(scope: Mapping[str, Any] | None) -> Principal | None:
    """The principal the hosting layer left in an ASGI scope, if any."""
    state = (scope or {}).get("state")
    found = state.get(PRINCIPAL_KEY) if isinstance(state, Mapping) else None
    return found if isinstance(found, Principal) else None
