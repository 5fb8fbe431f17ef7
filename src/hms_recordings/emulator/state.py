"""The emulator's store and the recording state machine (reference §4.1, §9).

State advances lazily: nothing runs on a timer. Every request (and, in server mode, a light periodic tick) calls
:meth:`EmulatorState.tick`, which moves each unfinished recording through every transition whose moment has come::

    starting --(start_delay)--> running --stop--> stopping --(next read)--> post_processing
        --(processing_time after the stop)--> completed          stop while starting --> failed (BEAM_STOPPED)

A response is rendered from the state right after the mutation, so the start response says ``starting`` and the stop
response says ``stopping`` even when the delays are 0; the next read sees the next state.

Ids are 24-hex like Mongo ObjectIds: eight hex digits of (non-decreasing) seconds then a 16-digit counter, so ids
strictly increase, "newest first" is "descending id", and a ``start`` cursor stays stable while new items arrive.
"""

from __future__ import annotations

import heapq
import random
import re
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .assets import Asset, build_assets
from .clock import Clock, format_timestamp
from .config import EmulatorConfig
from .faults import FaultRule
from .presign import Presigner
from .responses import ApiError
from .webhooks import beam_event_data, envelope, transcription_event_data

__all__ = ["OBJECT_ID", "EmulatorState", "Recording"]

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


@dataclass
class _Store:
    recordings: dict[str, Recording] = field(default_factory=dict)
    recording_order: list[str] = field(default_factory=list)
    assets: dict[str, Asset] = field(default_factory=dict)
    asset_order: list[str] = field(default_factory=list)
    unfinished: dict[str, Recording] = field(default_factory=dict)
    active_by_room: dict[str, Recording] = field(default_factory=dict)
    #: (moment, recording id) of pending transitions, so a tick touches only what is due, not every live recording.
    due: list[tuple[float, str]] = field(default_factory=list)


