"""The ASGI application: ``/v2`` recording routes, presigned downloads, admin routes and the request envelope.

Every HTTP request passes through :meth:`EmulatorApp.__call__` before Starlette routes it. That envelope advances the
lazy state machine, records ``/v2`` requests in the request log, applies fault rules, checks the management token and
turns anything unexpected into a JSON 500 (a last resort: the bad-input tests assert it never happens).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from .admin import admin_routes
from .auth import TokenVerifier
from .clock import Clock, ManualClock, RealClock
from .config import EmulatorConfig
from .downloads import download_response
from .faults import ConnectionDropped, FaultRule, drop_connection
from .openapi import openapi_document
from .presign import DOWNLOAD_PREFIX, parse_presign_duration
from .recording import OBJECT_ID
from .responses import ApiError, error_body, json_response
from .state import EmulatorState
from .validation import (
    ASSET_STATUSES,
    ASSET_TYPES,
    RECORDING_STATUSES,
    parse_cursor,
    parse_enum,
    parse_json_body,
    parse_limit,
    parse_start_options,
)
from .webhooks import WebhookSender

__all__ = ["EmulatorApp", "create_app"]

logger = logging.getLogger("hms_recordings.emulator")
_SAFE_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]]{1,255}")


def _query(request: Request, name: str) -> str | None:
    # Go's url.Values.Get returns the first value of a repeated key.
    values = request.query_params.getlist(name)
    return values[0] if values else None


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _room_id(request: Request) -> str:
    room_id: str = request.path_params["room_id"]
    if not OBJECT_ID.fullmatch(room_id):
        # Observed for malformed ids on start (reference §6); the emulator has no room registry beyond this check.
        raise ApiError(403, "user does not have required permission")
    return room_id


def _page(limit: int, items: list[dict[str, Any]]) -> Response:
    return json_response({"limit": limit, "data": items, "last": items[-1]["id"] if items else ""})


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body must not be larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body must not be larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# -- /v2/recordings -------------------------------------------------------------------------------------------------


async def list_recordings(request: Request) -> Response:
    limit = parse_limit(_query(request, "limit"))
    start = parse_cursor(_query(request, "start"))
    filters = {name: value for name in ("room_id", "session_id") if (value := _query(request, name))}
    if status := parse_enum(_query(request, "status"), "status", RECORDING_STATUSES):
        filters["status"] = status
    state = _state(request)
    recs = state.page_recordings(start, limit, filters)
    return _page(limit, [r.to_json("list", state.asset_by_id) for r in recs])


async def get_recording(request: Request) -> Response:
    state = _state(request)
    recording_id = request.path_params["recording_id"]
    if not OBJECT_ID.fullmatch(recording_id):
        raise ApiError(404, "recording not found")
    return json_response(state.recording(recording_id).to_json("get", state.asset_by_id))


async def stop_recording(request: Request) -> Response:
    state = _state(request)
    recording_id = request.path_params["recording_id"]
    if not OBJECT_ID.fullmatch(recording_id):
        raise ApiError(404, "beam not found")
    return json_response(state.stop_by_id(recording_id).to_json("stop", state.asset_by_id))


async def start_room(request: Request) -> Response:
    room_id = _room_id(request)
    state = _state(request)
    body = parse_json_body(await _read_body(request, state.config.max_body_bytes))
    rec = state.start(room_id, parse_start_options(body, room_id))
    return json_response(rec.to_json("start", state.asset_by_id))


async def stop_room(request: Request) -> Response:
    room_id = _room_id(request)
    state = _state(request)
    recs = [r.to_json("stop", state.asset_by_id) for r in state.stop_room(room_id)]
    # The documented example answers one stopped recording with "limit": 1 (reference §3, §4.5).
    return json_response({"limit": len(recs), "data": recs, "last": recs[-1]["id"]})


async def pause_room(request: Request) -> Response:
    state = _state(request)
    return json_response(state.set_paused(_room_id(request), True).to_json("pause", state.asset_by_id))


async def resume_room(request: Request) -> Response:
    state = _state(request)
    return json_response(state.set_paused(_room_id(request), False).to_json("pause", state.asset_by_id))


# -- /v2/recording-assets -------------------------------------------------------------------------------------------


async def list_assets(request: Request) -> Response:
    limit = parse_limit(_query(request, "limit"))
    start = parse_cursor(_query(request, "start"))
    filters = {name: value for name in ("room_id", "session_id") if (value := _query(request, name))}
    if status := parse_enum(_query(request, "status"), "status", ASSET_STATUSES):
        filters["status"] = status
    if kind := parse_enum(_query(request, "type"), "type", ASSET_TYPES):
        filters["type"] = kind
    assets = _state(request).page_assets(start, limit, filters)
    return _page(limit, [a.to_json() for a in assets])


def _asset_id(request: Request) -> str:
    asset_id: str = request.path_params["asset_id"]
    if not OBJECT_ID.fullmatch(asset_id):
        raise ApiError(404, "recording asset not found")
    return asset_id


async def get_asset(request: Request) -> Response:
    return json_response(_state(request).asset(_asset_id(request)).to_json())


def _base_url(request: Request, state: EmulatorState) -> str:
    host = request.headers.get("host", "")
    if not _SAFE_HOST.fullmatch(host):
        return state.public_base_url
    return f"{request.url.scheme}://{host}"


async def presigned_url(request: Request) -> Response:
    state = _state(request)
    asset = state.asset(_asset_id(request))
    duration = parse_presign_duration(_query(request, "presign_duration"))
    if asset.status != "completed":
        raise ApiError(400, f"recording asset is not available for download (status {asset.status})")
    url = state.presigner.url(_base_url(request, state), asset.id, int(state.clock.now()) + duration)
    return json_response({"id": asset.id, "path": asset.path, "url": url, "expiry": duration})


async def download(request: Request) -> Response:
    state = _state(request)
    asset_id = request.path_params["asset_id"]
    if not OBJECT_ID.fullmatch(asset_id):
        raise ApiError(403, "request signature does not match")
    state.presigner.check(asset_id, _query(request, "expires"), _query(request, "signature"), state.clock.now())
    asset = state.store.assets.get(asset_id)
    if asset is None:
        raise ApiError(404, "recording asset not found")
    return download_response(request, asset)


async def openapi_json(request: Request) -> Response:
    return json_response(request.app.state.openapi)


# -- the application ------------------------------------------------------------------------------------------------


class EmulatorApp(Starlette):
    """Starlette plus the request envelope; ``app.state.emulator`` is the :class:`EmulatorState`."""

    emulator: EmulatorState
    verifier: TokenVerifier
    #: Envelopes dropped because the sender's queue (``webhook_queue_limit``) was full.
    webhooks_dropped: int = 0

    def flush_events(self) -> None:
        """Hand queued webhook events to the sender (dropped when no sender runs, i.e. outside the lifespan)."""
        self.emulator.flush_events()

    def _pick_fault(self, method: str, path: str) -> FaultRule | None:
        state = self.emulator
        for rule in state.faults:
            if rule.matches(method, path) and rule.fires(state.rng):
                return rule
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        is_api = path == "/v2" or path.startswith("/v2/")
        entry: dict[str, Any] | None = None
        if is_api:
            query: dict[str, str] = {}
            for key, value in Request(scope).query_params.multi_items():
                query.setdefault(key, value)
            entry = {"method": scope["method"], "path": path, "query": query, "status": None}
            self.emulator.request_log.append(entry)
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if entry is not None:
                    entry["status"] = message["status"]
            await send(message)

        try:
            self.emulator.tick()
            faultable = not path.startswith("/_emulator/") or path.startswith(DOWNLOAD_PREFIX)
            rule = self._pick_fault(scope["method"], path) if faultable and self.emulator.faults else None
            if rule is not None and rule.latency_ms:
                await anyio.sleep(rule.latency_ms / 1000)
            if rule is not None and rule.mode == "error":
                headers = {"Retry-After": f"{rule.retry_after:g}"} if rule.retry_after is not None else None
                await _fault_response(rule, headers)(scope, receive, tracked_send)
                return
            if rule is not None and rule.mode == "drop":
                await drop_connection(receive, send)
                return
            if is_api:
                self.verifier.check(_authorization(scope))
            if rule is not None and rule.mode == "cut":
                await super().__call__(scope, receive, _cut_after(rule.after_bytes, tracked_send))
                await drop_connection(receive, send)
                return
            if rule is not None and rule.mode == "drop-after-commit":
                await super().__call__(scope, receive, _discard)
                if entry is not None:
                    entry["status"] = None
                await drop_connection(receive, send)
                return
            await super().__call__(scope, receive, tracked_send)
        except ApiError as exc:
            await exc.response()(scope, receive, tracked_send)
        except ConnectionDropped:
            raise
        except Exception:
            logger.exception("unexpected error on %s %s", scope["method"], path)
            if not started:
                await json_response(error_body(500, "internal server error"), 500)(scope, receive, tracked_send)
        finally:
            self.flush_events()


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def _discard(message: Message) -> None:
    """A ``send`` that throws the response away (``drop-after-commit`` does the work, then hangs up)."""


def _cut_after(limit: int, send: Send) -> Send:
    """A ``send`` that passes the response start and ``limit`` body bytes, then swallows the rest (``cut``).

    Later messages are swallowed rather than refused so that the app finishes normally (an exception raised into a
    streaming response would surface wrapped); the caller then hangs up, leaving the body incomplete.
    """
    sent = 0

    async def cut(message: Message) -> None:
        nonlocal sent
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        room = limit - sent
        if room <= 0:
            return
        sent += min(room, len(body))
        # more_body stays true: the response must never look complete to the client.
        await send({"type": "http.response.body", "body": body[:room], "more_body": True})

    return cut


_PHRASES = {429: "rate limit exceeded", 500: "internal server error", 502: "bad gateway", 503: "service unavailable"}


def _fault_response(rule: FaultRule, headers: dict[str, str] | None) -> Response:
    message = _PHRASES.get(rule.status, f"emulated fault {rule.status}")
    if rule.status == 429 and rule.retry_after is not None:
        message = f"rate limit exceeded, retry after {rule.retry_after:g} seconds"
    return json_response(error_body(rule.status, message), rule.status, headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return json_response(error_body(405, "method not allowed"), 405, dict(exc.headers or {}))
    return json_response(
        error_body(exc.status_code, "route not found" if exc.status_code == 404 else exc.detail), exc.status_code
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    return json_response(error_body(500, "internal server error"), 500)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    """Runs the webhook sender and, on a real clock, a light ticker so that events fire without requests."""
    assert isinstance(app, EmulatorApp)
    state = app.emulator
    async with anyio.create_task_group() as tg:
        stream: MemoryObjectSendStream[dict[str, Any]] | None = None
        config = state.config
        if config.webhook_url:
            stream, events = anyio.create_memory_object_stream[dict[str, Any]](config.webhook_queue_limit)
            sender = WebhookSender(
                config.webhook_url,
                state.clock,
                config.webhook_client,
                config.webhook_headers,
                config.webhook_max_in_flight,
            )
            app.state.webhook_sender = sender
            state.deliver = _enqueue(app, stream)
            tg.start_soon(sender.run, events)
        if not state.clock.manual:
            tg.start_soon(_ticker, app)
        try:
            yield
        finally:
            state.deliver = None
            if stream is not None:
                stream.close()
            tg.cancel_scope.cancel()


def _enqueue(app: EmulatorApp, stream: MemoryObjectSendStream[dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
    def deliver(event: dict[str, Any]) -> None:
        try:
            stream.send_nowait(event)
        except anyio.WouldBlock:
            app.webhooks_dropped += 1
            logger.error(
                "webhook queue full (%d): dropped %s %s",
                stream.statistics().max_buffer_size,
                event["type"],
                event["id"],
            )

    return deliver


async def _ticker(app: EmulatorApp) -> None:
    while True:
        await anyio.sleep(app.emulator.config.tick_interval)
        app.emulator.tick()
        app.flush_events()


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    """Build an emulator; ``app.state.emulator`` exposes its state (and ``app.emulator`` the same object)."""
    config = config or EmulatorConfig.from_env()
    clock: Clock = ManualClock(config.clock_start) if config.manual_clock else RealClock()
    state = EmulatorState(config, clock)
    routes = [
        Route("/v2/recordings", list_recordings, methods=["GET"], name="list_recordings"),
        Route("/v2/recordings/room/{room_id}/start", start_room, methods=["POST"], name="start_room"),
        Route("/v2/recordings/room/{room_id}/stop", stop_room, methods=["POST"], name="stop_room"),
        Route("/v2/recordings/room/{room_id}/pause", pause_room, methods=["POST"], name="pause_room"),
        Route("/v2/recordings/room/{room_id}/resume", resume_room, methods=["POST"], name="resume_room"),
        Route("/v2/recordings/{recording_id}", get_recording, methods=["GET"], name="get_recording"),
        Route("/v2/recordings/{recording_id}/stop", stop_recording, methods=["POST"], name="stop_recording"),
        Route("/v2/recording-assets", list_assets, methods=["GET"], name="list_assets"),
        Route("/v2/recording-assets/{asset_id}", get_asset, methods=["GET"], name="get_asset"),
        Route("/v2/recording-assets/{asset_id}/presigned-url", presigned_url, methods=["GET"], name="presigned_url"),
        Route(DOWNLOAD_PREFIX + "{asset_id}", download, methods=["GET"], name="download"),
        Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"),
        *admin_routes(state),
    ]
    app = EmulatorApp(
        routes=routes,
        lifespan=_lifespan,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
    )
    # A trailing slash is another path to the real API (no redirect), and a redirect would dodge the request log.
    app.router.redirect_slashes = False
    app.emulator = state
    app.verifier = TokenVerifier(config.credentials, clock)
    app.state.emulator = app.emulator
    app.state.openapi = openapi_document()
    return app
