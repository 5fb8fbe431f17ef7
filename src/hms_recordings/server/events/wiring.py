"""The events part of a server, built from the settings: the log, the bus (in memory, or Redis with
``HMS_RECORDINGS_REDIS_URL``), the hub, and the HTTP routes a capability's webhook plug asks for.

:class:`EventsPlug` is what a capability's code provides (the 100ms one in :mod:`hms_recordings.hms.events`): where
deliveries arrive, how one is parsed, and which resource an SSE stream follows. Everything else is generic.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus, SubscriptionBus
from redis.exceptions import RedisError
from starlette.routing import BaseRoute

from hms_recordings.errors import ConfigError
from hms_recordings.runtime.invoker import CallContext
from hms_recordings.runtime.local import ReceivedEvent
from hms_recordings.runtime.service import Service, UnknownResourceError
from hms_recordings.server.events.hub import EventHub
from hms_recordings.server.events.receiver import Dedupe, WebhookReceiver
from hms_recordings.server.events.sse import ReadResult, ResourceStream
from hms_recordings.server.events.store import EventStore
from hms_recordings.server.settings import ServeSettings

__all__ = ["Events", "EventsPlug", "open_events"]

logger = logging.getLogger("hms_recordings.server")

#: Outcome kinds that mean "no such resource" for a stream's first read.
_MISSING = {"not_found": 404, "invalid_arguments": 404}


@dataclass(frozen=True)
class EventsPlug:
    webhook_path: str
    parse: Callable[[Any], ReceivedEvent]
    stream_path: str
    stream_topic: Callable[[dict[str, str]], str]


@dataclass
class Events:
    store: EventStore
    bus: SubscriptionBus
    hub: EventHub
    plug: EventsPlug
    settings: ServeSettings
    dedupe: Dedupe | None = None
    receiver: WebhookReceiver | None = None
    stream: ResourceStream | None = None

    def routes(self, service: Service) -> list[BaseRoute]:
        """The webhook receiver and the SSE stream, for the REST face."""
        secret = self.settings.webhook_secret
        self.receiver = WebhookReceiver(
            path=self.plug.webhook_path,
            parse=self.plug.parse,
            store=self.store,
            hub=self.hub,
            header=self.settings.webhook_header,
            secret=secret.get_secret_value() if secret is not None else None,
            max_body_bytes=self.settings.webhook_max_bytes,
            dedupe=self.dedupe,
        )

        async def read(uri: str) -> ReadResult:
            try:
                outcome, _mime = await service.read(uri, CallContext(face="rest"))
            except UnknownResourceError:
                return None, (404, "not_found", f"no resource {uri}")
            if outcome.error is not None:
                status = _MISSING.get(outcome.error.kind, 502)
                return None, (status, outcome.error.kind, outcome.error.message)
            return (outcome.text if outcome.text is not None else str(outcome.data)), None

        self.stream = ResourceStream(
            path=self.plug.stream_path,
            topic=self.plug.stream_topic,
            read=read,
            hub=self.hub,
            max_streams=self.settings.sse_max_streams,
        )
        return [self.receiver.route(), self.stream.route()]

    @property
    def open_paths(self) -> tuple[str, ...]:
        """Paths with their own authentication (the webhook's secret header), exempt from the bearer token."""
        return (self.plug.webhook_path,) if self.settings.webhook_secret is not None else ()


@asynccontextmanager
async def open_events(settings: ServeSettings, plug: EventsPlug) -> AsyncIterator[Events]:
    """Open the log (and Redis, when configured) for the block; the bus's reader runs until it exits."""
    path = settings.events_path()
    store = EventStore(path, max_events=settings.events_max, max_age_days=settings.events_max_age_days)
    async with store, anyio.create_task_group() as tg:
        dedupe: Dedupe | None = None
        client = None
        bus: SubscriptionBus
        if settings.redis_url is not None:
            from hms_recordings.server.events.redis import RedisDedupe, RedisSubscriptionBus, connect

            client = connect(settings.redis_url.get_secret_value())
            try:
                await client.ping()
            except RedisError as exc:
                await client.aclose()
                raise ConfigError(
                    f"cannot reach Redis at HMS_RECORDINGS_REDIS_URL ({type(exc).__name__}); start it or unset the "
                    "variable to keep events in this process"
                ) from None
            redis_bus = RedisSubscriptionBus(client)
            await tg.start(redis_bus.run)
            bus, dedupe = redis_bus, RedisDedupe(client, ttl=settings.dedupe_ttl)
        else:
            bus = InMemorySubscriptionBus()
        hub = EventHub(bus)
        logger.info("event log at %s%s", path, "; replicas share events through Redis" if client else "")
        try:
            yield Events(store, bus, hub, plug, settings, dedupe)
        finally:
            hub.close()
            tg.cancel_scope.cancel()
            if client is not None:
                with anyio.CancelScope(shield=True):
                    await client.aclose()