class EmulatorState:
    """Recordings, assets, request log and fault rules of one emulator instance."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.rng = random.Random(config.seed)
        self.app_id = self._random_hex()
        self.account_id = self._random_hex()
        self.template_id = self._random_hex()
        self._last_second = 0
        self._counter = self.rng.getrandbits(40)
        self.store = _Store()
        self.faults: list[FaultRule] = list(config.faults or [])
        self.request_log: deque[dict[str, Any]] = deque(maxlen=config.request_log_limit)
        self.events: deque[dict[str, Any]] = deque(maxlen=1_000)
        self.outbox: list[dict[str, Any]] = []
        self.presigner = Presigner(config.credentials.app_secret)
        #: Where presigned URLs point; the server replaces it with its real address once it is listening.
        self.public_base_url = "http://127.0.0.1"

    def _random_hex(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def new_id(self, at: float) -> str:
        self._last_second = max(self._last_second, int(at))
        self._counter += 1
        return f"{self._last_second:08x}{self._counter:016x}"

    def reset(self) -> None:
        """Forget recordings, assets, the request log, events and fault rules; the clock keeps its time."""
        self.store = _Store()
        self.faults = []
        self.request_log.clear()
        self.events.clear()
        self.outbox.clear()

    # -- events -------------------------------------------------------------------------------------------------

    def _emit(self, kind: str, at: float, data: dict[str, Any]) -> None:
        event = envelope(self, kind, at, data)
        self.events.append(event)
        if self.config.webhook_url:
            self.outbox.append(event)

    def drain_outbox(self) -> list[dict[str, Any]]:
        events, self.outbox = self.outbox, []
        return events

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply every transition whose moment has come (called on each request and by the server's ticker)."""
        due = self.store.due
        if not due:
            return
        now = self.clock.now()
        while due and due[0][0] <= now:
            _, recording_id = heapq.heappop(due)
            rec = self.store.unfinished.get(recording_id)
            if rec is not None:
                self._advance(rec, now)

    def _schedule(self, rec: Recording, at: float) -> None:
        heapq.heappush(self.store.due, (at, rec.id))

    def _advance(self, rec: Recording, now: float) -> None:
        if rec.status == "starting" and now >= rec.running_at:
            rec.status, rec.started_at, rec.updated_at = "running", rec.running_at, rec.running_at
            self._emit("beam.started.success", rec.running_at, beam_event_data(self, "beam.started.success", rec))
        if rec.stop_requested_at is None:
            return
        stop_at = rec.stop_requested_at
        if rec.status == "stopping" and rec.started_at is None:
            # Stopped before the recorder joined: the job fails with BEAM_STOPPED (reference §8, §9).
            rec.status, rec.stopped_at, rec.updated_at = "failed", stop_at, stop_at
            self._finish(rec)
            self._emit("beam.failure", stop_at, beam_event_data(self, "beam.failure", rec))
            return
        done_at = stop_at + self.config.processing_time
        if rec.status == "stopping":
            rec.status, rec.stopped_at, rec.updated_at = "post_processing", stop_at, stop_at
            self._schedule(rec, done_at)
        if rec.status == "post_processing" and now >= done_at:
            self._complete(rec, done_at)

    def _complete(self, rec: Recording, at: float) -> None:
        count = 2 + len(rec.transcript_modes) + (1 if rec.summary else 0)
        assets = build_assets(
            ids=[self.new_id(at) for _ in range(count)],
            job_id=rec.id,
            room_id=rec.room_id,
            session_id=rec.session_id,
            created_at=at,
            duration=rec.duration,
            width=rec.width,
            height=rec.height,
            audio_only=rec.audio_only,
            transcript_modes=rec.transcript_modes,
            summary=rec.summary,
            rng=self.rng,
        )
        for asset in assets:
            self.store.assets[asset.id] = asset
            self.store.asset_order.append(asset.id)
        rec.asset_ids = [a.id for a in assets]
        rec.status, rec.updated_at = "completed", at
        self._finish(rec)
        self._emit("beam.recording.success", at, beam_event_data(self, "beam.recording.success", rec))
        if rec.transcript_modes:
            for kind in ("transcription.started.success", "transcription.success"):
                self._emit(kind, at, transcription_event_data(self, kind, rec))

    def _finish(self, rec: Recording) -> None:
        self.store.unfinished.pop(rec.id, None)
        if self.store.active_by_room.get(rec.room_id) is rec:
            del self.store.active_by_room[rec.room_id]

    def active_in_room(self, room_id: str) -> Recording | None:
        rec = self.store.active_by_room.get(room_id)
        return rec if rec is not None and rec.status in ACTIVE else None

    def start(self, room_id: str, options: dict[str, Any]) -> Recording:
        """Create a recording in ``starting``; 409 ``beam already started`` when the room has one (§6)."""
        self.tick()
        if self.active_in_room(room_id) is not None:
            raise ApiError(409, "beam already started")
        now = self.clock.now()
        modes: list[str] = options["transcript_modes"]
        rec = Recording(
            id=self.new_id(now),
            room_id=room_id,
            session_id=self.new_id(now),
            meeting_url=options["meeting_url"],
            destination=options["destination"],
            width=options["width"],
            height=options["height"],
            audio_only=options["audio_only"],
            transcript_modes=modes,
            summary=options["summary"],
            asset_types=["room-composite", "chat"]
            + (["transcript"] if modes else [])
            + (["summary"] if options["summary"] else []),
            created_at=now,
            running_at=now + self.config.start_delay,
            updated_at=now,
        )
        self.store.recordings[rec.id] = rec
        self.store.recording_order.append(rec.id)
        self.store.unfinished[rec.id] = rec
        self.store.active_by_room[room_id] = rec
        self._schedule(rec, rec.running_at)
        return rec

    def stop(self, rec: Recording) -> None:
        now = self.clock.now()
        if rec.paused_since is not None:
            rec.paused_total += now - rec.paused_since
            rec.paused_since = None
        if rec.status == "running":
            rec.status = "stopping"
            self._emit("beam.stopped.success", now, beam_event_data(self, "beam.stopped.success", rec, stop_at=now))
        else:
            rec.status = "stopping"
        rec.stop_requested_at = rec.updated_at = now
        self._schedule(rec, now)
        if self.store.active_by_room.get(rec.room_id) is rec:
            del self.store.active_by_room[rec.room_id]

    def stop_room(self, room_id: str) -> list[Recording]:
        self.tick()
        rec = self.active_in_room(room_id)
        if rec is None:
            raise ApiError(404, "beam not found")
        self.stop(rec)
        return [rec]

    def stop_by_id(self, recording_id: str) -> Recording:
        self.tick()
        rec = self.store.recordings.get(recording_id)
        if rec is None or rec.status not in ACTIVE:
            raise ApiError(404, "beam not found")
        self.stop(rec)
        return rec

    def set_paused(self, room_id: str, paused: bool) -> Recording:
        """Pause/resume flip a flag and keep ``status`` (reference §4.7); repeating either is a no-op (200)."""
        self.tick()
        rec = self.active_in_room(room_id)
        if rec is None:
            raise ApiError(404, "beam not found")
        now = self.clock.now()
        if paused and rec.paused_since is None:
            rec.paused_since, rec.updated_at = now, now
        elif not paused and rec.paused_since is not None:
            rec.paused_total += now - rec.paused_since
            rec.paused_since, rec.updated_at = None, now
        return rec

    # -- queries ------------------------------------------------------------------------------------------------

    def recording(self, recording_id: str) -> Recording:
        self.tick()
        rec = self.store.recordings.get(recording_id)
        if rec is None:
            raise ApiError(404, "recording not found")
        return rec

    def asset(self, asset_id: str) -> Asset:
        self.tick()
        asset = self.store.assets.get(asset_id)
        if asset is None:
            raise ApiError(404, "recording asset not found")
        return asset

    def asset_by_id(self, asset_id: str) -> Asset:
        return self.store.assets[asset_id]

    def page_recordings(self, start: str | None, limit: int, filters: dict[str, str]) -> list[Recording]:
        self.tick()
        recs = self.store.recordings
        return list(_page(self.store.recording_order, start, limit, recs, filters))

    def page_assets(self, start: str | None, limit: int, filters: dict[str, str]) -> list[Asset]:
        self.tick()
        return list(_page(self.store.asset_order, start, limit, self.store.assets, filters))


def _page(
    order: list[str], start: str | None, limit: int, items: dict[str, Any], filters: dict[str, str]
) -> Iterator[Any]:
    """Newest first from just below ``start`` (exclusive): ids only grow, so inserts never shift a cursor."""
    index = len(order) if start is None else bisect_left(order, start)
    found = 0
    for position in range(index - 1, -1, -1):
        item = items[order[position]]
        if all(getattr(item, name) == value for name, value in filters.items()):
            yield item
            found += 1
            if found == limit:
                return
