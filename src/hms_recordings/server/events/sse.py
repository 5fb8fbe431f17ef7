"""A resource's updates as Server-Sent Events: the current state first, then the state again after each update.

Generic: the route's path, the resource URI a request follows (``topic``) and how to read it (``read``) are given.
Every frame is ``event: <name>`` with the resource's JSON as ``data``: ``snapshot`` first, ``updated`` after each
update the hub delivers (several updates while a read is under way make one more read, not one each). A comment
line every ``keepalive`` seconds keeps proxies from closing a quiet stream. Bounds: at most ``max_streams`` open at
once (then 503 with ``Retry-After``) and each open for at most ``max_seconds``; a client that closes ends its stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from hms_recordings.faces.problems import problem_response
from hms_recordings.server.events.hub import EventHub

__all__ = ["DEFAULT_KEEPALIVE", "DEFAULT_MAX_SSE_SECONDS", "ResourceStream"]

DEFAULT_KEEPALIVE = 15.0
#: An hour: long enough to follow a recording to completion, short enough that abandoned streams are reclaimed.
DEFAULT_MAX_SSE_SECONDS = 3600.0

#: What ``read`` returns: the resource's JSON text, or a refusal (status, kind, detail) before any stream starts.
ReadResult = tuple[str, None] | tuple[None, tuple[int, str, str]]


def _frame(event: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


class ResourceStream:
    def __init__(
        self,
        *,
        path: str,
        topic: Callable[[dict[str, str]], str],
        read: Callable[[str], Awaitable[ReadResult]],
        hub: EventHub,
        max_streams: int = 256,
        keepalive: float = DEFAULT_KEEPALIVE,
        max_seconds: float = DEFAULT_MAX_SSE_SECONDS,
    ) -> None:
        self.path = path
        self.topic = topic
        self.read = read
        self.hub = hub
        self.max_streams = max_streams
        self.keepalive = keepalive
        self.max_seconds = max_seconds
        self.open = 0

    def route(self) -> Route:
        return Route(self.path, self.serve, methods=["GET"])

    async def serve(self, request: Request) -> Response:
        if self.open >= self.max_streams:
            return problem_response(
                "busy", 503, f"{self.max_streams} event streams are open already", headers={"Retry-After": "5"}
            )
        uri = self.topic(dict(request.path_params))
        first, refused = await self.read(uri)
        if refused is not None:
            status, kind, detail = refused
            return problem_response(kind, status, detail)
        assert first is not None
        return StreamingResponse(
            self._frames(uri, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
        )

    async def _frames(self, uri: str, first: str) -> AsyncIterator[bytes]:
        self.open += 1
        try:
            async with self.hub.watch(uri) as watch:
                yield _frame("snapshot", first)
                with anyio.move_on_after(self.max_seconds):
                    while True:
                        if not await watch.wait(self.keepalive):
                            yield b": keepalive\n\n"
                            continue
                        text, refused = await self.read(uri)
                        if text is not None:
                            yield _frame("updated", text)
                        elif refused is not None:
                            yield _frame("error", refused[2])
        finally:
            self.open -= 1
