"""The admin API under ``/_emulator/`` (product.md, "Emulator admin API"): reset, request log, faults, clock, events.

These routes need no token (they are for tests, benchmarks and demos on loopback) and are never subject to faults
nor recorded in the request log. They are built over the :class:`~.state.EmulatorState` they act on, not the app.

Events: ``GET /_emulator/events`` lists the stored envelopes (newest last, optional ``type``);
``POST /_emulator/events/{id}/replay`` delivers a stored envelope once more, unchanged, as 100ms's webhook replay
re-sends an earlier event; ``POST /_emulator/events/{id}/duplicate`` delivers it twice more at once (same envelope
``id``), the at-least-once duplicate a receiver must count once (issue 15).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .clock import ManualClock, format_timestamp
from .faults import parse_fault_rules
from .responses import ApiError, json_response
from .state import EmulatorState

__all__ = ["admin_routes"]

_ADMIN_BODY_LIMIT = 1_048_576

Handler = Callable[[Request], Awaitable[Response]]


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > _ADMIN_BODY_LIMIT:
        raise ApiError(413, f"request body must not be larger than {_ADMIN_BODY_LIMIT} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "request body contains badly-formed JSON") from exc


def _clock_body(state: EmulatorState) -> dict[str, Any]:
    now = state.clock.now()
    return {"manual": state.clock.manual, "now": format_timestamp(now), "epoch": now}


def admin_routes(state: EmulatorState) -> list[Route]:
    """The ``/_emulator/`` routes acting on ``state``."""

    async def reset(request: Request) -> Response:
        state.reset()
        return Response(status_code=204)

    async def requests_log(request: Request) -> Response:
        return json_response(list(state.request_log))

    async def get_faults(request: Request) -> Response:
        return json_response({"rules": [rule.to_json() for rule in state.faults]})

    async def put_faults(request: Request) -> Response:
        try:
            rules = parse_fault_rules(await _json(request))
        except ValueError as exc:
            raise ApiError(400, "invalid fault rules", [str(exc)]) from exc
        state.faults = rules
        return json_response({"rules": [rule.to_json() for rule in rules]})

    async def delete_faults(request: Request) -> Response:
        state.faults = []
        return Response(status_code=204)

    async def get_clock(request: Request) -> Response:
        return json_response(_clock_body(state))

    async def advance_clock(request: Request) -> Response:
        clock = state.clock
        if not isinstance(clock, ManualClock):
            raise ApiError(409, "the emulator runs on the real clock; start it with --manual-clock to advance time")
        body = await _json(request)
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ApiError(400, "invalid input", ["advance_seconds must be a number >= 0"])
        clock.advance(seconds)
        state.tick()
        state.flush_events()
        return json_response(_clock_body(state))

    async def list_events(request: Request) -> Response:
        kind = request.query_params.get("type")
        return json_response([e for e in state.events if kind is None or e["type"] == kind])

    def redeliver(copies: int) -> Handler:
        async def handler(request: Request) -> Response:
            event = state.redeliver(request.path_params["event_id"], copies)
            return json_response({"id": event["id"], "type": event["type"], "deliveries": copies}, 202)

        return handler

    return [
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/requests", requests_log, methods=["GET"]),
        Route("/_emulator/faults", get_faults, methods=["GET"]),
        Route("/_emulator/faults", put_faults, methods=["PUT"]),
        Route("/_emulator/faults", delete_faults, methods=["DELETE"]),
        Route("/_emulator/clock", get_clock, methods=["GET"]),
        Route("/_emulator/clock", advance_clock, methods=["POST"]),
        Route("/_emulator/events", list_events, methods=["GET"]),
        Route("/_emulator/events/{event_id}/replay", redeliver(1), methods=["POST"]),
        Route("/_emulator/events/{event_id}/duplicate", redeliver(2), methods=["POST"]),
    ]
