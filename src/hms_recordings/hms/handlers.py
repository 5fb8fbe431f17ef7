"""100ms behaviour that needs code: safe start and waiting for a recording.

Registered under the entry-point group ``hms_recordings.handlers`` and named by the built-in capability's
``x-handler`` keys; the generic runtime knows nothing about 100ms.

``hms.start-recording``
    Starts as declared. On 409 ``beam already started`` it looks the active recording up: ``if_active=return`` makes
    it the result (``already_active: true``), otherwise the error names it and says what to do. When the answer to a
    start is lost (the connection dropped or timed out after the request was sent), the start is *reconciled* by
    looking the room's active recording up, never by starting again. To tell "the recording this start created" from
    "someone else's recording that was already running", the room's active recordings are listed just before the
    start: only a recording absent from that list is claimed (issue 13, item 11).

``hms.stop-recording``
    Stops as declared; the stop is idempotent, so a lost answer is retried by the upstream client, and that retry
    finds nothing left to stop (404 ``beam not found``). The room's active recordings are listed just before the
    stop, so a 404 after them can be reconciled: the recordings that were active and have since moved to stopping or
    later are what this stop stopped, and they are the result (issue 13, item 12).

``hms.wait-for-recording``
    Polls the recording with exponential backoff until it reaches the awaited state or the time runs out, sending
    progress notifications, and returns the recording with its assets. Each pause between polls ends early when a
    webhook event for the recording arrives (the runtime's ``Invocation.watch`` on ``hms://recordings/{id}``, fed
    by the server's event hub on any replica); without webhooks the pauses are slept out, so the wait is correct
    either way.

``hms.list-recording-events``
    Reads the server's event log (``Invocation.event_log``), newest first, paginated like the upstream lists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hms_recordings.errors import (
    DomainError,
    ToolInputError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamTransportError,
)
from hms_recordings.hms.asset_links import presign_asset, read_asset, recording_links
from hms_recordings.hms.events import recording_uri
from hms_recordings.hms.lifecycle import (
    failure_reason,
    get_recording,
    pause_recording,
    resume_recording,
    stop_recording_by_id,
    stopped_with_failure,
    wait_for_room_start,
    with_failure,
)
from hms_recordings.runtime.invoker import Handler, Invocation
from hms_recordings.runtime.local import Watch
from hms_recordings.runtime.shaping import paginate
from hms_recordings.server.audit import list_audit_events

__all__ = ["HANDLERS", "list_recording_events", "start_recording", "stop_recording", "wait_for_recording"]

ACTIVE = ("starting", "running")
STOPPED = ("stopping", "post_processing", "completed")
LIST_OPERATION = "recordings.listrecordings"
#: Rough position of each status on the way to "completed", for progress notifications.
STAGES = {"starting": 1, "running": 2, "stopping": 3, "post_processing": 4, "completed": 5, "failed": 5}


async def _room_recordings(invocation: Invocation, room_id: str) -> list[dict[str, Any]]:
    page = await invocation.operation(LIST_OPERATION, {"room_id": room_id, "limit": 10}, safe_to_retry=True)
    items = (page or {}).get("data") if isinstance(page, dict) else None
    return [item for item in items or [] if isinstance(item, dict) and isinstance(item.get("id"), str)]


async def _active_recording(invocation: Invocation, room_id: str) -> dict[str, Any] | None:
    for item in await _room_recordings(invocation, room_id):
        if item.get("status") in ACTIVE:
            return item
    return None


async def _active_before(invocation: Invocation, room_id: str) -> list[dict[str, Any]] | None:
    """The room's active recordings just before a write, or None when the lookup failed (then nothing is proven).

    A refused credential (401, after its one renewal) is raised: the write would be refused the same way."""
    try:
        return [r for r in await _room_recordings(invocation, room_id) if r.get("status") in ACTIVE]
    except UpstreamStatusError as exc:
        if exc.status == 401:
            raise
        return None
    except UpstreamError:
        return None


async def start_recording(invocation: Invocation) -> Any:
    args = dict(invocation.args)
    if_active = args.pop("if_active", "fail")
    room_id = args["room_id"]
    before = await _active_before(invocation, room_id)
    try:
        result = await invocation.default(args)
    except UpstreamStatusError as exc:
        if exc.status != 409:
            raise
        active = await _active_recording(invocation, room_id)
        if active is None:
            raise DomainError(
                f"room {room_id} is busy ({exc.upstream_message or 'beam already started'}) but lists no active "
                "recording yet; wait a few seconds and call hms-list-recordings with room_id to see it",
                kind="conflict",
                status=409,
            ) from None
        shaped = invocation.tool.mapper(active)
        if if_active == "return":
            invocation.notes.append(
                f"room {room_id} was already recording: returned the active recording {active.get('id')} "
                f"(status {active.get('status')}) instead of starting another"
            )
            return {**shaped, "already_active": True}
        raise DomainError(
            f"room {room_id} already has an active recording {active.get('id')} (status {active.get('status')}); "
            "stop it with hms-stop-recording, or pass if_active=return to get it back as the result",
            kind="conflict",
            status=409,
            data=shaped,
        ) from None
    except UpstreamTransportError as exc:
        # The request may have reached 100ms: find out instead of starting again (a second start could record twice).
        lookup_failed: UpstreamError | None = None
        try:
            active = await _active_recording(invocation, room_id)
        except UpstreamError as lookup_exc:
            active, lookup_failed = None, lookup_exc
        if active is None:
            # Only a lookup that answered, after a connection that failed (not one that timed out, where 100ms may
            # still be acting), proves the start did not take effect. Otherwise say so, and give the harmless way on.
            # Regression test: tests/reliability/test_safe_start.py::test_a_lost_start_whose_lookup_fails_*
            if lookup_failed is None and not isinstance(exc, UpstreamTimeout):
                why = (
                    f"room {room_id} has no active recording, so the start did not take effect and calling "
                    "hms-start-recording again is safe"
                )
            else:
                reason = (
                    f"looking the room's active recording up failed too: {lookup_failed.message}"
                    if lookup_failed is not None
                    else f"room {room_id} lists no active recording yet, but 100ms may still be acting on the start"
                )
                why = (
                    f"could not confirm whether the start took effect ({reason}); call hms-start-recording again "
                    "with if_active=return, which returns the recording if this start created one"
                )
            raise type(exc)(f"{exc.message}; {why}", operation=exc.operation, method=exc.method, url=exc.url) from None
        earlier = None if before is None else {r["id"] for r in before}
        if earlier is None or active["id"] in earlier:
            return _not_ours(invocation, exc, active, room_id, if_active, proven=earlier is not None)
        invocation.notes.append(
            f"the answer to the start was lost ({exc.message}); found the recording it created: {active.get('id')}"
        )
        return {**invocation.tool.mapper(active), "already_active": False, "reconciled": True}
    return {**result, "already_active": False} if isinstance(result, dict) else result


def _not_ours(
    invocation: Invocation,
    exc: UpstreamTransportError,
    active: dict[str, Any],
    room_id: str,
    if_active: str,
    *,
    proven: bool,
) -> Any:
    """A lost start, and the room's active recording is one this start cannot be shown to have created."""
    # Regression test: tests/reliability/test_upstream_lifecycle.py::test_a_start_dropped_before_acting_*
    rec, status = active.get("id"), active.get("status")
    if proven:
        what = f"room {room_id} already had an active recording {rec} (status {status}) before this start"
        outcome = "this start did not create it"
    else:
        what = f"room {room_id} has an active recording {rec} (status {status})"
        outcome = (
            "the room's recordings could not be listed before the start, so whether this start created it is unknown"
        )
    shaped = invocation.tool.mapper(active)
    if if_active == "return":
        invocation.notes.append(f"the answer to the start was lost ({exc.message}); {what}; {outcome}")
        return {**shaped, "already_active": proven}
    raise DomainError(
        f"{what}; the answer to the start was lost ({exc.message}) and {outcome}; stop it with hms-stop-recording, "
        "or pass if_active=return to get it back as the result",
        kind="conflict",
        status=409,
        data=shaped,
    )


