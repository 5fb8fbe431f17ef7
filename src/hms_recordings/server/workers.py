"""``serve --workers N``: the same server in N processes on one port, so that every core answers calls.

Each worker is a fresh process (``spawn``) that loads the capability file and builds its own service and faces from
the same settings, then listens on the shared port with ``SO_REUSEPORT``: the kernel spreads new connections over the
workers, and no process hands requests to another. What the workers cannot share is memory, so:

* they serve **stateless** (a Streamable HTTP session would live in one worker) and the banner says so;
* they seal ``requestState`` under one key ring: ``HMS_RECORDINGS_STATE_KEY`` when set (then other hosts with the same
  key accept it too), else a key generated here for this run and handed to every worker;
* ``--emulator`` starts one emulator here, in the supervisor, and every worker calls it (one state machine, so a
  recording started through one worker is seen by the next).

The supervisor (this module) takes a free port for ``--port 0`` and holds it while the workers start, waits for every
worker to say it listens (at most :data:`START_TIMEOUT` seconds), prints one banner, and forwards ``SIGTERM`` or
``SIGINT`` to every worker, which then drain as one ``serve`` does. Workers run in their own process group, so a
terminal's Ctrl-C reaches them once, through the supervisor. When a worker exits by itself, the others are stopped
and ``serve`` fails naming it: a supervisor that quietly restarts workers would hide a crash from the operator's own
supervisor (systemd, Kubernetes), which is the one that should decide.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import queue
import secrets
import signal
import socket
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import anyio
from pydantic import SecretStr

from hms_recordings.errors import ConfigError
from hms_recordings.runtime.redact import Redactor
from hms_recordings.server.logging import configure_logging
from hms_recordings.server.serve import banner, run_server
from hms_recordings.server.settings import ServeSettings
from hms_recordings.server.targets import emulation, select_inventory

__all__ = ["START_TIMEOUT", "serve_workers"]

logger = logging.getLogger("hms_recordings.server")

#: Seconds every worker has to load the file, build its service and listen, before ``serve`` gives up.
START_TIMEOUT = 60.0
#: Seconds beyond the drain settings that a stopping worker gets before it is killed.
STOP_MARGIN = 10.0
#: Seconds between a worker's checks that its supervisor is still alive.
ORPHAN_CHECK = 0.5


@dataclass(frozen=True)
class _Report:
    """What a worker tells the supervisor: ``ready`` with its banner lines, or ``failed`` with the reason."""

    worker: int
    kind: str
    lines: tuple[str, ...]


def _worker_main(
    file: str | None, settings: ServeSettings, env: dict[str, str], worker: int, reports: Any
) -> None:  # pragma: no cover - runs in the spawned process; the workers test drives it for real
    """A worker's life: its own process group, the file loaded, the server run until a signal stops it."""
    os.setpgrp()  # a terminal's Ctrl-C goes to the supervisor only, which forwards it once
    _drain_when_orphaned(os.getppid())
    from hms_recordings.capability.loader import load_file

    def announce(lines: list[str]) -> None:
        reports.put(_Report(worker, "ready", tuple(lines)))

    try:
        anyio.run(functools.partial(run_server, load_file(file), settings, env=env, announce=announce))
    except ConfigError as exc:
        reports.put(_Report(worker, "failed", (str(exc),)))
        raise SystemExit(3) from None


def _drain_when_orphaned(supervisor: int) -> None:  # pragma: no cover - runs in the spawned process
    """A worker whose supervisor died (``kill -9``) drains itself instead of serving on forever, out of its group."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(ORPHAN_CHECK)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _held_port(host: str) -> socket.socket:
    """A free port, bound with ``SO_REUSEPORT`` and kept (not listening) until the workers have taken it."""
    sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host.strip("[]"), 0))
    return sock


def _worker_settings(settings: ServeSettings, ports: Mapping[str, int], upstreams: dict[str, str]) -> ServeSettings:
    update: dict[str, Any] = {**ports, "emulator": False, "upstreams": upstreams}  # stateless: workers > 1
    if settings.state_key is None:  # one ring for all the workers of this run
        update["state_key"] = SecretStr(secrets.token_hex(32))
    return settings.model_copy(update=update)


async def _wait_ready(reports: Any, processes: list[BaseProcess]) -> list[str]:
    """Every worker's ``ready``; the first failure (or a worker dying silently) is a ConfigError."""
    lines: list[str] = []
    waiting = set(range(len(processes)))
    with anyio.fail_after(START_TIMEOUT):
        while waiting:
            try:
                report: _Report = await anyio.to_thread.run_sync(lambda: reports.get(timeout=0.2))
            except queue.Empty:
                dead = [i for i in waiting if not processes[i].is_alive()]
                if dead:
                    code = processes[dead[0]].exitcode
                    raise ConfigError(f"worker {dead[0]} exited with code {code} before it listened") from None
                continue
            if report.kind == "failed":
                raise ConfigError(report.lines[0])
            waiting.discard(report.worker)
            lines = lines or list(report.lines)
    return lines


