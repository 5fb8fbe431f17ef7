"""What a server may lend handlers besides the upstream: wake-ups on a topic, and a log of received events.

The runtime only passes these along (:class:`~hms_recordings.runtime.invoker.InvokerSettings`); it never knows what
signals a topic or what the events are. Topics and the event keys are strings chosen by whoever publishes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

__all__ = ["EventLog", "ReceivedEvent", "Wakeups", "Watch"]


class Watch(Protocol):
    async def wait(self, seconds: float) -> bool:
        """Pause at most ``seconds``; ``True`` when the topic was signalled (since arming or the last wake)."""
        ...


class Wakeups(Protocol):
    def watch(self, topic: str) -> AbstractAsyncContextManager[Watch]:
        """A watch on ``topic``, armed for the block."""
        ...


class EventLog(Protocol):
    async def query(
        self,
        *,
        keys: Mapping[str, str],
        type: str | None,
        since: float | None,
        before: int | None,
        limit: int,
    ) -> Sequence[Mapping[str, Any]]:
        """Stored events matching every given key, newest first; ``before`` is a sequence number (a cursor)."""
        ...


class ReceivedEvent:
    """One event as received from outside (a webhook), ready to store: what it is and what it concerns.

    ``id`` is the sender's id (the dedupe key), ``keys`` the names it can be found by (e.g. a room), ``topics`` the
    resources it changes (what subscribers and watches hear), ``body`` what is stored and shown (secrets removed)."""

    __slots__ = ("body", "id", "keys", "occurred_at", "topics", "type")

    def __init__(
        self,
        id: str,
        type: str,
        occurred_at: str,
        keys: Mapping[str, str],
        topics: Sequence[str],
        body: Mapping[str, Any],
    ) -> None:
        self.id = id
        self.type = type
        self.occurred_at = occurred_at
        self.keys = dict(keys)
        self.topics = tuple(topics)
        self.body = dict(body)
