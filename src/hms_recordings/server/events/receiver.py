"""The webhook route: authenticate, bound, parse, store durably, dedupe, then publish.

In this order, and nothing is stored or published unless every step before it passed:

1. **who**: with a secret configured, the header it names must carry it (compared in constant time; 401 otherwise,
   the value never echoed). Without a secret the route exists only for loopback callers (a local emulator, a proxy
   on the same machine): anyone else gets 404, as if there were no route.
2. **size**: a body longer than ``max_body_bytes`` is refused with 413, read no further than that.
3. **what**: the body must be JSON and the parser must accept it as an event (400 / 422 saying why).
4. **store**: the event is committed to the log; the answer (200) waits for the commit. A delivery whose id is
   stored already answers 200 ``duplicate: true`` and changes nothing. A full write queue answers 503 with
   ``Retry-After`` (senders retry), a failing disk 503 too.
5. **publish**: a new event is published for each topic it concerns, after the claim (``dedupe``) when replicas
   share one; a Redis outage there is logged and the event stays stored (waits still poll).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hms_recordings.faces.problems import problem_response
from hms_recordings.runtime.local import ReceivedEvent
from hms_recordings.server.events.hub import EventHub
from hms_recordings.server.events.store import EventStore, StoreBusy
from hms_recordings.server.settings import is_loopback

__all__ = ["DEFAULT_MAX_WEBHOOK_BYTES", "Dedupe", "ReceiverCounts", "WebhookReceiver"]

logger = logging.getLogger("hms_recordings.server")

#: The largest delivery read: 100ms envelopes are 1-3 KB; 64 KiB leaves room and bounds what a caller can send.
DEFAULT_MAX_WEBHOOK_BYTES = 65_536


class Dedupe(Protocol):
    async def claim(self, event_id: str) -> bool:
        """``True`` for the first claim of ``event_id`` (this replica publishes it)."""
        ...


@dataclass
class ReceiverCounts:
    """What the receiver did since start (health, tests and the benchmark read these)."""

    accepted: int = 0
    duplicates: int = 0
    refused: int = 0


class WebhookReceiver:
    """``POST path``: see the module docstring."""

    def __init__(
        self,
        *,
        path: str,
        parse: Callable[[Any], ReceivedEvent],
        store: EventStore,
        hub: EventHub,
        header: str,
        secret: str | None,
        max_body_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
        dedupe: Dedupe | None = None,
    ) -> None:
        self.path = path
        self.parse = parse
        self.store = store
        self.hub = hub
        self.header = header
        self._secret = secret.encode() if secret else None
        self.max_body_bytes = max_body_bytes
        self.dedupe = dedupe
        self.counts = ReceiverCounts()

    def route(self) -> Route:
        return Route(self.path, self.receive, methods=["POST"])

    def _refuse(self, kind: str, status: int, detail: str, **headers: str) -> Response:
        self.counts.refused += 1
        return problem_response(kind, status, detail, headers=headers or None)

    async def _body(self, request: Request) -> bytes | None:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def receive(self, request: Request) -> Response:
        if self._secret is None:
            host = request.client.host if request.client else ""
            if not is_loopback(host):
                return self._refuse("no_route", 404, f"no route {request.url.path}")
        else:
            given = request.headers.get(self.header, "").encode()
            if not hmac.compare_digest(given, self._secret):
                return self._refuse("webhook_secret", 401, f"send the webhook secret in the {self.header} header")
        try:
            body = await self._body(request)
        except ClientDisconnect:
            return self._refuse("invalid_request", 400, "the delivery ended before its body did")
        if body is None:
            return self._refuse("too_large", 413, f"a delivery may be at most {self.max_body_bytes} bytes")
        try:
            event = self.parse(json.loads(body))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._refuse("invalid_request", 400, "the delivery is not JSON")
        except ValueError as exc:
            return self._refuse("invalid_arguments", 422, str(exc))
        try:
            new = await self.store.add(event)
        except StoreBusy as exc:
            return self._refuse("busy", 503, f"{exc}; retry shortly", **{"Retry-After": "1"})
        except Exception as exc:  # the disk: nothing was stored, so the sender must retry
            logger.error("could not store webhook event %s: %s", event.type, type(exc).__name__)
            return self._refuse("busy", 503, "the event could not be stored; retry shortly")
        if not new:
            self.counts.duplicates += 1
            return JSONResponse({"received": event.id, "type": event.type, "duplicate": True})
        self.counts.accepted += 1
        await self._publish(event)
        return JSONResponse({"received": event.id, "type": event.type, "duplicate": False})

    async def _publish(self, event: ReceivedEvent) -> None:
        try:
            if self.dedupe is not None and not await self.dedupe.claim(event.id):
                return  # another replica stored it first and has published it
            await self.hub.publish(event.topics)
        except Exception as exc:  # stored is what the sender was promised; waits still poll without the wake-up
            logger.warning("event %s stored but not published: %s", event.type, type(exc).__name__)