def _signal_all(processes: list[BaseProcess], signum: int) -> None:
    for process in processes:
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signum)


async def _supervise(processes: list[BaseProcess]) -> int | None:
    """Forward signals until every worker has stopped; the index of a worker that stopped by itself, if any."""
    crashed: list[int] = []
    asked: list[int] = []  # signals forwarded: a worker that exits after one was asked to
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:

            async def forward() -> None:
                async for signum in signals:
                    asked.append(signum)
                    _signal_all(processes, signum)

            tg.start_soon(forward)
            while any(p.is_alive() for p in processes):
                if not crashed and not asked:
                    gone = [i for i, p in enumerate(processes) if not p.is_alive()]
                    if gone:  # nobody asked it to stop: stop the rest and say so
                        crashed.append(gone[0])
                        _signal_all(processes, signal.SIGTERM)
                await anyio.sleep(0.2)
            tg.cancel_scope.cancel()
    return crashed[0] if crashed else None


async def serve_workers(file: str | None, settings: ServeSettings, *, env: Mapping[str, str] | None = None) -> None:
    """Run ``settings.workers`` worker processes on the settings' ports until a signal stops them (module docstring)."""
    environment = dict(os.environ if env is None else env)
    from hms_recordings.capability.loader import load_file

    configure_logging(settings.log_level, Redactor(), json_lines=settings.json_logs)
    select_inventory(load_file(file), settings)  # a bad --tools or --strict refusal, said once, before any worker
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    processes: list[BaseProcess] = []
    with ExitStack() as held:
        ports: dict[str, int] = {}
        for name in ("port", "rest_port"):
            value = getattr(settings, name)
            if value == 0:
                sock = held.enter_context(_held_port(settings.host))
                ports[name] = sock.getsockname()[1]
        async with emulation(settings, "socket", environment) as emulated:
            upstreams = dict(settings.upstreams)
            if emulated is not None:
                upstreams.update(emulated.upstreams_for(load_file(file)))
                environment.update(emulated.env)
            worker_settings = _worker_settings(settings, ports, upstreams)
            try:
                for index in range(settings.workers):
                    process = context.Process(
                        target=_worker_main,
                        args=(file, worker_settings, environment, index, reports),
                        name=f"hms-recordings-worker-{index}",
                    )
                    process.start()
                    processes.append(process)
                lines = await _wait_ready(reports, processes)
                held.close()  # the workers listen on the ports now
                if emulated is not None:
                    lines[0] += ", upstream: embedded emulator (one, shared by the workers)"
                key = "HMS_RECORDINGS_STATE_KEY" if settings.state_key is not None else "a key generated for this run"
                lines.append(f"{settings.workers} worker processes on one port; requestState sealed under {key}")
                banner(lines)
                crashed = await _supervise(processes)
            finally:
                await _stop(processes, settings)
            if crashed is not None:
                code = processes[crashed].exitcode
                raise ConfigError(f"worker {crashed} exited with code {code}; the other workers were stopped")


async def _stop(processes: list[BaseProcess], settings: ServeSettings) -> None:
    """Every worker stopped: asked with SIGTERM (drain), killed when it outlives the drain settings and a margin."""
    _signal_all(processes, signal.SIGTERM)
    deadline = settings.drain_grace + settings.drain_timeout + STOP_MARGIN
    with anyio.move_on_after(deadline):
        while any(p.is_alive() for p in processes):  # noqa: ASYNC110 - bounded; a process offers no event
            await anyio.sleep(0.1)
    for process in processes:
        if process.is_alive():
            logger.error("worker %s did not stop within %gs: killed", process.name, deadline)
            process.kill()
        process.join(timeout=5)
