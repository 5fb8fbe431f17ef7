"""Deadlines on inbound HTTP connections: a client that sends nothing, or a byte at a time, is cut off.

uvicorn closes a connection that stays idle *between* requests (its keep-alive timeout), but it arms that timer only
after a first answer, and cancels it at the first byte of the next request. So a connection that never sends a
byte, or sends its headers or its body one byte every few seconds, is held open for ever: a few hundred of them hold
every file descriptor of the process. :func:`deadline_protocol` gives uvicorn a protocol (h11's, plus two timers)
that closes such a connection:

- **headers**: from the connection's start, or from the first byte of a following request, the request line and
  every header must arrive within ``header_timeout`` seconds;
- **body**: once the headers are in, the whole body must arrive within ``body_timeout`` seconds;
- **keep-alive**: between requests, uvicorn's own ``timeout_keep_alive``.

A connection cut off before any answer started gets ``408 Request Timeout`` (``Connection: close``) and is closed; a
request whose body stops coming while the application waits for it sees ``http.disconnect``. Nothing bounds how long
the *application* takes to answer once the request is in: that is the retry deadline's business, and a long-lived
event stream (MCP's GET) is legitimate. Shared by every port: MCP, REST, control and the emulator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ConnectionTimeouts", "deadline_protocol", "uvicorn_options"]


@dataclass(frozen=True)
class ConnectionTimeouts:
    """Seconds; the defaults are documented with the settings (``server/settings.py``)."""

    header: float = 10.0
    body: float = 30.0
    keep_alive: float = 5.0


_BODY = b"the request did not arrive in time"
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    + f"content-length: {len(_BODY)}\r\n\r\n".encode()
    + _BODY
)


class _DeadlineProtocol(H11Protocol):
    timeouts: ConnectionTimeouts = ConnectionTimeouts()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str = ""  # "headers", "body" or "" (nothing is being waited for)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Pipelined bytes may already hold the next request's start; otherwise uvicorn's keep-alive timer runs
        # until the next byte, and data_received takes over from there.
        if self.conn.their_state is h11.IDLE and self._waiting_for == "" and self.conn.trailing_data[0]:
            self._arm("headers")

    def _follow(self) -> None:
        """Move the deadline along with what h11 has seen of the request."""
        state = self.conn.their_state
        if state is h11.IDLE:  # the request line and headers are still coming
            if self._waiting_for != "headers":
                self._arm("headers")
        elif state is h11.SEND_BODY:
            if self._waiting_for != "body":
                self._arm("body")
        else:  # DONE, MUST_CLOSE, CLOSED, ERROR: the request is in (or over)
            self._disarm()

    def _arm(self, what: str) -> None:
        self._disarm()
        seconds = self.timeouts.header if what == "headers" else self.timeouts.body
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = ""

    def _expired(self) -> None:
        self._deadline = None
        self._waiting_for = ""
        if self.transport is None or self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            started = cycle.response_started
            cycle.disconnected = True  # the application's receive() now answers http.disconnect
            cycle.message_event.set()
            if not started:
                self.transport.write(_TIMED_OUT)
        elif cycle is None or cycle.response_complete:
            self.transport.write(_TIMED_OUT)
        self.transport.close()


def deadline_protocol(timeouts: ConnectionTimeouts) -> type[asyncio.Protocol]:
    """The protocol class to pass as ``uvicorn.Config(http=...)``, with these deadlines."""
    return type("DeadlineH11Protocol", (_DeadlineProtocol,), {"timeouts": timeouts})


def uvicorn_options(timeouts: ConnectionTimeouts) -> dict[str, Any]:
    """The ``uvicorn.Config`` keywords that apply ``timeouts`` (the protocol, and the keep-alive timeout)."""
    return {"http": deadline_protocol(timeouts), "timeout_keep_alive": timeouts.keep_alive}
