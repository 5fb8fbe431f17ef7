"""A recording fake upstream: a real HTTP server on 127.0.0.1 that remembers every request exactly as it arrived.

One server serves a whole test session. Each test points the consumed APIs of its file at its own path prefix
(``/<file-id>/<namespace>``), so the requests of one file are told apart from another's by their path alone: the
runtime decides the headers, so a test cannot tag its requests any other way.

Every request is answered ``200 {}`` (JSON), which every operation's output mapping can read without failing.
Bodies are read up to :data:`MAX_BODY_BYTES` (a request larger than that is a failure of the runtime, answered 413).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

__all__ = ["MAX_BODY_BYTES", "RecordedRequest", "RecordingUpstream", "recording_upstream"]

#: No corpus operation sends more than a few kilobytes; anything far beyond that is a runaway body.
MAX_BODY_BYTES = 1_000_000
#: How many requests are kept; a session sends a few thousand at most.
MAX_RECORDS = 100_000


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    raw_path: str  # as sent, percent-encoding kept
    query_string: str  # as sent, without the `?`
    headers: tuple[tuple[str, str], ...]  # names lowercased, in arrival order
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None


class RecordingUpstream:
    """The ASGI app that records; :func:`recording_upstream` runs it on a socket."""

    def __init__(self) -> None:
        self.base = ""  # http://127.0.0.1:PORT once started
        self._records: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def under(self, prefix: str) -> list[RecordedRequest]:
        """The requests whose path starts with ``prefix``, oldest first."""
        with self._lock:
            return [r for r in self._records if r.raw_path.startswith(prefix)]

    def forget(self, prefix: str) -> None:
        with self._lock:
            self._records = [r for r in self._records if not r.raw_path.startswith(prefix)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        status = 200
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                status = 413
                break
            if not message.get("more_body"):
                break
        record = RecordedRequest(
            method=scope["method"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"),
            headers=tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]),
            body=body,
        )
        with self._lock:
            if len(self._records) < MAX_RECORDS:
                self._records.append(record)
        payload = b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@contextmanager
def recording_upstream() -> Iterator[RecordingUpstream]:
    """A :class:`RecordingUpstream` served by uvicorn in a thread on an ephemeral port, stopped on exit."""
    app = RecordingUpstream()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it the answer's second write waits for the client's delayed ACK
    # (40 ms a request on Linux), which is most of the corpus run.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app.base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    started = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def main() -> None:
            config = server.config
            if not config.loaded:
                config.load()
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[sock])
            started.set()
            await server.main_loop()
            await server.shutdown(sockets=[sock])
            # Closing a connection's transport takes effect on a later turn of the loop: give it those turns, or the
            # accepted sockets outlive the loop and warn (ResourceWarning, an error here) in whichever test runs
            # when the garbage collector finds them.
            for _ in range(3):
                await asyncio.sleep(0.01)

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run, name="recording-upstream", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the recording upstream did not start within 10 s")
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
