"""A token bucket per caller: one caller cannot spend the upstream account's budget for everyone.

Each caller (the token's subject) has a bucket of ``burst`` calls that refills at ``rate`` calls per minute. A call
takes one; an empty bucket refuses the call and says how long until one is back. Buckets are kept for at most
``max_callers`` callers (least recently seen dropped first, which hands that caller a full bucket again: at worst a
burst more, from a caller the issuer must have given a token).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["DEFAULT_MAX_CALLERS", "TokenBuckets"]

DEFAULT_MAX_CALLERS = 10_000


class TokenBuckets:
    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        *,
        max_callers: int = DEFAULT_MAX_CALLERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute <= 0 or burst < 1 or max_callers < 1:
            raise ValueError("rate_per_minute, burst and max_callers must be positive")
        self.per_second = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # caller -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, caller: str) -> float | None:
        """Take one call for ``caller``: ``None`` when allowed, else the seconds until one is available."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.pop(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.per_second)
            if tokens >= 1.0:
                self._buckets[caller] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[caller] = (tokens, now)
                wait = (1.0 - tokens) / self.per_second
            while len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
            return wait

    @staticmethod
    def retry_after(wait: float) -> int:
        """Whole seconds for a ``Retry-After`` header (rounded up, at least 1)."""
        return max(1, math.ceil(wait))
