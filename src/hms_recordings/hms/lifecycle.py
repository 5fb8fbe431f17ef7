"""Verbs that know a recording's lifecycle: stop that waits for a start, pause and resume that say what they did,
and results that say why a recording failed.

Why this exists: 100ms fails a recording stopped while it is still ``starting`` ("Beam stopped too early", the
``beam.failure`` webhook with ``error_type`` ``BEAM_STOPPED``) and the stop itself answers 200, so "start, then stop
at once" silently ruins the recording. A stop here first waits (bounded, with progress) until the recorder has
joined, or with ``if_starting=fail`` refuses and says why, and nothing is stopped.

The recording object carries no failure reason and no pause flag (100ms docs: recordings overview, pause-recording:
a paused recording keeps ``status: running``); what the upstream's fields do say is used: ``status: failed`` with
``started_at: null`` is a recording stopped before the recorder joined.
"""

from __future__ import annotations

from typing import Any

from hms_recordings.errors import DomainError
from hms_recordings.runtime.invoker import Invocation

__all__ = [
    "failure_reason",
    "get_recording",
    "pause_recording",
    "resume_recording",
    "stop_recording_by_id",
    "stopped_with_failure",
    "wait_for_room_start",
    "with_failure",
]

GET_OPERATION = "recordings.getrecording"
LIST_OPERATION = "recordings.listrecordings"
#: Defaults of the x-options the stop tools may set: the longest wait for a start, and the polling back-off.
DEFAULT_START_WAIT, DEFAULT_FIRST_POLL, DEFAULT_MAX_POLL = 60.0, 0.25, 2.0


def failure_reason(recording: Any) -> str | None:
    """Why a recording failed, from the fields 100ms returns (None when it did not fail)."""
    if not isinstance(recording, dict) or recording.get("status") != "failed":
        return None
    if not recording.get("started_at"):
        return (
            "stopped before the recorder joined the room (100ms: 'Beam stopped too early'), so nothing was recorded; "
            "start again and stop only once the recording is running"
        )
    return (
        "100ms reports the recording as failed after it ran and gives no reason in the recording (its beam.failure "
        "webhook carries error_type and error_message); the assets it lists are all there is"
    )


def with_failure(recording: Any) -> Any:
    """The recording with ``failure_reason`` added when it failed."""
    reason = failure_reason(recording)
    return {**recording, "failure_reason": reason} if reason is not None else recording


async def get_recording(invocation: Invocation) -> Any:
    return with_failure(await invocation.default())


def _options(invocation: Invocation) -> tuple[float, float, float]:
    options = invocation.tool.tool.options
    return (
        float(options.get("max_start_wait", DEFAULT_START_WAIT)),
        float(options.get("first_poll", DEFAULT_FIRST_POLL)),
        float(options.get("max_poll", DEFAULT_MAX_POLL)),
    )


async def _until_started(invocation: Invocation, recording: dict[str, Any]) -> dict[str, Any]:
    """Poll a ``starting`` recording until it leaves ``starting``, or refuse (if_starting=fail, or the time ran out)."""
    recording_id = str(recording.get("id"))
    if invocation.args.get("if_starting", "wait") == "fail":
        raise DomainError(
            f"recording {recording_id} is still starting (the recorder has not joined the room yet): stopping it now "
            "would fail it with nothing recorded, so nothing was stopped; stop again with if_starting=wait, or once "
            "it is running",
            kind="conflict",
            status=409,
            data={"recording_id": recording_id, "status": "starting"},
        )
    limit, poll, max_poll = _options(invocation)
    started = invocation.clock()
    while recording.get("status") == "starting":
        waited = invocation.clock() - started
        await invocation.progress(min(waited / limit, 0.99), 1.0, f"recording {recording_id} is starting; waiting")
        if waited >= limit:
            raise DomainError(
                f"recording {recording_id} was still starting after {limit:g}s, so nothing was stopped (stopping it "
                "now would fail it); try the stop again later",
                kind="not_ready",
                status=409,
                data={"recording_id": recording_id, "status": "starting"},
            )
        await invocation.sleep(min(poll, limit - waited))
        poll = min(poll * 2, max_poll)
        recording = await invocation.operation(GET_OPERATION, {"recording_id": recording_id}, safe_to_retry=True)
    waited = invocation.clock() - started
    await invocation.progress(1.0, 1.0, f"recording {recording_id} is {recording.get('status')}")
    invocation.notes.append(f"waited {waited:.1f}s for recording {recording_id} to start before stopping it")
    return recording


async def stop_recording_by_id(invocation: Invocation) -> Any:
    recording_id = invocation.args["recording_id"]
    current = await invocation.operation(GET_OPERATION, {"recording_id": recording_id}, safe_to_retry=True)
    if isinstance(current, dict) and current.get("status") == "starting":
        await _until_started(invocation, current)
    return with_failure(await invocation.default({"recording_id": recording_id}))


async def wait_for_room_start(invocation: Invocation) -> None:
    """Before a room's stop: wait for (or, with if_starting=fail, refuse over) each of its recordings still starting.
    The stop itself is :func:`hms_recordings.hms.handlers.stop_recording` (which reconciles a lost answer)."""
    room_id = invocation.args["room_id"]
    page = await invocation.operation(LIST_OPERATION, {"room_id": room_id, "limit": 10}, safe_to_retry=True)
    for item in (page or {}).get("data") or []:
        if isinstance(item, dict) and item.get("status") == "starting":
            await _until_started(invocation, item)
    invocation.args = {k: v for k, v in invocation.args.items() if k != "if_starting"}


def stopped_with_failure(result: Any) -> Any:
    """A room stop's result with ``failure_reason`` on each stopped recording that failed."""
    if isinstance(result, dict) and isinstance(result.get("stopped"), list):
        result["stopped"] = [with_failure(item) for item in result["stopped"]]
    return result


async def _set_paused(invocation: Invocation, paused: bool) -> Any:
    result = await invocation.default({"room_id": invocation.args["room_id"]})
    if not isinstance(result, dict):
        return result
    verb = "paused" if paused else "resumed"
    # 100ms answers status "running" for both and exposes no pause flag: the result says what this call did.
    return {
        **result,
        "paused": paused,
        "message": f"recording {result.get('id')} {verb}; 100ms keeps status {result.get('status')} while paused",
    }


async def pause_recording(invocation: Invocation) -> Any:
    return await _set_paused(invocation, True)


async def resume_recording(invocation: Invocation) -> Any:
    return await _set_paused(invocation, False)
