"""``--emulator``: the embedded emulator standing in for every consumed API hosted on ``api.100ms.live``.

The emulator runs on a free loopback port in the server's event loop (``serve``: presigned URLs must be downloadable
by anyone), or in-process through an ASGI transport (``call``: no socket at all). The server then talks to it with the
emulator's credentials: the app key and secret, and a management token minted from them, so that everything works
with nothing configured. This is the only place that knows which hosts the emulator stands in for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx2

from hms_recordings.capability.model import Capability
from hms_recordings.hms.tokens import AppCredentials, mint_management_token

__all__ = ["INPROCESS_BASE", "UPSTREAM_HOSTS", "Emulation", "emulated_upstreams", "emulator_env", "start_emulator"]

#: Hosts the emulator stands in for.
UPSTREAM_HOSTS = frozenset({"api.100ms.live", "api-nonprod.100ms.live"})
#: The base URL of an in-process emulator: never resolved, the ASGI transport answers every request.
INPROCESS_BASE = "http://emulator.invalid"

EmulatorMode = Literal["socket", "inprocess"]


def emulated_upstreams(capability: Capability, base_url: str) -> dict[str, str]:
    """Every consumed namespace on a 100ms host, pointed at ``base_url`` (the path prefix kept)."""
    out = {}
    for namespace, api in capability.consumes.items():
        parts = urlsplit(api.base_uri)
        if parts.hostname in UPSTREAM_HOSTS:
            out[namespace] = base_url.rstrip("/") + parts.path
    return out


def emulator_env(env: Mapping[str, str], creds: AppCredentials) -> dict[str, str]:
    """The environment as seen with ``--emulator``: the emulator's key and secret, and a token minted from them."""
    out = dict(env)
    out["HMS_ACCESS_KEY"] = creds.access_key
    out["HMS_APP_SECRET"] = creds.app_secret
    out["HMS_MANAGEMENT_TOKEN"] = mint_management_token(creds)
    return out


@dataclass(frozen=True)
class Emulation:
    """A running emulator: where it answers, how to reach it, and the environment that authenticates to it."""

    base_url: str
    env: dict[str, str]
    transport: httpx2.AsyncBaseTransport | None = None  # in-process only
    mode: EmulatorMode = "socket"

    def upstreams_for(self, capability: Capability) -> dict[str, str]:
        return emulated_upstreams(capability, self.base_url)

    def transports_for(self, capability: Capability) -> dict[str, httpx2.AsyncBaseTransport]:
        if self.transport is None:
            return {}
        return {namespace: self.transport for namespace in self.upstreams_for(capability)}


@asynccontextmanager
async def start_emulator(mode: EmulatorMode, env: Mapping[str, str]) -> AsyncIterator[Emulation]:
    """Start an emulator with the key and secret of ``env`` (or the development ones) until the block exits."""
    from hms_recordings.emulator import EmulatorConfig, create_app, serve_in_background

    creds = AppCredentials.from_env(env, allow_development=True)
    assert creds is not None  # allow_development: never None
    config = EmulatorConfig(credentials=creds)
    async with AsyncExitStack() as stack:
        if mode == "socket":
            running = await stack.enter_async_context(serve_in_background(config))
            yield Emulation(running.base_url, emulator_env(env, creds), mode="socket")
            return
        app = create_app(config)
        # The emulator's lifespan runs its webhook sender and clock; ASGITransport does not run it by itself.
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield Emulation(INPROCESS_BASE, emulator_env(env, creds), httpx2.ASGITransport(app=app), mode="inprocess")
