"""The emulator's configuration: one typed object, built from the environment or from command-line flags.

Precedence is flag > environment > default. The access key and secret come from ``HMS_ACCESS_KEY``/``HMS_APP_SECRET``
and fall back to the public development defaults of :mod:`hms_recordings.hms.tokens` when unset.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx2

from hms_recordings.hms.tokens import AppCredentials

from .faults import FaultRule, load_faults_file

__all__ = ["DEFAULT_PORT", "EmulatorConfig", "add_cli_arguments", "config_from_args", "parse_webhook_header"]

DEFAULT_PORT = 8765


@dataclass
class EmulatorConfig:
    """Everything that shapes one emulator instance.

    ``start_delay``/``processing_time`` are seconds on the emulator clock (0 means the next read sees the next state);
    ``processing_time`` also scales transcription: ``processing_time`` seconds stand for one real minute of the
    documented ``max(20 % of the duration, 5 min)`` (see :func:`.state.transcription_delay`).
    ``webhook_headers`` are sent with every delivery (the dashboard's custom headers). ``webhook_client`` lets tests
    deliver webhooks to an in-process receiver (an ``httpx2.AsyncClient`` over an ``ASGITransport``); when ``None``
    the emulator creates its own client for ``webhook_url``. ``event_log_limit`` bounds the stored envelopes (for
    ``GET /_emulator/events`` and replays), ``webhook_queue_limit`` the envelopes waiting for the sender (more are
    dropped and counted) and ``webhook_max_in_flight`` the deliveries under way at once.
    """

    credentials: AppCredentials = field(default_factory=AppCredentials.development)
    start_delay: float = 1.0
    processing_time: float = 2.0
    manual_clock: bool = False
    clock_start: float | None = None
    seed: int | None = None
    faults: list[FaultRule] | None = None
    webhook_url: str | None = None
    webhook_headers: list[tuple[str, str]] = field(default_factory=list)
    webhook_client: httpx2.AsyncClient | None = None
    max_body_bytes: int = 1_048_576
    request_log_limit: int = 10_000
    event_log_limit: int = 1_000
    webhook_queue_limit: int = 10_000
    webhook_max_in_flight: int = 64
    tick_interval: float = 0.25

    def __post_init__(self) -> None:
        if self.start_delay < 0 or self.processing_time < 0:
            raise ValueError("start_delay and processing_time must be >= 0")
        limits = (self.max_body_bytes, self.event_log_limit, self.webhook_queue_limit, self.webhook_max_in_flight)
        if min(limits) < 1:
            raise ValueError("max_body_bytes and the event/webhook limits must be positive")
        for name, value in self.webhook_headers:
            parse_webhook_header(f"{name}:{value}")

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


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_webhook_header(text: str) -> tuple[str, str]:
    """``NAME:VALUE`` -> ``(NAME, VALUE)``; the name must be an HTTP token and the value one printable line."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not _TOKEN.fullmatch(name):
        raise ValueError("a webhook header must be NAME:VALUE with NAME an HTTP header name")
    if not value.isprintable() or len(value) > 4_096:
        # The value is usually a secret: the message never echoes it.
        raise ValueError(f"the value of webhook header {name} must be printable text of at most 4096 characters")
    return name, value


def _webhook_header(text: str) -> tuple[str, str]:
    try:
        return parse_webhook_header(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hms-recordings emulator`` flags to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument(
        "--start-delay", type=_non_negative, default=1.0, metavar="S", help="seconds in starting (default 1)"
    )
    parser.add_argument(
        "--processing-time",
        type=_non_negative,
        default=2.0,
        metavar="S",
        help="seconds from stop to completed (default 2); transcripts and summaries then take "
        "max(20%% of the duration, 5 min) more, with S seconds standing for one real minute",
    )
    parser.add_argument(
        "--faults", metavar="FILE", help='JSON fault rules, as PUT /_emulator/faults {"rules": [...]} (default: none)'
    )
    parser.add_argument("--seed", type=int, help="seed for ids, sizes and fault draws (default: random)")
    parser.add_argument(
        "--manual-clock", action="store_true", help="time moves only on POST /_emulator/clock (default: real time)"
    )
    parser.add_argument("--webhook-url", metavar="URL", help="POST recording webhooks to this URL (default: none)")
    parser.add_argument(
        "--webhook-header",
        action="append",
        type=_webhook_header,
        default=[],
        metavar="NAME:VALUE",
        help="send this header with every webhook delivery, as the 100ms dashboard's custom headers (repeatable; "
        "default: none)",
    )


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
        webhook_headers=list(getattr(args, "webhook_header", None) or []),
    )