async def stop_recording(invocation: Invocation) -> Any:
    room_id = invocation.args["room_id"]
    before = await _active_before(invocation, room_id)
    try:
        return await invocation.default()
    except UpstreamStatusError as exc:
        if exc.status != 404 or not before:
            raise
        # Nothing active now, yet something was just before: an earlier attempt of this stop (whose answer was lost)
        # stopped it. Report those recordings, as the answer that was lost would have.
        # Regression test: tests/reliability/test_upstream_lifecycle.py::test_a_stop_whose_answer_was_lost_*
        try:
            now = {r["id"]: r for r in await _room_recordings(invocation, room_id)}
        except UpstreamError:
            raise exc from None
        stopped = [now[r["id"]] for r in before if now.get(r["id"], {}).get("status") in STOPPED]
        if not stopped:
            raise
        ids = ", ".join(str(r["id"]) for r in stopped)
        invocation.notes.append(
            f"the answer to the stop was lost and its retry found nothing left to stop; it had stopped {ids}"
        )
        return invocation.tool.mapper({"limit": len(stopped), "data": stopped})


async def stop_room_recording(invocation: Invocation) -> Any:
    """``hms.stop-recording``: first wait for a recording still starting (a stop would fail it), then the stop that
    reconciles a lost answer (:func:`stop_recording`), and say why any stopped recording failed."""
    await wait_for_room_start(invocation)
    return stopped_with_failure(await stop_recording(invocation))


