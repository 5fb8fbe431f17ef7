"""The audit trail: every call of a state-changing tool (start, stop, pause, resume), who made it and how it ended.

Kept in SQLite, in the event log's database file (``HMS_RECORDINGS_EVENTS_DB``) but in a table of its own,
``audit_events``, which nothing else writes. One row per finished call of an entry that is not read-only, on any
face: when (UTC), who (the token's subject and client; empty under the static token or stdio), what (tool, face,
room, recording, the arguments with secrets removed by
:func:`~hms_recordings.runtime.redact.safe_arguments`), the outcome (``ok`` or the error kind) and the upstream's
request ids (read from the ``X-Request-Id`` family of response headers; 100ms documents none, so this stays empty
against it until it sends one). Tokens, the app secret and presigned URLs are never written: the arguments are
cleaned, and results are not kept at all.

Bounded: beyond ``max_rows`` the oldest rows are deleted (checked every :data:`PRUNE_EVERY` writes).
Read with :meth:`AuditStore.query`, ``hms-recordings audit`` and the ``hms-list-audit-events`` tool.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hms_recordings.errors import ToolInputError
from hms_recordings.runtime.invoker import Invocation
from hms_recordings.runtime.observe import ActionRecord

__all__ = ["AUDIT_EXTENSION", "AuditEvent", "AuditStore", "list_audit_events", "parse_since"]

#: The name handlers find the store under (:meth:`~hms_recordings.runtime.invoker.Invocation.extension`).
AUDIT_EXTENSION = "audit"
PRUNE_EVERY = 100
MAX_PAGE = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    subject TEXT,
    client TEXT,
    tool TEXT NOT NULL,
    face TEXT NOT NULL,
    room_id TEXT,
    recording_id TEXT,
    arguments TEXT NOT NULL,
    outcome TEXT NOT NULL,
    upstream_request_ids TEXT NOT NULL,
    duration_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
CREATE INDEX IF NOT EXISTS audit_events_room ON audit_events (room_id, at);
"""


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: float
    subject: str | None
    client: str | None
    tool: str
    face: str
    room_id: str | None
    recording_id: str | None
    arguments: dict[str, Any]
    outcome: str
    upstream_request_ids: list[str]
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "subject": self.subject,
            "client": self.client,
            "tool": self.tool,
            "face": self.face,
            "room_id": self.room_id,
            "recording_id": self.recording_id,
            "arguments": self.arguments,
            "outcome": self.outcome,
            "upstream_request_ids": self.upstream_request_ids,
            "duration_ms": self.duration_ms,
        }


class AuditStore:
    """An append-only table in a SQLite file; an :class:`~hms_recordings.runtime.observe.ActionObserver`, lent to
    handlers as :data:`AUDIT_EXTENSION`."""

    extension_name = AUDIT_EXTENSION

    def __init__(self, path: str | Path, *, max_rows: int = 100_000, clock: Any = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self._clock = clock
        # One connection, used under a lock: writes are small and rare (state-changing calls only).
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._writes = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def on_action(self, record: ActionRecord) -> None:
        args = record.arguments if isinstance(record.arguments, dict) else {}
        found = record.result_ids or {}
        room = args.get("room_id") if isinstance(args.get("room_id"), str) else found.get("room_id")
        recording = args.get("recording_id") if isinstance(args.get("recording_id"), str) else None
        recording = recording or found.get("recording_id") or found.get("id")  # a start's result is the recording
        row = (
            self._clock(),
            record.caller,
            record.client,
            record.entry,
            record.face,
            room,
            recording,
            json.dumps(args, ensure_ascii=False, default=str),
            record.outcome,
            json.dumps(list(record.request_ids)),
            round(record.seconds * 1000, 3),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO audit_events (at, subject, client, tool, face, room_id, recording_id, arguments, "
                "outcome, upstream_request_ids, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            self._writes += 1
            if self._writes % PRUNE_EVERY == 0:
                self._db.execute(
                    "DELETE FROM audit_events WHERE id <= (SELECT MAX(id) FROM audit_events) - ?", (self.max_rows,)
                )

    def query(
        self, *, since: float | None = None, room_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> list[AuditEvent]:
        """Newest first; ``before`` is the id of the last event already seen (the next page starts below it)."""
        # One fixed statement: a filter not given is NULL and matches every row.
        sql = (
            "SELECT * FROM audit_events WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR room_id = ?2) "
            "AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        )
        params = (since, room_id, before, max(1, min(limit, MAX_PAGE)))
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [
            AuditEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), r[9], json.loads(r[10]), r[11])
            for r in rows
        ]


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: an ISO 8601 time (``2026-12-02T06:00:00Z``) or a span back from now (``90s``, ``15m``, ``2h``,
    ``7d``), as epoch seconds."""
    now = time.time() if now is None else now
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    if text[:-1].isdigit() and text[-1:] in units:
        return now - int(text[:-1]) * units[text[-1]]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ToolInputError(
            f"since {text!r} is neither an ISO 8601 time nor a span like 15m, 2h or 7d", ["since"]
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def list_audit_events(invocation: Invocation) -> Any:
    """``hms-list-audit-events``: the audit trail, newest first, filtered by room and time, a page at a time."""
    store = invocation.extension(AUDIT_EXTENSION)
    if not isinstance(store, AuditStore):
        raise ToolInputError(
            "this server keeps no audit trail (it is kept by `serve` with OAuth on, or with HMS_RECORDINGS_EVENTS_DB "
            "set)",
            [],
        )
    args = invocation.args
    since = parse_since(args["since"]) if args.get("since") else None
    cursor = args.get("cursor")
    before = None
    if cursor:
        if not str(cursor).isdigit():
            raise ToolInputError(f"cursor {cursor!r} is not one this tool gave", ["cursor"])
        before = int(cursor)
    limit = int(args.get("limit") or 50)
    events = store.query(since=since, room_id=args.get("room_id"), limit=limit, before=before)
    full = len(events) == max(1, min(limit, MAX_PAGE))
    return {
        "events": [e.as_dict() for e in events],
        "next_cursor": str(events[-1].id) if events and full else None,
    }
