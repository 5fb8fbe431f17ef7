"""Recording webhook payloads: the 100ms envelope and the ``data`` of each event (reference §8).

Fields follow https://www.100ms.live/docs/server-side/v2/how-to-guides/configure-webhooks/webhook (sections "RTMP
Streaming & Browser Recording Events" and "Transcription Events"). ``metadata_id`` is a fresh UUID per message and
``metadata_timestamp`` the moment the message is created for sending ("Webhook message creation timestamp"), with
sub-second precision like the samples; ``timestamp`` is the moment of the transition itself.

Building a payload is pure: everything it needs comes in an :class:`EventSource` (the app identity, fresh ids, asset
lookup and presigned URLs), so this module knows nothing of the store or of delivery (:mod:`.webhooks`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .assets import Asset
from .clock import format_timestamp
from .recording import Recording

__all__ = ["BEAM_STOPPED_MESSAGE", "EventSource", "beam_event_data", "envelope", "transcription_event_data"]

#: The documented message of error type BEAM_STOPPED (webhook page, "beam.failure" > "Error types").
BEAM_STOPPED_MESSAGE = "Beam stopped too early"


@dataclass(frozen=True)
class EventSource:
    """What payloads need from the emulator, passed in rather than imported."""

    app_id: str
    account_id: str
    template_id: str
    new_uuid: Callable[[], str]
    asset: Callable[[str], Asset]
    presigned_url: Callable[[str, float], str]
    now: Callable[[], float]


def envelope(source: EventSource, kind: str, at: float, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "id": source.new_uuid(),
        "app_id": source.app_id,
        "account_id": source.account_id,
        "template_id": source.template_id,
        "timestamp": format_timestamp(int(at)),
        "type": kind,
        "data": data,
    }


def _message(source: EventSource) -> dict[str, str]:
    return {"metadata_id": source.new_uuid(), "metadata_timestamp": format_timestamp(source.now())}


def _peer_id(rec: Recording) -> str:
    # The recorder ("beam") joins as a peer with a UUID; derive it from the job id so it is stable per recording.
    return str(uuid.UUID(hex=rec.id + "0" * 8))


def beam_event_data(source: EventSource, kind: str, rec: Recording, stop_at: float | None = None) -> dict[str, Any]:
    """``data`` of the ``beam.*`` events with the documented fields."""
    state_at = rec.updated_at if stop_at is None else stop_at
    data: dict[str, Any] = {
        "beam_id": rec.id,
        "job_id": rec.id,
        "recording_enabled": True,
        "room_id": rec.room_id,
        "peer_id": _peer_id(rec),
        "session_id": rec.session_id,
        "template_id": source.template_id,
        **_message(source),
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
            error_message=BEAM_STOPPED_MESSAGE,
            error_type="BEAM_STOPPED",
            state_name="Failed",
            state_timestamp=format_timestamp(state_at),
            duration=0,
        )
    elif kind == "beam.recording.success":
        for name in ("job_id", "recording_enabled", "rtmp"):
            data.pop(name)
        assets = [source.asset(i) for i in rec.asset_ids or []]
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
            recording_presigned_url=source.presigned_url(composite.id, rec.updated_at),
            chat_recording_path=chat.path,
            chat_recording_presigned_url=source.presigned_url(chat.id, rec.updated_at),
            rtmp=[],
            size=composite.size,
        )
    return data


def transcription_event_data(source: EventSource, kind: str, rec: Recording, at: float) -> dict[str, Any]:
    """``data`` of ``transcription.started.success`` / ``transcription.success``; paths and URLs only after start."""
    assets = [source.asset(i) for i in rec.asset_ids or []]
    by_key = {("summary_json" if a.type == "summary" else f"transcript_{a.output_mode}"): a for a in assets}
    data: dict[str, Any] = {
        "account_id": source.account_id,
        "app_id": source.app_id,
        "recording_id": rec.id,
        "room_id": rec.room_id,
        "room_name": f"room-{rec.room_id[-6:]}",
        "session_id": rec.session_id,
        **_message(source),
        "transcription_id": rec.id,
        "duration": rec.duration,
    }
    for key in ("summary_json", "transcript_json", "transcript_srt", "transcript_txt"):
        asset = by_key.get(key)
        data[f"{key}_asset_id"] = asset.id if asset else ""
        if kind != "transcription.started.success":
            data[f"{key}_path"] = asset.path if asset else ""
            data[f"{key}_presigned_url"] = source.presigned_url(asset.id, at) if asset else ""
    return data
