"""``resources/subscribe`` (the 2025 protocol era): which sessions follow which resource, and their notifications.

The subscriptions hear the same ``SubscriptionBus`` the 2026-07-28 ``subscriptions/listen`` streams do, so one
``ResourceUpdated`` published anywhere (this process, or another replica through a shared bus) reaches both eras.
Subscriptions belong to the client's *connection* (the SDK's ``Connection``, one per stateful HTTP session or
stdio pipe; ``ctx.session`` is a per-request view) and are held weakly, so they end with it. A connection without
a standalone channel (``--stateless`` HTTP) cannot be notified, so its subscribe is refused. A bus listener must not
block, so it only queues ``(connection, uri)``; one pump task, run for the server's life
(:meth:`LegacySubscriptions.running`, entered by the server's lifespan), sends the
``notifications/resources/updated`` on the connection's standalone stream.

Bounds: ``max_per_session`` URIs per session (a further subscribe is ``-32602``), ``max_queued`` notifications
waiting for the pump (more are dropped and logged: a notification says "read it again", so the next one covers it).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp.types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, ServerEvent, SubscriptionBus
from mcp.shared.exceptions import MCPError

__all__ = ["DEFAULT_MAX_QUEUED", "DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION", "LegacySubscriptions"]

logger = logging.getLogger("hms_recordings.faces")

DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION = 256
DEFAULT_MAX_QUEUED = 4096

_Pair = tuple[Any, str]


def _connection_of(ctx: ServerRequestContext[Any, Any]) -> Connection:
    # SDK 2.x hands low-level handlers a per-request ServerSession and exposes the connection behind it only on the
    # (unused) high-level Context; the session keeps it as ``_connection``. Pinned by mcp<3, and
    # tests/events/test_live_updates.py fails loudly if that ever changes.
    connection = getattr(ctx.session, "_connection", None)
    if not isinstance(connection, Connection):
        raise MCPError(code=types.INTERNAL_ERROR, message="resources/subscribe is not available on this transport")
    return connection


class LegacySubscriptions:
    def __init__(
        self,
        bus: SubscriptionBus,
        *,
        max_per_session: int = DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        self.max_per_session = max_per_session
        # Weak: a session that ends without unsubscribing is dropped with it.
        self._uris: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self.max_queued = max_queued
        self._send: MemoryObjectSendStream[_Pair] | None = None  # while running: nobody to pump otherwise
        self._unsubscribe = bus.subscribe(self._deliver)
        self.dropped = 0

    # ------------------------------------------------------------------------------------------------ handlers
    # The SDK's constructor wants handlers returning EmptyResult; these do.

    async def subscribe(self, ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams) -> Any:
        connection = _connection_of(ctx)
        if not connection.has_standalone_channel:
            raise MCPError(
                code=types.INVALID_REQUEST,
                message="this server cannot notify a stateless connection; connect to a server without --stateless",
            )
        uris = self._uris.setdefault(connection, set())
        uri = str(params.uri)
        if uri not in uris and len(uris) >= self.max_per_session:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"at most {self.max_per_session} subscriptions per session; unsubscribe from one first",
            )
        uris.add(uri)
        return types.EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams) -> Any:
        self._uris.get(_connection_of(ctx), set()).discard(str(params.uri))
        return types.EmptyResult()

    def subscribers(self, uri: str) -> int:
        return sum(1 for uris in self._uris.values() if uri in uris)

    # ------------------------------------------------------------------------------------------------ delivery

    def _deliver(self, event: ServerEvent) -> None:
        if not isinstance(event, ResourceUpdated) or self._send is None:
            return
        for connection, uris in list(self._uris.items()):
            if event.uri in uris:
                try:
                    self._send.send_nowait((connection, event.uri))
                except anyio.WouldBlock:
                    self.dropped += 1
                    logger.warning(
                        "resource update for a subscriber dropped: %d waiting",
                        self._send.statistics().current_buffer_used,
                    )

    async def _pump(self, receive: MemoryObjectReceiveStream[_Pair]) -> None:
        async for connection, uri in receive:
            # A stuck client cannot hold up everyone else's notifications for long; a closed one drops them itself.
            with anyio.move_on_after(5):
                await connection.notify("notifications/resources/updated", {"uri": uri})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        send, receive = anyio.create_memory_object_stream[_Pair](self.max_queued)
        self._send = send
        with send, receive:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pump, receive)
                try:
                    yield
                finally:
                    self._send = None
                    tg.cancel_scope.cancel()
