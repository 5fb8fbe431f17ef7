"""Fault injection: rules that make matching requests fail, vanish or slow down.

A rule is the JSON object of the admin API (product.md, "Emulator admin API")::

    {"method": "GET", "path_prefix": "/v2/recordings", "rate": 0.3, "status": 503,
     "retry_after": 1, "latency_ms": 0, "mode": "error"}

Modes: ``error`` answers ``status`` (plus ``Retry-After`` when ``retry_after`` is set) without doing the work;
``drop`` closes the connection without doing the work; ``drop-after-commit`` does the work, then closes the connection
without answering; ``cut`` sends the status, the headers and the first ``after_bytes`` bytes of the body, then closes
the connection (an interrupted download, for testing a resume with ``Range``); ``latency`` only delays.
``latency_ms`` delays every mode. ``rate`` is drawn from the emulator's seeded generator, so a seeded run injects the
same faults in the same places.

Dropping a connection has no ASGI message, so :func:`drop_connection` does what each host allows: under uvicorn it
closes the socket (the client sees a disconnect with no response); in-process (httpx ``ASGITransport``) it raises
:class:`ConnectionDropped`, a ``httpx2.RemoteProtocolError``, which the transport hands to the client unchanged — the
same exception an httpx client gets when a server hangs up on it.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx2
from starlette.types import Receive, Send

__all__ = ["FAULT_MODES", "ConnectionDropped", "FaultRule", "drop_connection", "load_faults_file", "parse_fault_rules"]

FAULT_MODES = ("error", "drop", "drop-after-commit", "cut", "latency")


class ConnectionDropped(httpx2.RemoteProtocolError):
    """Raised in-process where a real server would have closed the connection without answering."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a response (emulator fault: drop).")


@dataclass(frozen=True)
class FaultRule:
    """One fault rule; ``method`` ``None`` (or ``"*"`` in JSON) matches every method."""

    path_prefix: str = "/"
    method: str | None = None
    rate: float = 1.0
    status: int = 503
    retry_after: float | None = None
    latency_ms: int = 0
    mode: str = "error"
    after_bytes: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and path.startswith(self.path_prefix)

    def fires(self, rng: random.Random) -> bool:
        # Rates of 0 and 1 do not consume a draw, so adding a certain rule does not shift a seeded sequence.
        if self.rate >= 1.0:
            return True
        if self.rate <= 0.0:
            return False
        return rng.random() < self.rate

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["method"] = self.method or "*"
        return data


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_rule(raw: Any, index: int) -> FaultRule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    known = {"method", "path_prefix", "rate", "status", "retry_after", "latency_ms", "mode", "after_bytes"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where} has unknown fields: {', '.join(unknown)}")
    method = raw.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError(f"{where}.method must be a string")
    prefix = raw.get("path_prefix", "/")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ValueError(f"{where}.path_prefix must be a string starting with /")
    rate = raw.get("rate", 1.0)
    if not _number(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"{where}.rate must be a number between 0 and 1")
    status = raw.get("status", 503)
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise ValueError(f"{where}.status must be an integer between 200 and 599")
    retry_after = raw.get("retry_after")
    if retry_after is not None and (not _number(retry_after) or not 0 <= retry_after <= 86_400):
        raise ValueError(f"{where}.retry_after must be a number of seconds between 0 and 86400")
    latency = raw.get("latency_ms", 0)
    if not isinstance(latency, int) or isinstance(latency, bool) or not 0 <= latency <= 600_000:
        raise ValueError(f"{where}.latency_ms must be an integer between 0 and 600000")
    mode = raw.get("mode", "error")
    if mode not in FAULT_MODES:
        raise ValueError(f"{where}.mode must be one of {', '.join(FAULT_MODES)}")
    after = raw.get("after_bytes", 0)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= 2**53:
        raise ValueError(f"{where}.after_bytes must be an integer >= 0")
    normalized = None if method in (None, "", "*") else method.upper()
    return FaultRule(prefix, normalized, float(rate), status, retry_after, latency, mode, after)


def parse_fault_rules(document: Any) -> list[FaultRule]:
    """Rules from ``{"rules": [...]}`` (or a bare list); raises ``ValueError`` naming the first bad field."""
    rules = document.get("rules") if isinstance(document, dict) else document
    if not isinstance(rules, list):
        raise ValueError('expected {"rules": [...]}')
    return [_parse_rule(raw, i) for i, raw in enumerate(rules)]


def load_faults_file(path: str | Path) -> list[FaultRule]:
    """Read the same JSON as ``PUT /_emulator/faults`` from a file (``--faults FILE``)."""
    return parse_fault_rules(json.loads(Path(path).read_text(encoding="utf-8")))


async def drop_connection(receive: Receive, send: Send) -> None:
    """Hang up without answering: close the socket under uvicorn, raise :class:`ConnectionDropped` otherwise."""
    # uvicorn passes a bound method of its request cycle as ``send``; its transport is the only handle on the socket.
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "close"):
        raise ConnectionDropped
    transport.close()
    # Wait for uvicorn to notice the disconnect, so that returning without a response is not reported as an app bug.
    while (await receive())["type"] != "http.disconnect":
        pass
