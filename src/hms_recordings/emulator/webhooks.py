"""Recording webhooks: the 100ms envelope, the event payloads, and delivery with the documented retries (§8).

Events are computed where the state machine moves (:mod:`.state`), with the transition's own timestamp from the
emulator clock, and queued. When a ``webhook_url`` is configured, the app's lifespan runs a :class:`WebhookSender`
that POSTs each envelope and retries at +1 s, +3 s and +10 s (on the emulator clock) until it gets an HTTP 200.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from anyio.streams.memory import MemoryObjectReceiveStream

from .clock import Clock, format_timestamp
from .presign import DEFAULT_PRESIGN_SECONDS

if TYPE_CHECKING:
    from .state import EmulatorState, Recording

__all__ = ["RETRY_DELAYS", "WebhookSender", "beam_event_data", "envelope", "transcription_event_data"]

logger = logging.getLogger("hms_recordings.emulator")

#: Seconds to wait before each retry after a non-200 answer (reference §8): three retries after the first attempt.
RETRY_DELAYS = (1.0, 3.0, 10.0)


def envelope(state: EmulatorState, kind: str, at: float, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "id": str(uuid.UUID(int=state.rng.getrandbits(128), version=4)),
        "app_id": state.app_id,
        "account_id": state.account_id,
        "template_id": state.template_id,
        "timestamp": format_timestamp(at),
        "type": kind,
        "data": data,
    }


def _peer_id(rec: Recording) -> str:
    # The recorder ("beam") joins as a peer with a UUID; derive it from the job id so it is stable per recording.
    return str(uuid.UUID(hex=rec.id + "0" * 8))


def _presigned(state: EmulatorState, asset_id: str, at: float) -> str:
    return state.presigner.url(state.public_base_url, asset_id, int(at) + DEFAULT_PRESIGN_SECONDS)


def beam_event_data(state: EmulatorState, kind: str, rec: Recording, stop_at: float | None = None) -> dict[str, Any]:
    """``data`` of the ``beam.*`` events with the fields listed in reference §8."""
    state_at = rec.updated_at if stop_at is None else stop_at
    data: dict[str, Any] = {
        "beam_id": rec.id,
        "job_id": rec.id,
        "recording_enabled": True,
        "room_id": rec.room_id,
        "peer_id": _peer_id(rec),
        "session_id": rec.session_id,
        "template_id": state.template_id,
        "metadata_id": rec.id,
        "metadata_timestamp": format_timestamp(rec.created_at),
        "max_width": rec.width,
        "max_height": rec.height,
        "meeting_url": rec.meeting_url,
        "rtmp": [],
        "session_started_at": format_timestamp(rec.created_at),
    }
    if kind == "beam.started.success":
        data.update(start_delay=int(rec.running_at - rec.created_at), state_name="Started")
        data["state_timestamp"] = format_timestamp(rec.running_at)
    elif kind == "beam.stopped.success":
        elapsed = int(state_at - (rec.started_at or state_at) - rec.paused_total)
        data.update(duration=max(0, elapsed), state_name="Stopped", reason="client request")
        data["state_timestamp"] = format_timestamp(state_at)
    elif kind == "beam.failure":
        data.update(
            error_code=0,
            error_message="beam stopped before the recording started",
            error_type="BEAM_STOPPED",
            state_name="Failed",
            state_timestamp=format_timestamp(state_at),
            duration=0,
        )
    elif kind == "beam.recording.success":
        for name in ("job_id", "recording_enabled", "rtmp"):
            data.pop(name)
        assets = [state.asset_by_id(i) for i in rec.asset_ids or []]
        composite = next(a for a in assets if a.type == "room-composite")
        chat = next(a for a in assets if a.type == "chat")
        data.update(
            created_at=format_timestamp(rec.created_at),
            duration=rec.duration,
            location="",
            started_at=format_timestamp(rec.started_at or rec.created_at),
            stopped_at=format_timestamp(rec.stopped_at or rec.updated_at),
            recording_id=rec.id,
            recording_path=composite.path,
            recording_presigned_url=_presigned(state, composite.id, rec.updated_at),
            chat_recording_path=chat.path,
            chat_recording_presigned_url=_presigned(state, chat.id, rec.updated_at),
            rtmp=[],
            size=composite.size,
        )
    return data


def transcription_event_data(state: EmulatorState, kind: str, rec: Recording) -> dict[str, Any]:
    """``data`` of ``transcription.started.success`` / ``transcription.success`` (reference §8)."""
    assets = [state.asset_by_id(i) for i in rec.asset_ids or []]
    by_key = {("summary_json" if a.type == "summary" else f"transcript_{a.output_mode}"): a for a in assets}
    data: dict[str, Any] = {
        "account_id": state.account_id,
        "app_id": state.app_id,
        "recording_id": rec.id,
        "room_id": rec.room_id,
        "room_name": f"room-{rec.room_id[-6:]}",
        "session_id": rec.session_id,
        "metadata_id": rec.id,
        "metadata_timestamp": format_timestamp(rec.created_at),
        "transcription_id": rec.id,
        "duration": rec.duration,
    }
    for key in ("summary_json", "transcript_json", "transcript_srt", "transcript_txt"):
        asset = by_key.get(key)
        data[f"{key}_asset_id"] = asset.id if asset else ""
        if kind != "transcription.started.success":
            data[f"{key}_path"] = asset.path if asset else ""
            data[f"{key}_presigned_url"] = _presigned(state, asset.id, rec.updated_at) if asset else ""
    return data


class WebhookSender:
    """Delivers envelopes to one URL; each event is retried independently so one slow receiver delays only itself."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        client: httpx2.AsyncClient | None = None,
        secret_header: tuple[str, str] | None = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self._client = client
        self._headers = {secret_header[0]: secret_header[1]} if secret_header else {}
        self.delivered = 0
        self.abandoned = 0

    async def run(self, events: MemoryObjectReceiveStream[dict[str, Any]]) -> None:
        owned = self._client is None
        client = self._client or httpx2.AsyncClient(timeout=10.0)
        try:
            async with anyio.create_task_group() as tg, events:
                async for event in events:
                    tg.start_soon(self._deliver, client, event)
        finally:
            if owned:
                await client.aclose()

    async def _deliver(self, client: httpx2.AsyncClient, event: dict[str, Any]) -> None:
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
