"""The emulator's configuration: one typed object, built from the environment or from command-line flags.

Precedence is flag > environment > default. The access key and secret come from ``HMS_ACCESS_KEY``/``HMS_APP_SECRET``
and fall back to the public development defaults of :mod:`hms_recordings.hms.tokens` when unset.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx2

from hms_recordings.hms.tokens import AppCredentials

from .faults import FaultRule, load_faults_file

__all__ = ["DEFAULT_PORT", "EmulatorConfig", "add_cli_arguments", "config_from_args"]

DEFAULT_PORT = 8765


@dataclass
class EmulatorConfig:
    """Everything that shapes one emulator instance.

    ``start_delay``/``processing_time`` are seconds on the emulator clock (0 means the next read sees the next state).
    ``webhook_client`` lets tests deliver webhooks to an in-process receiver (an ``httpx2.AsyncClient`` over an
    ``ASGITransport``); when ``None`` the emulator creates its own client for ``webhook_url``.
    """

    credentials: AppCredentials = field(default_factory=AppCredentials.development)
    start_delay: float = 1.0
    processing_time: float = 2.0
    manual_clock: bool = False
    clock_start: float | None = None
    seed: int | None = None
    faults: list[FaultRule] | None = None
    webhook_url: str | None = None
    webhook_secret_header: tuple[str, str] | None = None
    webhook_client: httpx2.AsyncClient | None = None
    max_body_bytes: int = 1_048_576
    request_log_limit: int = 10_000
    tick_interval: float = 0.25

    def __post_init__(self) -> None:
        if self.start_delay < 0 or self.processing_time < 0:
            raise ValueError("start_delay and processing_time must be >= 0")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> EmulatorConfig:
        """Credentials from ``HMS_ACCESS_KEY``/``HMS_APP_SECRET`` (development defaults when unset)."""
        creds = AppCredentials.from_env(os.environ if env is None else env, allow_development=True)
        assert creds is not None  # allow_development guarantees a pair
        config = cls(credentials=creds)
        for name, value in overrides.items():
            if not hasattr(config, name):
                raise TypeError(f"unknown EmulatorConfig field {name!r}")
            setattr(config, name, value)
        config.__post_init__()
        return config


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hms-recordings emulator`` flags to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument("--start-delay", type=_non_negative, default=1.0, metavar="S", help="seconds in starting")
    parser.add_argument(
        "--processing-time", type=_non_negative, default=2.0, metavar="S", help="seconds from stop to completed"
    )
    parser.add_argument("--faults", metavar="FILE", help='JSON fault rules, as PUT /_emulator/faults {"rules": [...]}')
    parser.add_argument("--seed", type=int, help="seed for ids, sizes and fault draws (reproducible runs)")
    parser.add_argument("--manual-clock", action="store_true", help="time moves only on POST /_emulator/clock")
    parser.add_argument("--webhook-url", metavar="URL", help="POST recording webhooks to this URL")


def config_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> EmulatorConfig:
    """Build the configuration from parsed flags (and the environment for credentials)."""
    faults = load_faults_file(args.faults) if getattr(args, "faults", None) else None
    return EmulatorConfig.from_env(
        env,
        start_delay=args.start_delay,
        processing_time=args.processing_time,
        manual_clock=bool(getattr(args, "manual_clock", False)),
        seed=getattr(args, "seed", None),
        faults=faults,
        webhook_url=getattr(args, "webhook_url", None),
    )
