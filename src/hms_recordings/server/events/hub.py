"""Wake-ups and fan-out: a received event becomes a ``ResourceUpdated`` on the subscription bus for each resource it
changes, and everything in this process that waits on one of those resources hears it from the bus.

The bus is the SDK's ``SubscriptionBus`` protocol: in memory for one process, or Redis
(:class:`~hms_recordings.server.events.redis.RedisSubscriptionBus`) so that an event received by one replica wakes
waits and notifies subscribers on every replica. Wake-ups ride the same bus, so they travel exactly as far as the
notifications do. A watch (:meth:`EventHub.watch`) is a flag, not a queue: any number of events while nobody waits
wake the next pause once, which is all a poller needs (it looks again after waking).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import anyio
from mcp.server.subscriptions import ResourceUpdated, ServerEvent, SubscriptionBus

__all__ = ["EventHub", "TopicWatch"]


class TopicWatch:
    """One armed watch on one topic (see :meth:`EventHub.watch`)."""

    def __init__(self) -> None:
        self._fired = anyio.Event()

    def fire(self) -> None:
        self._fired.set()

    async def wait(self, seconds: float) -> bool:
        with anyio.move_on_after(max(seconds, 0.0)):
            await self._fired.wait()
        if not self._fired.is_set():
            return False
        self._fired = anyio.Event()  # re-armed: the next pause waits for the next signal
        return True


class EventHub:
    """Publishes resource updates on ``bus`` and wakes this process's watches when the bus delivers them."""

    def __init__(self, bus: SubscriptionBus) -> None:
        self.bus = bus
        self._watches: dict[str, set[TopicWatch]] = {}
        self._unsubscribe = bus.subscribe(self._deliver)

    def _deliver(self, event: ServerEvent) -> None:
        if isinstance(event, ResourceUpdated):
            for watch in list(self._watches.get(event.uri, ())):
                watch.fire()

    async def publish(self, topics: Iterable[str]) -> None:
        for topic in topics:
            await self.bus.publish(ResourceUpdated(uri=topic))

    @asynccontextmanager
    async def watch(self, topic: str) -> AsyncIterator[TopicWatch]:
        """A watch on ``topic`` armed for the block (the runtime's ``Wakeups`` protocol)."""
        watch = TopicWatch()
        self._watches.setdefault(topic, set()).add(watch)
        try:
            yield watch
        finally:
            watchers = self._watches.get(topic)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self._watches[topic]

    def watching(self) -> int:
        """Watches armed now (for tests and health)."""
        return sum(len(w) for w in self._watches.values())

    def close(self) -> None:
        self._unsubscribe()
