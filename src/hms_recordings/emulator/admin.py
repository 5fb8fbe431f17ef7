"""The admin API under ``/_emulator/`` (product.md, "Emulator admin API"): reset, request log, faults, clock.

These routes need no token (they are for tests, benchmarks and demos on loopback) and are never subject to faults
nor recorded in the request log.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .clock import ManualClock, format_timestamp
from .faults import parse_fault_rules
from .responses import ApiError, json_response

if TYPE_CHECKING:
    from .app import EmulatorApp

__all__ = ["admin_routes"]

_ADMIN_BODY_LIMIT = 1_048_576


def _app(request: Request) -> EmulatorApp:
    app: EmulatorApp = request.app
    return app


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > _ADMIN_BODY_LIMIT:
        raise ApiError(413, f"request body must not be larger than {_ADMIN_BODY_LIMIT} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "request body contains badly-formed JSON") from exc


async def reset(request: Request) -> Response:
    _app(request).emulator.reset()
    return Response(status_code=204)


async def requests_log(request: Request) -> Response:
    return json_response(list(_app(request).emulator.request_log))


async def get_faults(request: Request) -> Response:
    return json_response({"rules": [rule.to_json() for rule in _app(request).emulator.faults]})


async def put_faults(request: Request) -> Response:
    try:
        rules = parse_fault_rules(await _json(request))
    except ValueError as exc:
        raise ApiError(400, "invalid fault rules", [str(exc)]) from exc
    _app(request).emulator.faults = rules
    return json_response({"rules": [rule.to_json() for rule in rules]})


async def delete_faults(request: Request) -> Response:
    _app(request).emulator.faults = []
    return Response(status_code=204)


def _clock_body(app: EmulatorApp) -> dict[str, Any]:
    now = app.emulator.clock.now()
    return {"manual": app.emulator.clock.manual, "now": format_timestamp(now), "epoch": now}


async def get_clock(request: Request) -> Response:
    return json_response(_clock_body(_app(request)))


async def advance_clock(request: Request) -> Response:
    app = _app(request)
    clock = app.emulator.clock
    if not isinstance(clock, ManualClock):
        raise ApiError(409, "the emulator runs on the real clock; start it with --manual-clock to advance time")
    body = await _json(request)
    seconds = body.get("advance_seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        raise ApiError(400, "invalid input", ["advance_seconds must be a number >= 0"])
    clock.advance(seconds)
    app.emulator.tick()
    app.flush_events()
    return json_response(_clock_body(app))


def admin_routes() -> list[Route]:
    return [
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/requests", requests_log, methods=["GET"]),
        Route("/_emulator/faults", get_faults, methods=["GET"]),
        Route("/_emulator/faults", put_faults, methods=["PUT"]),
        Route("/_emulator/faults", delete_faults, methods=["DELETE"]),
        Route("/_emulator/clock", get_clock, methods=["GET"]),
        Route("/_emulator/clock", advance_clock, methods=["POST"]),
    ]