def _reached(status: str | None, until: str) -> bool:
    if until == "running":
        return status in ("running", "stopping", "post_processing", "completed", "failed")
    return status in ("completed", "failed")


async def wait_for_recording(invocation: Invocation) -> Any:
    options = invocation.tool.tool.options
    until = invocation.args.get("until", "completed")
    limit = float(options.get("max_timeout", 900))
    timeout = min(float(invocation.args.get("timeout_seconds", options.get("default_timeout", 120))), limit)
    poll = float(options.get("first_poll", 0.25))
    max_poll = float(options.get("max_poll", 5.0))
    started = invocation.clock()
    target = STAGES["running"] if until == "running" else STAGES["completed"]
    # Armed before the first look: an event that lands between a look and the pause after it still wakes the pause.
    async with invocation.watch(recording_uri(invocation.args["recording_id"])) as watch:
        return await _poll(invocation, watch, until, timeout, poll, max_poll, started, target)


async def _poll(
    invocation: Invocation,
    watch: Watch,
    until: str,
    budget: float,
    poll: float,
    max_poll: float,
    started: float,
    target: int,
) -> Any:
    while True:
        recording = await invocation.default({"recording_id": invocation.args["recording_id"]})
        status = recording.get("status") if isinstance(recording, dict) else None
        waited = invocation.clock() - started
        # Progress must rise on every notification (MCP requires it), also while the status stays the same: within
        # a stage, the elapsed share of the timeout moves it forward; reaching the awaited state reports the total.
        stage = min(STAGES.get(str(status), 0), target)
        done = target if _reached(status, until) else max(stage - 1, 0) + min(waited / budget, 0.99)
        message = f"recording {invocation.args['recording_id']} is {status} after {waited:.1f}s"
        await invocation.progress(done, target, message)
        if _reached(status, until):
            reason = failure_reason(recording)
            return {
                "recording": with_failure(recording),
                "reached": True,
                "waited_seconds": round(waited, 3),
                "message": f"recording failed: {reason}" if reason else f"recording is {status}",
            }
        remaining = budget - waited
        if remaining <= 0:
            return {
                "recording": recording,
                "reached": False,
                "waited_seconds": round(waited, 3),
                "message": f"still {status} after {budget:g}s; call hms-wait-for-recording again to keep waiting",
            }
        await watch.wait(min(poll, remaining))
        poll = min(poll * 2, max_poll)


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ToolInputError(
            f"since must be an ISO 8601 time such as 2026-12-01T09:30:00Z, not {text!r}", ["since"]
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


async def list_recording_events(invocation: Invocation) -> Any:
    log = invocation.event_log
    if log is None:
        raise DomainError(
            "this server keeps no event log: recording events are received by `hms-recordings serve` over HTTP, "
            "with the 100ms webhook pointed at its REST port (docs/events.md)",
            kind="unsupported",
        )
    args = invocation.args
    keys = {name: args[name] for name in ("room_id", "recording_id") if args.get(name)}
    limit = int(args.get("limit", 10))
    start = args.get("start")
    rows = await log.query(
        keys=keys,
        type=args.get("type"),
        since=_since(args.get("since")),
        before=int(start) if start else None,
        limit=limit,
    )
    raw = {"data": list(rows), "last": str(rows[-1]["seq"]) if rows else None}
    data = invocation.tool.mapper(raw)
    if isinstance(data, dict):
        paginate(invocation.tool, args, raw, data)
    return data


HANDLERS: dict[str, Handler] = {
    "hms.start-recording": start_recording,
    "hms.stop-recording": stop_room_recording,
    "hms.wait-for-recording": wait_for_recording,
    "hms.list-audit-events": list_audit_events,  # the server's own audit trail (server/audit.py)
    "hms.list-recording-events": list_recording_events,
    "hms.get-recording": get_recording,
    "hms.stop-recording-by-id": stop_recording_by_id,
    "hms.pause-recording": pause_recording,
    "hms.resume-recording": resume_recording,
    "hms.presign-asset": presign_asset,
    "hms.recording-links": recording_links,
    "hms.read-asset": read_asset,
}
