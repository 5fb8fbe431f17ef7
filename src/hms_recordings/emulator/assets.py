"""Recording assets: what a completed recording leaves behind, where it is stored, and the bytes it downloads.

On completion a recording yields a ``room-composite`` (metadata carries the resolution) and a ``chat`` asset, both
``completed``; with transcription enabled, one ``transcript`` per output mode and, when the summary is enabled, one
``summary``, all in ``processing`` until the transcription is done (reference §4.8, §9;
https://www.100ms.live/docs/server-side/v2/api-reference/recordings/start-recording-for-room). Every asset carries
``thumbnails: null``, as every example of
https://www.100ms.live/docs/server-side/v2/api-reference/recording-assets/get-asset does (only ``room-vod`` has
thumbnails, and the emulator makes none).

Paths follow https://www.100ms.live/docs/get-started/v2/get-started/features/recordings/recording-assets/storage-configuration
(``<prefix>/beam/<room_id>/<start_date>/Rec-<room_id>-<epoch>.mp4``) and
https://www.100ms.live/docs/get-started/v2/get-started/features/recordings/chat-recording (``.../chat/...csv``);
transcripts and summaries have no documented path, so the same shape under ``transcript/`` and ``summary/`` is used.

A download is exactly ``size`` bytes: the composite is a generated MP4 (:mod:`.mp4`), the others the generated text
of :mod:`.content`, whose length *is* the size.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .clock import format_timestamp
from .content import Meeting, chat_csv, summary_json, transcript_json, transcript_srt, transcript_txt
from .mp4 import mp4_layout

__all__ = ["BUCKET", "Asset", "Body", "asset_body", "build_assets", "complete_transcription", "storage_folder"]

BUCKET = "s3://hms-emulator-recordings"

_CONTENT_TYPES = {
    "room-composite": "video/mp4",
    "chat": "text/csv",
    "summary": "application/json",
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip",
    "json": "application/json",
}
_TEXT = {"txt": transcript_txt, "srt": transcript_srt, "json": transcript_json}


@dataclass(slots=True)
class Asset:
    id: str
    job_id: str
    room_id: str
    session_id: str
    type: str
    status: str
    path: str
    size: int
    duration: int
    created_at: float
    metadata: dict[str, Any] = field(default_factory=dict)
    #: What the recording captured; the downloadable bytes are generated from it.
    meeting: Meeting | None = None
    width: int = 1280
    height: int = 720
    audio_only: bool = False
    thumbnails: list[str] | None = None

    def to_json(self, *, embedded: bool = False) -> dict[str, Any]:
        """The API object; assets embedded in a recording omit ``job_id``/``room_id``/``session_id`` (§4.1)."""
        data: dict[str, Any] = {"id": self.id}
        if not embedded:
            data.update(job_id=self.job_id, room_id=self.room_id, session_id=self.session_id)
        data.update(
            created_at=format_timestamp(self.created_at),
            status=self.status,
            type=self.type,
            path=self.path,
            size=self.size,
            duration=self.duration,
            metadata=self.metadata,
            thumbnails=self.thumbnails,
        )
        return data

    @property
    def output_mode(self) -> str:
        return str(self.metadata.get("output_mode", ""))

    @property
    def content_type(self) -> str:
        key = self.output_mode if self.type == "transcript" else self.type
        return _CONTENT_TYPES.get(key, "application/octet-stream")

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class Body(Protocol):
    """Downloadable bytes that can be read by range without holding the whole file."""

    @property
    def size(self) -> int: ...

    def iter_range(self, start: int, end: int, chunk: int = ...) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class _BytesBody:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def iter_range(self, start: int, end: int, chunk: int = 65_536) -> Iterator[bytes]:
        for position in range(start, end + 1, chunk):
            yield self.data[position : min(end + 1, position + chunk)]


def _text(kind: str, output_mode: str, meeting: Meeting) -> bytes:
    if kind == "chat":
        return chat_csv(meeting)
    if kind == "summary":
        return summary_json(meeting)
    return _TEXT[output_mode](meeting)


def asset_body(asset: Asset) -> Body:
    """The bytes of ``asset``'s download: deterministic, exactly ``asset.size`` long."""
    meeting = asset.meeting or Meeting(asset.job_id, asset.created_at, asset.duration)
    if asset.type == "room-composite":
        return mp4_layout(
            size=asset.size,
            width=asset.width,
            height=asset.height,
            duration=asset.duration,
            audio_only=asset.audio_only,
            seed=asset.id.encode(),
        )
    return _BytesBody(_text(asset.type, asset.output_mode, meeting))


def storage_folder(kind: str, prefix: str, room_id: str, started_at: float) -> str:
    """``s3://<location>/<prefix>/<kind>/<room_id>/<start_date>`` with ``start_date`` as ``YYYYMMDD`` (UTC)."""
    return f"{BUCKET}/{prefix}/{kind}/{room_id}/{time.strftime('%Y%m%d', time.gmtime(started_at))}"


def build_assets(
    *,
    ids: list[str],
    job_id: str,
    room_id: str,
    session_id: str,
    prefix: str,
    created_at: float,
    meeting: Meeting,
    width: int,
    height: int,
    audio_only: bool,
    transcript_modes: list[str],
    summary: bool,
    rng: random.Random,
) -> list[Asset]:
    """The assets of one completed recording; ``ids`` supplies one fresh id per asset, in creation order.

    The composite and the chat are ``completed`` at once; transcripts and the summary start in ``processing`` with
    size 0 (their size is set when they complete, see :func:`complete_transcription`).
    """
    # Epoch: the recorder's start time in milliseconds, as in the documented HLS example path.
    name = f"Rec-{room_id}-{int(meeting.started_at * 1000)}"
    next_id = iter(ids).__next__
    duration = meeting.duration

    def make(kind: str, folder: str, ext: str, length: int, metadata: dict[str, Any], status: str) -> Asset:
        path = f"{storage_folder(folder, prefix, room_id, meeting.started_at)}/{name}.{ext}"
        asset = Asset(next_id(), job_id, room_id, session_id, kind, status, path, 0, length, created_at, metadata)
        asset.meeting, asset.width, asset.height, asset.audio_only = meeting, width, height, audio_only
        return asset

    # Roughly 1.5 Mbit/s at 720p, scaled by pixel count; audio-only is ~128 kbit/s. Jitter keeps sizes unequal.
    rate = 16_000 if audio_only else max(40_000, width * height * 0.2)
    composite = make(
        "room-composite", "beam", "mp4", duration, {"resolution": {"width": width, "height": height}}, "completed"
    )
    composite.size = int(duration * rate * rng.uniform(0.9, 1.1)) + 4_096
    composite.size = asset_body(composite).size  # raised to the smallest valid MP4 if the estimate is below it
    chat = make("chat", "chat", "csv", 0, {}, "completed")
    chat.size = asset_body(chat).size
    assets = [composite, chat]
    for mode in transcript_modes:
        assets.append(make("transcript", "transcript", mode, duration, {"output_mode": mode}, "processing"))
    if summary:
        assets.append(make("summary", "summary", "json", duration, {"output_mode": "json"}, "processing"))
    return assets


def complete_transcription(assets: list[Asset]) -> None:
    """Move ``processing`` transcript/summary assets to ``completed`` with their real size."""
    for asset in assets:
        if asset.status == "processing":
            asset.status = "completed"
            asset.size = asset_body(asset).size
