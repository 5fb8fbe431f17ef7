"""The emulator's store and the recording state machine (reference §4.1, §9).

State advances lazily, from timestamps. Every request (and, on the real clock, the app's background ticker) calls
:meth:`EmulatorState.tick`, which moves each unfinished recording through every transition whose moment has come::

    starting --(start_delay)--> running --stop--> stopping --(next read)--> post_processing
        --(processing_time after the stop)--> completed          stop while starting --> failed (BEAM_STOPPED)

With transcription, the transcript and summary assets are created with the others but stay ``processing`` for
``max(20 % of the duration, 5 min) x processing_time / 60`` more (see :func:`transcription_delay`), then complete
with ``transcription.success``.

A response is rendered from the state right after the mutation, so the start response says ``starting`` and the stop
response says ``stopping`` even when the delays are 0; the next read sees the next state.

Ids are 24-hex like Mongo ObjectIds: eight hex digits of (non-decreasing) seconds then a 16-digit counter, so ids
strictly increase, "newest first" is "descending id", and a ``start`` cursor stays stable while new items arrive.
"""

from __future__ import annotations

import heapq
import random
import uuid
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .assets import Asset, build_assets, complete_transcription
from .clock import Clock
from .config import EmulatorConfig
from .content import Meeting
from .events import EventSource, beam_event_data, envelope, transcription_event_data
from .faults import FaultRule
from .presign import DEFAULT_PRESIGN_SECONDS, Presigner
from .recording import ACTIVE, OBJECT_ID, Recording
from .responses import ApiError

__all__ = ["OBJECT_ID", "EmulatorState", "Recording", "transcription_delay"]

#: The documented floor and share of the recording's duration for transcripts and summaries
#: (https://www.100ms.live/docs/server-side/v2/how-to-guides/enable-transcription-and-summary, "Limitations").
TRANSCRIPTION_FLOOR_SECONDS = 300.0
TRANSCRIPTION_SHARE = 0.2


def transcription_delay(duration: float, processing_time: float) -> float:
    """Emulator seconds from completion to ``transcription.success``: the documented real time, scaled so that
    ``processing_time`` seconds stand for one real minute (0 makes it immediate, like the rest of processing)."""
    return max(TRANSCRIPTION_SHARE * duration, TRANSCRIPTION_FLOOR_SECONDS) * processing_time / 60.0


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
        #: The last ``event_log_limit`` envelopes, for ``GET /_emulator/events`` and replays.
        self.events: deque[dict[str, Any]] = deque(maxlen=config.event_log_limit)
        self.outbox: list[dict[str, Any]] = []
        #: Hands an envelope to the webhook sender; set by the app's lifespan while a sender runs.
        self.deliver: Callable[[dict[str, Any]], None] | None = None
        self.presigner = Presigner(config.credentials.app_secret)
        #: Where presigned URLs point; the server replaces it with its real address once it is listening.
        self.public_base_url = "http://127.0.0.1"
        self.event_source = EventSource(
            app_id=self.app_id,
            account_id=self.account_id,
            template_id=self.template_id,
            new_uuid=self._new_uuid,
            asset=self.asset_by_id,
            presigned_url=self._presigned_url,
            now=clock.now,
        )

    def _random_hex(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def _new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _presigned_url(self, asset_id: str, at: float) -> str:
        return self.presigner.url(self.public_base_url, asset_id, int(at) + DEFAULT_PRESIGN_SECONDS)

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
        event = envelope(self.event_source, kind, at, data)
        self.events.append(event)
        if self.config.webhook_url:
            self.outbox.append(event)

    def flush_events(self) -> None:
        """Hand queued envelopes to the sender (dropped when none runs, i.e. outside the app's lifespan)."""
        events, self.outbox = self.outbox, []
        if self.deliver is not None:
            for event in events:
                self.deliver(event)

    def stored_event(self, event_id: str) -> dict[str, Any]:
        for event in self.events:
            if event["id"] == event_id:
                return event
        raise ApiError(404, "event not found", [f"no stored event has id {event_id[:64]!r}"])

    def redeliver(self, event_id: str, copies: int) -> dict[str, Any]:
        """Send a stored envelope ``copies`` more times, unchanged (same ``id``): a replay or a duplicate delivery."""
        event = self.stored_event(event_id)
        if self.deliver is None:
            raise ApiError(409, "webhooks are not configured; start the emulator with --webhook-url")
        for _ in range(copies):
            self.deliver(event)
        return event

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
            self._emit("beam.started.success", rec.running_at, self._beam("beam.started.success", rec))
        if rec.stop_requested_at is None:
            return
        stop_at = rec.stop_requested_at
        if rec.status == "stopping" and rec.started_at is None:
            # Stopped before the recorder joined: the job fails with BEAM_STOPPED (reference §8, §9).
            rec.status, rec.stopped_at, rec.updated_at = "failed", stop_at, stop_at
            self._finish(rec)
            self._emit("beam.failure", stop_at, self._beam("beam.failure", rec))
            return
        done_at = stop_at + self.config.processing_time
        if rec.status == "stopping":
            rec.status, rec.stopped_at, rec.updated_at = "post_processing", stop_at, stop_at
            self._schedule(rec, done_at)
        if rec.status == "post_processing" and now >= done_at:
            self._complete(rec, done_at)
        if rec.transcription_due is not None and now >= rec.transcription_due:
            self._complete_transcription(rec, rec.transcription_due)

    def _beam(self, kind: str, rec: Recording, stop_at: float | None = None) -> dict[str, Any]:
        return beam_event_data(self.event_source, kind, rec, stop_at)

    def _complete(self, rec: Recording, at: float) -> None:
        count = 2 + len(rec.transcript_modes) + (1 if rec.summary else 0)
        started_at = rec.started_at if rec.started_at is not None else rec.created_at
        assets = build_assets(
            ids=[self.new_id(at) for _ in range(count)],
            job_id=rec.id,
            room_id=rec.room_id,
            session_id=rec.session_id,
            prefix=self.account_id,
            created_at=at,
            meeting=Meeting(rec.id, started_at, rec.duration, rec.summary_sections),
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
        self._emit("beam.recording.success", at, self._beam("beam.recording.success", rec))
        if count > 2:
            # Transcripts and summary are listed at once in ``processing`` (start-recording page) and the
            # transcription starts now; it completes after the documented delay (see transcription_delay).
            kind = "transcription.started.success"
            self._emit(kind, at, transcription_event_data(self.event_source, kind, rec, at))
            rec.transcription_due = at + transcription_delay(rec.duration, self.config.processing_time)
            self.store.unfinished[rec.id] = rec
            self._schedule(rec, rec.transcription_due)

    def _complete_transcription(self, rec: Recording, at: float) -> None:
        complete_transcription([self.store.assets[i] for i in rec.asset_ids or []])
        rec.transcription_due = None
        self.store.unfinished.pop(rec.id, None)
        kind = "transcription.success"
        self._emit(kind, at, transcription_event_data(self.event_source, kind, rec, at))

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
            summary_sections=options["summary_sections"],
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
            self._emit("beam.stopped.success", now, self._beam("beam.stopped.success", rec, stop_at=now))
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
