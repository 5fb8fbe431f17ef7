"""Clocks for the emulator: real time for servers, a manual clock that tests advance explicitly.

Recordings move when the state is read: every request ticks the state machine (see :mod:`.state`), and on the real
clock the app's lifespan also runs a light background ticker (every ``tick_interval``, 0.25 s) so that webhooks fire
without traffic. The clock is the only source of time, and a :class:`ManualClock` makes every run deterministic:
with it there is no ticker and nothing happens until a test calls :meth:`ManualClock.advance` (or
``POST /_emulator/clock``).
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import anyio.lowlevel

__all__ = ["Clock", "ManualClock", "RealClock", "format_timestamp"]


class Clock(Protocol):
    """What the emulator needs from time: the current epoch seconds and a way to wait on that time line."""

    @property
    def manual(self) -> bool: ...

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall-clock time; sleeping really sleeps."""

    manual = False

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to. ``sleep`` waits until the clock has been advanced far enough."""

    manual = True

    def __init__(self, start: float | None = None) -> None:
        # Starting at the real time (whole seconds) keeps freshly minted management tokens valid on this clock.
        self._now = float(int(time.time())) if start is None else float(start)
        self._waiters: list[tuple[float, anyio.Event]] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0), wake every sleeper whose deadline passed, return the new time."""
        if seconds < 0:
            raise ValueError("a manual clock only moves forward")
        self._now += seconds
        due = [event for deadline, event in self._waiters if deadline <= self._now]
        self._waiters = [(d, e) for d, e in self._waiters if d > self._now]
        for event in due:
            event.set()
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        self._waiters.append((self._now + seconds, event))
        await event.wait()


def format_timestamp(epoch: float) -> str:
    """RFC 3339 UTC with variable fractional precision and a ``Z``, as the API writes them (reference §1)."""
    whole = int(epoch)
    micros = round((epoch - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, 0
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if micros:
        return f"{base}.{micros:06d}".rstrip("0") + "Z"
    return base + "Z"
