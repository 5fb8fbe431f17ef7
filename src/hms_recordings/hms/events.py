"""100ms webhook envelopes: what makes a delivery an envelope, and which recording and room an event concerns.

The envelope (reference section 8): ``{version, id, app_id, account_id, template_id, timestamp, type, data}``. The
receiver (:mod:`hms_recordings.server.events.receiver`) is generic; this module turns one parsed JSON body into a
:class:`~hms_recordings.runtime.local.ReceivedEvent` or says why it is not an envelope. Every presigned URL in
``data`` (``recording_presigned_url``, ``transcript_txt_presigned_url``, ...) is dropped before the event is stored:
a download link is a secret that only hms-get-recording-presigned-url may hand out.
"""

from __future__ import annotations

import re
from typing import Any

from hms_recordings.runtime.local import ReceivedEvent

__all__ = [
    "EVENTS_HANDLER",
    "RECORDING_URI",
    "ROOM_EVENTS_URI",
    "STREAM_PATH",
    "WEBHOOK_PATH",
    "parse_envelope",
    "recording_uri",
    "room_events_uri",
    "stream_topic",
]

#: Where 100ms delivers (the URL to fill in the dashboard ends with this), on the REST port.
WEBHOOK_PATH = "/webhooks/100ms"
#: One recording's updates as Server-Sent Events, on the REST port.
STREAM_PATH = "/recordings/{recording_id}/events"
#: The handler of hms-list-recording-events: a served capability with it keeps an event log.
EVENTS_HANDLER = "hms.list-recording-events"
RECORDING_URI = "hms://recordings/{recording_id}"
ROOM_EVENTS_URI = "hms://rooms/{room_id}/events"

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,5}$")
#: 100ms ids are 24 hex characters (rooms, recordings, sessions); anything outside this never becomes part of a URI.
_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_MAX_ID = 200


def recording_uri(recording_id: str) -> str:
    return RECORDING_URI.replace("{recording_id}", recording_id)


def room_events_uri(room_id: str) -> str:
    return ROOM_EVENTS_URI.replace("{room_id}", room_id)


def stream_topic(path_params: dict[str, str]) -> str:
    """The resource an SSE stream on :data:`STREAM_PATH` follows."""
    return recording_uri(path_params.get("recording_id", ""))


def _text(envelope: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = envelope.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise ValueError(f"a 100ms webhook envelope needs {name!r} as text of 1 to {_MAX_ID} characters")
    return value


def _recording_id(kind: str, data: dict[str, Any]) -> str | None:
    # beam.* events name the recording beam_id (the recording's id in the recordings API); the others recording_id.
    value = data.get("recording_id") or (data.get("beam_id") if kind.startswith("beam.") else None)
    return value if isinstance(value, str) and _ID.match(value) else None


def _without_presigned_urls(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if "presigned_url" not in k}


def parse_envelope(body: Any) -> ReceivedEvent:
    """The event a delivery's JSON body carries; ``ValueError`` (saying what is wrong) when it is no envelope."""
    if not isinstance(body, dict):
        raise ValueError("a 100ms webhook envelope is a JSON object")
    kind = _text(body, "type")
    if not _TYPE.match(kind):
        raise ValueError("the envelope's 'type' must be a dotted event name such as beam.started.success")
    event_id = _text(body, "id")
    occurred_at = _text(body, "timestamp")
    _text(body, "version")
    data = body.get("data")
    if not isinstance(data, dict):
        raise ValueError("a 100ms webhook envelope needs 'data' as an object")
    keys: dict[str, str] = {}
    topics: list[str] = []
    recording_id = _recording_id(kind, data)
    room_id = data.get("room_id")
    if recording_id is not None:
        keys["recording_id"] = recording_id
        topics.append(recording_uri(recording_id))
    if isinstance(room_id, str) and _ID.match(room_id):
        keys["room_id"] = room_id
        topics.append(room_events_uri(room_id))
    stored = {
        "id": event_id,
        "type": kind,
        "timestamp": occurred_at,
        "version": body.get("version"),
        "app_id": body.get("app_id") if isinstance(body.get("app_id"), str) else None,
        "room_id": keys.get("room_id"),
        "recording_id": keys.get("recording_id"),
        "data": _without_presigned_urls(data),
    }
    return ReceivedEvent(event_id, kind, occurred_at, keys, topics, stored)
