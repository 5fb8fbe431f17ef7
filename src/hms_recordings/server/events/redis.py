"""Several replicas: the subscription bus, the wake-ups and the dedupe of deliveries through one Redis server.

:class:`RedisSubscriptionBus` implements the SDK's ``SubscriptionBus``: ``publish`` sends the event on one Redis
pub/sub channel, and a task reading that channel hands every event (this replica's own included) to the local
listeners - the listen streams, the 2025-era subscriptions and the wake-ups of :class:`~.hub.EventHub`. Pub/sub is
fire-and-forget, like the bus itself: a replica that is disconnected misses what was published meanwhile, and its
waits fall back to polling. :class:`RedisDedupe` claims an event id with ``SET NX EX``: the first replica to store
an event publishes it; a retried or repeated delivery to any replica within ``ttl`` seconds is not published again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskStatus
from mcp.server.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["DEFAULT_CHANNEL", "DEFAULT_DEDUPE_TTL", "RedisDedupe", "RedisSubscriptionBus", "connect"]

logger = logging.getLogger("hms_recordings.server")

DEFAULT_CHANNEL = "hms-recordings:events"
#: Seconds a delivered id is remembered across replicas: 100ms retries within 14 s, replays come later, a day covers
#: both while the keys stay few (one per event, about 100 bytes).
DEFAULT_DEDUPE_TTL = 86_400

_LIST_CHANGED: dict[str, ServerEvent] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
}


def connect(url: str) -> Redis:
    """A client for ``url`` (``redis://`` or ``rediss://``) with bounded timeouts: a hung Redis never hangs a call."""
    return Redis.from_url(url, socket_connect_timeout=5.0, socket_timeout=5.0, health_check_interval=30)


def _encode(event: ServerEvent) -> str:
    if isinstance(event, ResourceUpdated):
        return json.dumps({"kind": "resource", "uri": event.uri})
    kind = next(name for name, sample in _LIST_CHANGED.items() if type(sample) is type(event))
    return json.dumps({"kind": kind})


def _decode(raw: bytes | str) -> ServerEvent | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    if message.get("kind") == "resource" and isinstance(message.get("uri"), str):
        return ResourceUpdated(uri=message["uri"])
    return _LIST_CHANGED.get(str(message.get("kind")))


class RedisSubscriptionBus:
    """The SDK's ``SubscriptionBus`` over Redis pub/sub; :meth:`run` (with ``tg.start``) while it is used."""

    def __init__(self, client: Redis, channel: str = DEFAULT_CHANNEL) -> None:
        self.client = client
        self.channel = channel
        self._listeners: dict[object, Callable[[ServerEvent], None]] = {}

    async def publish(self, event: ServerEvent) -> None:
        await self.client.publish(self.channel, _encode(event))

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    def _fan_out(self, event: ServerEvent) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # one bad listener must not starve the others
                logger.exception("subscription listener raised; continuing")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Read the channel until cancelled; started (``task_status``) once the subscription is in place."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        task_status.started()
        try:
            while True:
                try:
                    # A bounded read, so that a quiet channel is never mistaken for a dead socket.
                    message: dict[str, Any] | None = await pubsub.get_message(timeout=1.0)
                except RedisError as exc:  # redis-py reconnects and subscribes again on the next read
                    logger.warning("redis subscription interrupted (%s); reconnecting", type(exc).__name__)
                    await anyio.sleep(1.0)
                    continue
                if message is None or message.get("type") != "message":
                    continue
                event = _decode(message["data"])
                if event is not None:
                    self._fan_out(event)
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


class RedisDedupe:
    """Which replica publishes an event: the first to claim its id (kept ``ttl`` seconds)."""

    def __init__(self, client: Redis, ttl: int = DEFAULT_DEDUPE_TTL, prefix: str = "hms-recordings:seen:") -> None:
        self.client = client
        self.ttl = ttl
        self.prefix = prefix

    async def claim(self, event_id: str) -> bool:
        # Hashed: the key's length is bounded whatever the sender's id looks like.
        key = self.prefix + hashlib.sha256(event_id.encode()).hexdigest()
        return bool(await self.client.set(key, "1", nx=True, ex=self.ttl))
