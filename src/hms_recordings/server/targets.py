"""Where upstream calls go, and the service that makes them: the real API, ``--upstream`` overrides, or an emulator.

Generic: the overrides and transports come from the settings, or from an
:class:`~hms_recordings.hms.emulated.Emulation` when ``--emulator`` is given (the 100ms wiring lives in ``hms/``).
Kept apart from :mod:`hms_recordings.server.serve` so that ``call`` does not import the MCP SDK.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from hms_recordings.capability.model import Capability
from hms_recordings.errors import ConfigError
from hms_recordings.runtime.inventory import Inventory, compile_inventory
from hms_recordings.runtime.local import EventLog, Wakeups
from hms_recordings.runtime.service import CapabilityService, build_service
from hms_recordings.runtime.upstreams import UpstreamSettings
from hms_recordings.server.settings import CallSettings

if TYPE_CHECKING:
    from hms_recordings.hms.emulated import Emulation, EmulatorMode

__all__ = [
    "EMULATOR_HINT",
    "STATEFUL_EMULATOR_HINT",
    "emulation",
    "open_service",
    "select_inventory",
    "upstream_settings",
]

logger = logging.getLogger("hms_recordings.server")

EMULATOR_HINT = "Or pass --emulator to try everything against the embedded 100ms emulator."
#: For one-shot commands (call, download): --emulator would start an empty emulator that ends with the command.
STATEFUL_EMULATOR_HINT = (
    "To try it without 100ms and keep recordings from one command to the next, run `hms-recordings emulator` in "
    "another terminal, `export HMS_MANAGEMENT_TOKEN=$(hms-recordings token)`, and pass "
    "--upstream recordings=http://127.0.0.1:8765/v2 (--emulator starts a fresh, empty emulator for this one command)."
)


def select_inventory(capability: Capability, settings: CallSettings) -> Inventory:
    """Compile and select what is served; with ``--strict`` any entry left out refuses start-up."""
    inventory = compile_inventory(capability).select(**settings.selection())
    if inventory.problems and settings.strict:
        raise ConfigError(
            f"--strict: {len(inventory.problems)} entr{'y' if len(inventory.problems) == 1 else 'ies'} of "
            f"{capability.file or 'the capability'} cannot be served: " + "; ".join(inventory.problems)
        )
    for problem in inventory.problems:
        logger.warning("not served: %s", problem)
    return inventory


def upstream_settings(
    capability: Capability,
    settings: CallSettings,
    *,
    emulated: Emulation | None = None,
    env: Mapping[str, str] | None = None,
    observers: Sequence[Any] = (),
) -> UpstreamSettings:
    """The run-time half of the settings for one capability; an override naming a namespace it does not consume is
    refused by :class:`~hms_recordings.runtime.upstreams.Upstreams`."""
    upstreams = dict(settings.upstreams)
    transports = {}
    environment = dict(os.environ if env is None else env)
    if emulated is not None:
        upstreams.update(emulated.upstreams_for(capability))
        transports.update(emulated.transports_for(capability))
        environment = {**environment, **emulated.env}
    return UpstreamSettings(
        upstreams=upstreams,
        transports=transports,
        env=environment,
        timeouts=settings.timeouts,
        retry=settings.retry,
        max_concurrency=settings.max_concurrency,
        max_response_bytes=settings.max_response_bytes,
        observers=tuple(o for o in observers if hasattr(o, "on_response")),
    )


@asynccontextmanager
async def emulation(
    settings: CallSettings, mode: EmulatorMode, env: Mapping[str, str] | None = None
) -> AsyncIterator[Emulation | None]:
    """The embedded emulator when ``--emulator`` asks for one (``None`` otherwise), until the block exits."""
    if not settings.emulator:
        yield None
        return
    from hms_recordings.hms.emulated import start_emulator

    async with start_emulator(mode, os.environ if env is None else env) as running:
        yield running


@asynccontextmanager
async def open_service(
    inventory: Inventory,
    settings: CallSettings,
    *,
    emulated: Emulation | None = None,
    env: Mapping[str, str] | None = None,
    observers: Sequence[Any] = (),
    check_credentials: bool = True,
    wakeups: Wakeups | None = None,
    event_log: EventLog | None = None,
    credentials_hint: str = EMULATOR_HINT,
) -> AsyncIterator[CapabilityService]:
    """A service on ``inventory``, closed when the block exits; missing upstream credentials refuse to start.

    ``wakeups`` and ``event_log`` are lent to handlers (a server's event hub and log, see runtime/local.py)."""
    capability = inventory.capability
    observed = tuple(o for o in observers if hasattr(o, "on_call"))
    service = build_service(
        inventory,
        upstream_settings(capability, settings, emulated=emulated, env=env, observers=observers),
        settings.invoker_settings(observed, tuple(observers), wakeups=wakeups, event_log=event_log),
    )
    async with service:
        problems = service.credential_problems()
        if problems and check_credentials:
            raise ConfigError("no upstream credentials: " + "; ".join(problems) + ". " + credentials_hint)
        yield service
