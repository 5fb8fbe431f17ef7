"""Running the emulator on a real socket: in the background of an event loop, or as the blocking CLI server."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass

import anyio
import uvicorn

from hms_recordings.connections import ConnectionTimeouts, uvicorn_options

from .app import EmulatorApp, create_app
from .config import DEFAULT_PORT, EmulatorConfig

__all__ = ["RunningEmulator", "run_emulator", "serve_in_background"]

logger = logging.getLogger("hms_recordings.emulator")


@dataclass(frozen=True)
class RunningEmulator:
    """A listening emulator: ``base_url`` (``http://127.0.0.1:54321``), ``api_url`` (``.../v2``) and its app."""

    base_url: str
    app: EmulatorApp

    @property
    def api_url(self) -> str:
        return self.base_url + "/v2"


class _BackgroundServer(uvicorn.Server):
    # The host process owns the signal handlers; a background emulator must not steal Ctrl-C from it.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _uvicorn_config(
    app: EmulatorApp, host: str, port: int, log_level: str, timeouts: ConnectionTimeouts | None = None
) -> uvicorn.Config:
    # h11 keeps the connection-drop fault behaviour identical everywhere (see faults.drop_connection); the deadline
    # protocol is h11's, and closes a connection that sends nothing or a byte at a time (the defaults of `serve`).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        **uvicorn_options(timeouts or ConnectionTimeouts()),
    )


@contextlib.asynccontextmanager
async def serve_in_background(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    timeouts: ConnectionTimeouts | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Serve an emulator on ``host:port`` (0 = a free port) in the current event loop until the block exits;
    ``timeouts``: its connection deadlines (default: those of ``serve``)."""
    app = create_app(config)
    server = _BackgroundServer(_uvicorn_config(app, host, port, "warning", timeouts))
    finished = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            finished.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        with anyio.fail_after(10):
            while not server.started:
                if server.should_exit:
                    raise RuntimeError(f"the emulator could not listen on {host}:{port}")
                await anyio.sleep(0.005)
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        base_url = f"http://{shown_host}:{bound_port}"
        app.emulator.public_base_url = base_url
        try:
            yield RunningEmulator(base_url, app)
        finally:
            server.should_exit = True
            # Even when the block failed, let uvicorn close its sockets before the task group cancels it.
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await finished.wait()


def run_emulator(config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (``hms-recordings emulator``); one stderr line names the URL and access key."""
    app = create_app(config)
    shown_host = f"[{host}]" if ":" in host else host
    app.emulator.public_base_url = f"http://{shown_host}:{port}"
    creds = app.emulator.config.credentials
    kind = "development access key" if creds.is_development else "access key"
    print(
        f"hms-recordings emulator on http://{shown_host}:{port}/v2 ({kind} {creds.access_key}; "
        f"admin API at /_emulator/, OpenAPI at /openapi.json)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.Server(_uvicorn_config(app, host, port, "warning")).run()
