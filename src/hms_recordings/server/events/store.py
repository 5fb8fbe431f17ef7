"""The event log: every accepted event in SQLite, deduplicated by the sender's id, bounded by count and age.

Writes go through one writer task that commits whatever is waiting in one transaction (group commit): a delivery is
answered only after the transaction holding it has committed with ``synchronous=FULL`` (durable across a crash of the
process or the machine), and a burst of deliveries costs one fsync per batch rather than one each. The queue in front
of the writer is bounded (``max_pending``); when it is full :meth:`EventStore.add` raises :class:`StoreBusy` and the
receiver answers 503, so the sender retries later. Retention: after each batch, events beyond the newest
``max_events`` and events received more than ``max_age_days`` ago are deleted.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from hms_recordings.runtime.local import ReceivedEvent

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_MAX_PENDING",
    "EventStore",
    "StoreBusy",
]

#: Events kept (the newest); about 2 KB each on disk, so the default bounds the file near 200 MB.
DEFAULT_MAX_EVENTS = 100_000
#: Days an event is kept after it was received.
DEFAULT_MAX_AGE_DAYS = 30.0
#: Deliveries waiting for the writer before further ones are refused (503).
DEFAULT_MAX_PENDING = 10_000
#: Deliveries committed together at most.
_MAX_BATCH = 512

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    occurred REAL NOT NULL,
    received REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS events_received ON events (received);
CREATE TABLE IF NOT EXISTS event_keys (
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (name, value, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_keys_seq ON event_keys (seq);
"""


class StoreBusy(Exception):
    """Too many deliveries are waiting to be stored; the sender should retry."""


def _epoch(timestamp: str, fallback: float) -> float:
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return fallback
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Pending:
    __slots__ = ("done", "error", "event", "new")

    def __init__(self, event: ReceivedEvent) -> None:
        self.event = event
        self.done = anyio.Event()
        self.new = False
        self.error: BaseException | None = None


class EventStore:
    """The SQLite event log at ``path`` (created with its directory when missing). Use as ``async with``."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_age_days: float = DEFAULT_MAX_AGE_DAYS,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_events < 1 or max_age_days <= 0 or max_pending < 1:
            raise ValueError("max_events, max_age_days and max_pending must be positive")
        self.path = Path(path)
        self.max_events = max_events
        self.max_age = max_age_days * 86_400
        self.clock = clock
        self.max_pending = max_pending
        self._send: MemoryObjectSendStream[_Pending] | None = None  # while open
        self._stack = AsyncExitStack()
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

    # ------------------------------------------------------------------------------------------------ life

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # a commit is on disk before the delivery is answered
        return connection

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._reader = self._connect()

    async def __aenter__(self) -> EventStore:
        await anyio.to_thread.run_sync(self._open)
        send, receive = anyio.create_memory_object_stream[_Pending](self.max_pending)
        self._stack.enter_context(send)
        self._stack.enter_context(receive)
        tg: TaskGroup = await self._stack.enter_async_context(anyio.create_task_group())
        tg.start_soon(self._write_loop, receive)
        self._stack.callback(tg.cancel_scope.cancel)
        self._send = send
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._send = None
        await self._stack.aclose()
        for connection in (self._writer, self._reader):
            if connection is not None:
                connection.close()
        self._writer = self._reader = None

    # ------------------------------------------------------------------------------------------------ writes

    async def add(self, event: ReceivedEvent) -> bool:
        """Store ``event`` durably; ``True`` when it is new, ``False`` when its id was stored before."""
        if self._send is None:
            raise RuntimeError("the event store is not open")
        pending = _Pending(event)
        try:
            self._send.send_nowait(pending)
        except anyio.WouldBlock:
            raise StoreBusy("too many deliveries are waiting to be stored") from None
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.new

    async def _write_loop(self, receive: MemoryObjectReceiveStream[_Pending]) -> None:
        async for first in receive:
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(receive.receive_nowait())
                except anyio.WouldBlock:
                    break
            try:
                flags = await anyio.to_thread.run_sync(self._write_batch, [p.event for p in batch])
            except Exception as exc:  # the disk failed: every delivery of the batch is refused, none half-stored
                for pending in batch:
                    pending.error = exc
                    pending.done.set()
                continue
            for pending, new in zip(batch, flags, strict=True):
                pending.new = new
                pending.done.set()

    def _write_batch(self, events: Sequence[ReceivedEvent]) -> list[bool]:
        assert self._writer is not None
        db = self._writer
        now = self.clock()
        flags: list[bool] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for event in events:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO events (id, type, occurred, received, body) VALUES (?, ?, ?, ?, ?)",
                    (event.id, event.type, _epoch(event.occurred_at, now), now, json.dumps(event.body)),
                )
                new = cursor.rowcount == 1
                if new:
                    db.executemany(
                        "INSERT OR IGNORE INTO event_keys (name, value, seq) VALUES (?, ?, ?)",
                        [(name, value, cursor.lastrowid) for name, value in event.keys.items()],
                    )
                flags.append(new)
            self._prune(db, now)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return flags

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        row = db.execute("SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?", (self.max_events,)).fetchone()
        if row is not None:
            db.execute("DELETE FROM event_keys WHERE seq <= ?", (row[0],))
            db.execute("DELETE FROM events WHERE seq <= ?", (row[0],))
        old = db.execute("SELECT MAX(seq) FROM events WHERE received < ?", (now - self.max_age,)).fetchone()
        if old is not None and old[0] is not None:
            db.execute("DELETE FROM event_keys WHERE seq <= ?", (old[0],))
            db.execute("DELETE FROM events WHERE seq <= ?", (old[0],))

    # ------------------------------------------------------------------------------------------------ reads

    async def query(
        self,
        *,
        keys: Mapping[str, str],
        type: str | None = None,
        since: float | None = None,
        before: int | None = None,
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        """Events matching every key (and the type, occurred at or after ``since``, ``seq`` below ``before``),
        newest first, at most ``limit``; each is the stored body plus ``seq`` and ``received_at``."""
        sql = ["SELECT seq, received, body FROM events WHERE 1 = 1"]
        values: list[Any] = []
        for name, value in sorted(keys.items()):
            sql.append("AND seq IN (SELECT seq FROM event_keys WHERE name = ? AND value = ?)")
            values += [name, value]
        if type is not None:
            sql.append("AND type = ?")
            values.append(type)
        if since is not None:
            sql.append("AND occurred >= ?")
            values.append(since)
        if before is not None:
            sql.append("AND seq < ?")
            values.append(before)
        sql.append("ORDER BY seq DESC LIMIT ?")
        values.append(limit)
        rows = await anyio.to_thread.run_sync(self._read, " ".join(sql), values)
        return [{**json.loads(body), "seq": seq, "received_at": _iso(received)} for seq, received, body in rows]

    async def count(self) -> int:
        rows = await anyio.to_thread.run_sync(self._read, "SELECT COUNT(*) FROM events", [])
        return int(rows[0][0])

    def _read(self, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
        assert self._reader is not None, "the event store is not open"
        with self._read_lock:
            return list(self._reader.execute(sql, values).fetchall())
