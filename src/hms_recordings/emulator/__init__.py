"""A faithful local emulator of the 100ms recordings API (``/v2/recordings``, ``/v2/recording-assets``).

In-process, with no sockets::

    app = create_app(EmulatorConfig(manual_clock=True, start_delay=0))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://emulator.test") as c:
        ...

On a real socket: ``async with serve_in_background(config) as running: running.api_url``, or the blocking
:func:`run_emulator` behind ``hms-recordings emulator``. See docs/emulator.md.
"""

from __future__ import annotations

from .app import EmulatorApp, create_app
from .clock import Clock, ManualClock, RealClock
from .config import DEFAULT_PORT, EmulatorConfig, add_cli_arguments, config_from_args
from .faults import ConnectionDropped, FaultRule, load_faults_file, parse_fault_rules
from .server import RunningEmulator, run_emulator, serve_in_background
from .state import EmulatorState

__all__ = [
    "DEFAULT_PORT",
    "Clock",
    "ConnectionDropped",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorState",
    "FaultRule",
    "ManualClock",
    "RealClock",
    "RunningEmulator",
    "add_cli_arguments",
    "config_from_args",
    "create_app",
    "load_faults_file",
    "parse_fault_rules",
    "run_emulator",
    "serve_in_background",
]
