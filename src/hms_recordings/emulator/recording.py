"""The recording object (reference §4.1) as the emulator keeps it, and its JSON views.

Kept apart from the state machine (:mod:`.state`) so that the webhook payloads (:mod:`.events`) can read a recording
without importing the store that emits them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .assets import Asset
from .clock import format_timestamp

__all__ = ["ACTIVE", "OBJECT_ID", "Recording"]

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
ACTIVE = frozenset({"starting", "running"})


@dataclass(slots=True)
class Recording:
    id: str
    room_id: str
    session_id: str
    meeting_url: str
    destination: str
    width: int
    height: int
    audio_only: bool
    transcript_modes: list[str]
    summary: bool
    summary_sections: tuple[tuple[str, str], ...]
    asset_types: list[str]
    created_at: float
    running_at: float
    status: str = "starting"
    updated_at: float = 0.0
    started_at: float | None = None
    stop_requested_at: float | None = None
    stopped_at: float | None = None
    paused_since: float | None = None
    paused_total: float = 0.0
    asset_ids: list[str] | None = None
    #: When the transcript/summary assets leave ``processing`` (None: no transcription, or already done).
    transcription_due: float | None = None

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    @property
    def duration(self) -> int:
        if self.started_at is None:
            return 0
        end = self.stopped_at if self.stopped_at is not None else self.started_at
        return max(0, int(end - self.started_at - self.paused_total))

    def to_json(self, view: str, assets: Callable[[str], Asset]) -> dict[str, Any]:
        """``view``: ``start``/``pause`` (with ``destination``), ``list`` (no assets) or ``get``/``stop``."""
        data: dict[str, Any] = {
            "id": self.id,
            "room_id": self.room_id,
            "session_id": self.session_id,
            "status": self.status,
            "meeting_url": self.meeting_url,
        }
        if view in ("start", "pause"):
            data["destination"] = self.destination
        # The pause/resume examples show asset_types null (reference §4.7); elsewhere it is the configured list.
        data["asset_types"] = None if view == "pause" else list(self.asset_types)
        if view != "list":
            ids = self.asset_ids
            data["recording_assets"] = None if ids is None else [assets(i).to_json(embedded=True) for i in ids]
        data.update(
            created_at=format_timestamp(self.created_at),
            started_at=None if self.started_at is None else format_timestamp(self.started_at),
            updated_at=format_timestamp(self.updated_at),
            stopped_at=None if self.stopped_at is None else format_timestamp(self.stopped_at),
            started_by="",
            stopped_by="",
        )
        return data
