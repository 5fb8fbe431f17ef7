"""Webhook delivery: POST each envelope to the configured URL with the documented retries (reference §8).

Payloads are built elsewhere (:mod:`.events`) at the moment the state machine moves. When a ``webhook_url`` is
configured, the app's lifespan runs a :class:`WebhookSender` that POSTs each envelope, with the configured custom
headers (``--webhook-header NAME:VALUE``, as the 100ms dashboard's webhook headers: 100ms does not sign deliveries,
https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/secure-webhooks), and retries at +1 s,
+3 s and +10 s on the emulator clock until it gets an HTTP 200
(https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/overview). Header values are secrets:
they are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import anyio
import httpx2
from anyio.streams.memory import MemoryObjectReceiveStream

from .clock import Clock

__all__ = ["RETRY_DELAYS", "WebhookSender"]

logger = logging.getLogger("hms_recordings.emulator")

#: Seconds to wait before each retry after a non-200 answer (reference §8): three retries after the first attempt.
RETRY_DELAYS = (1.0, 3.0, 10.0)


class WebhookSender:
    """Delivers envelopes to one URL; each event is retried independently so one slow receiver delays only itself."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        client: httpx2.AsyncClient | None = None,
        headers: Sequence[tuple[str, str]] = (),
        max_in_flight: int = 64,
    ) -> None:
        self.url = url
        self.clock = clock
        self._client = client
        self._headers = dict(headers)
        # Bounds concurrent deliveries (each may wait out its retries): the loop takes a slot before it starts one,
        # so events wait in the (bounded) stream rather than as an unbounded number of tasks.
        self._slots = anyio.Semaphore(max_in_flight)
        self.delivered = 0
        self.abandoned = 0

    async def run(self, events: MemoryObjectReceiveStream[dict[str, Any]]) -> None:
        owned = self._client is None
        client = self._client or httpx2.AsyncClient(timeout=10.0)
        try:
            async with anyio.create_task_group() as tg, events:
                async for event in events:
                    await self._slots.acquire()
                    tg.start_soon(self._deliver, client, event)
        finally:
            if owned:
                await client.aclose()

    async def _deliver(self, client: httpx2.AsyncClient, event: dict[str, Any]) -> None:
        try:
            await self._attempts(client, event)
        finally:
            self._slots.release()

    async def _attempts(self, client: httpx2.AsyncClient, event: dict[str, Any]) -> None:
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                await self.clock.sleep(delay)
            try:
                response = await client.post(self.url, json=event, headers=self._headers)
            except httpx2.HTTPError as exc:
                logger.warning("webhook %s attempt %d failed: %s", event["type"], attempt + 1, type(exc).__name__)
                continue
            if response.status_code == 200:
                self.delivered += 1
                return
            logger.warning("webhook %s attempt %d answered %d", event["type"], attempt + 1, response.status_code)
        self.abandoned += 1
        logger.error("webhook %s (%s) abandoned after %d attempts", event["type"], event["id"], len(RETRY_DELAYS) + 1)
