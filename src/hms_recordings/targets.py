"""Where upstream calls go, and the engine that makes them: the real API, ``--upstream`` overrides, or the emulator.

``--emulator`` starts the embedded emulator (on a free loopback port in the same event loop, or in-process through an
ASGI transport for ``call``), points every consumed API hosted on ``api.100ms.live`` at it, and gives the engine the
emulator's credentials (the app key and secret, and a management token minted from them) so that it works with
nothing configured. Kept apart from :mod:`hms_recordings.serve` so that ``call`` does not import the MCP SDK.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from hms_recordings.capability.model import Capability
from hms_recordings.errors import ConfigError
from hms_recordings.runtime.engine import Engine, RuntimeSettings
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts
from hms_recordings.hms.tokens import AppCredentials, mint_management_token

__all__ = ["UPSTREAM_HOSTS", "emulated_upstreams", "emulator_env", "open_engine"]

#: Hosts the emulator stands in for.
UPSTREAM_HOSTS = frozenset({"api.100ms.live", "api-nonprod.100ms.live"})


def emulator_env(env: Mapping[str, str], creds: AppCredentials) -> dict[str, str]:
    """The environment as seen with ``--emulator``: the emulator's key and secret, and a token minted from them."""
    out = dict(env)
    out["HMS_ACCESS_KEY"] = creds.access_key
    out["HMS_APP_SECRET"] = creds.app_secret
    out["HMS_MANAGEMENT_TOKEN"] = mint_management_token(creds)
    return out


def emulated_upstreams(capability: Capability, base_url: str) -> dict[str, str]:
    out = {}
    for namespace, api in capability.consumes.items():
        parts = urlsplit(api.base_uri)
        if parts.hostname in UPSTREAM_HOSTS:
            out[namespace] = base_url.rstrip("/") + parts.path
    return out


@asynccontextmanager
async def open_engine(
    capability: Capability,
    *,
    read_only: bool = False,
    tools: tuple[str, ...] | None = None,
    upstreams: Mapping[str, str] | None = None,
    emulator: str | None = None,
    env: Mapping[str, str] | None = None,
    check_credentials: bool = True,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    max_concurrency: int | None = None,
) -> AsyncIterator[Engine]:
    """An engine for ``serve`` and ``call``.

    ``emulator``: ``"socket"`` (a real loopback server, so presigned URLs can be downloaded by anyone),
    ``"inprocess"`` (ASGI transport, no socket) or ``None``.
    """
    env = dict(os.environ if env is None else env)
    async with AsyncExitStack() as stack:
        targets = dict(upstreams or {})
        transports: dict[str, Any] = {}
        if emulator is not None:
            from hms_recordings.emulator import EmulatorConfig, create_app, serve_in_background

            creds = AppCredentials.from_env(env, allow_development=True)
            assert creds is not None
            config = EmulatorConfig(credentials=creds)
            if emulator == "socket":
                running = await stack.enter_async_context(serve_in_background(config))
                targets.update(emulated_upstreams(capability, running.base_url))
            else:
                import httpx2

                base = "http://emulator.invalid"
                mapped = emulated_upstreams(capability, base)
                app = create_app(config)
                # The emulator's lifespan runs its webhook sender and clock ticker; ASGITransport does not run it.
                await stack.enter_async_context(app.router.lifespan_context(app))
                transport = httpx2.ASGITransport(app=app)
                targets.update(mapped)
                transports.update({ns: transport for ns in mapped})
            env = emulator_env(env, creds)
        # Upstream resilience from ServeConfig (HMS_RECORDINGS_RETRY_*, _TIMEOUT_*, _MAX_CONCURRENCY); None = default.
        tuning: dict[str, Any] = {"retry": retry, "timeouts": timeouts, "max_concurrency": max_concurrency}
        engine = Engine(
            capability,
            RuntimeSettings(
                upstreams=targets,
                transports=transports,
                env=env,
                read_only=read_only,
                tools=tools,
                **{k: v for k, v in tuning.items() if v is not None},
            ),
        )
        stack.push_async_callback(engine.aclose)
        problems = engine.credential_problems()
        if problems and check_credentials:
            raise ConfigError(
                "no upstream credentials: "
                + "; ".join(problems)
                + ". Or pass --emulator to try everything against the embedded 100ms emulator."
            )
        yield engine
