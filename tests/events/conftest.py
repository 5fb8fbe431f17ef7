"""The events rig: the one rig (tests/rig.py) with an event log and hub lent to its handlers, hosted behind the
REST face as ``serve`` hosts it, and the emulator's webhooks delivered to that face's receiver in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp.server import Server
from mcp.server.subscriptions import InMemorySubscriptionBus
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.capability.loader import BUILTIN_CAPABILITY
from hms_recordings.emulator import EmulatorConfig
from hms_recordings.faces.mcp import build_mcp_server
from hms_recordings.server.events.hub import EventHub
from hms_recordings.server.events.store import EventStore
from hms_recordings.server.events.wiring import Events
from hms_recordings.server.metrics import Metrics
from hms_recordings.server.serve import Hosted, events_plug, rest_face
from hms_recordings.server.settings import ServeSettings
from tests.hosting import BASE
from tests.rig import Rig, make_rig

__all__ = ["HEADER", "SECRET", "EventsRig", "envelope", "events_rig", "polling_capability"]

HEADER = "X-Webhook-Secret"
SECRET = "test-webhook-secret-0123456789"


def envelope(
    kind: str, *, id: str, room_id: str, recording_id: str, at: str = "2026-12-01T10:00:00Z"
) -> dict[str, Any]:
    """A 100ms envelope as the dashboard's webhook sends it (reference section 8)."""
    data: dict[str, Any] = {"beam_id": recording_id, "room_id": room_id, "session_id": "6b0000000000000000000001"}
    if kind == "beam.recording.success":
        data.update(
            recording_id=recording_id,
            recording_path="s3://bucket/rec.mp4",
            recording_presigned_url="https://bucket.example/rec.mp4?X-Amz-Signature=SECRETSIG",
            chat_recording_presigned_url="https://bucket.example/chat.csv?X-Amz-Signature=SECRETSIG",
            size=1234,
        )
    return {
        "version": "2.0",
        "id": id,
        "app_id": "app",
        "account_id": "acct",
        "template_id": "tpl",
        "timestamp": at,
        "type": kind,
        "data": data,
    }


def polling_capability(tmp: Path, seconds: float) -> Path:
    """The built-in capability with hms-wait-for-recording polling every ``seconds`` (first poll included)."""
    text = BUILTIN_CAPABILITY.read_text(encoding="utf-8")
    old = "x-options: { default_timeout: 120, max_timeout: 900, first_poll: 0.25, max_poll: 5.0 }"
    assert old in text
    path = tmp / "recordings-slow-poll.yaml"
    path.write_text(
        text.replace(
            old, f"x-options: {{ default_timeout: 120, max_timeout: 900, first_poll: {seconds}, max_poll: {seconds} }}"
        )
    )
    return path


class _Late:
    """An ASGI app bound after it is handed out: the emulator's webhook client needs the receiver before it exists."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@dataclass
class EventsRig:
    rig: Rig
    store: EventStore
    hub: EventHub
    events: Events
    rest: httpx2.AsyncClient
    rest_app: ASGIApp

    def mcp_server(self) -> Server[Any]:
        return build_mcp_server(self.rig.service, subscriptions=self.events.bus)

    async def deliver(self, body: Any, *, headers: dict[str, str] | None = None) -> httpx2.Response:
        sent = {HEADER: SECRET} if headers is None else headers
        return await self.rest.post("/webhooks/100ms", json=body, headers=sent)


@asynccontextmanager
async def events_rig(
    tmp: Path,
    *,
    secret: str | None = SECRET,
    source: Path | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50123),
    processing_time: float = 0,
    **settings: Any,
) -> AsyncIterator[EventsRig]:
    """An :class:`EventsRig` whose emulator (manual clock) delivers its webhooks, with the secret, to the receiver."""
    late = _Late()
    webhooks = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=late, client=client), base_url=BASE)
    config = EmulatorConfig(
        manual_clock=True,
        start_delay=0,
        processing_time=processing_time,
        seed=3,
        webhook_url=f"{BASE}/webhooks/100ms",
        webhook_headers=[(HEADER, secret)] if secret else [],
        webhook_client=webhooks,
    )
    bus = InMemorySubscriptionBus()
    hub = EventHub(bus)
    serve_settings = ServeSettings(webhook_secret=secret, **settings)
    async with (
        webhooks,
        EventStore(tmp / "events.sqlite3") as store,
        make_rig(source, emulator=config, wakeups=hub, event_log=store) as rig,
    ):
        plug = events_plug(rig.service.inventory)
        assert plug is not None
        events = Events(store, bus, hub, plug, serve_settings)
        hosted = Hosted(rig.service, [rig.service], [rig.service.inventory.capability], Metrics(), events=events)
        app = rest_face(hosted, serve_settings)
        late.app = app
        transport = httpx2.ASGITransport(app=app, client=client)
        async with httpx2.AsyncClient(transport=transport, base_url=BASE) as rest:
            yield EventsRig(rig, store, hub, events, rest, app)
