"""``serve --workers 2``: one port, two processes answering, 1,000 calls from 32 clients of both eras, 0 errors."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from hms_recordings.errors import ConfigError
from hms_recordings.server.settings import ServeSettings
from hms_recordings.server.workers import serve_workers
from tests.deploy.servers import MODERN, ServeProcess, free_port, modern_call
from tests.paths import SEED

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CLIENTS = 32
CALLS = 1000


async def test_two_workers_on_one_port_serve_a_thousand_calls_from_32_clients_without_an_error(
    tmp_path: Path,
) -> None:
    serve = ServeProcess(
        [
            "--workers",
            "2",
            "--emulator",
            "--port",
            "0",
            "--rest-port",
            "0",
            "--log-level",
            "DEBUG",
            "--json-logs",
            "--drain-grace",
            "0",
        ],
        tmp_path / "serve.log",
    ).start()
    try:
        port = await serve.port()
        await serve.ready(port)
        errors: list[str] = []
        done: list[int] = []

        async def client(index: int) -> None:
            share = CALLS // CLIENTS + (1 if index < CALLS % CLIENTS else 0)  # 1,000 calls in all
            mode = "legacy" if index % 2 else MODERN  # half 2025-11-25 (stateless), half 2026-07-28
            async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as session:  # type: ignore[arg-type]
                for n in range(share):
                    tool, args = ("hms-list-recordings", {}) if n % 2 else ("hms-list-recording-assets", {"limit": 10})
                    result = await session.call_tool(tool, args)
                    if result.is_error:
                        errors.append(f"{tool}: {result.content}")
                    done.append(1)

        with anyio.fail_after(240):
            async with anyio.create_task_group() as tg:
                for index in range(CLIENTS):
                    tg.start_soon(client, index)
        assert errors == []
        assert len(done) == CALLS
        serve.signal(signal.SIGTERM)
        assert await serve.exit_code() == 0
        per_worker = serve.calls_per_pid()
        banner = serve.text()
    finally:
        serve.kill()
    assert "stateless: 2 worker processes cannot share a session" in banner
    assert sum(per_worker.values()) == CALLS  # every call finished in a worker, and was logged once
    assert len(per_worker) == 2, per_worker  # both workers answered
    assert serve.process is not None and serve.process.pid not in per_worker  # the supervisor serves nothing


async def test_workers_refuse_the_stdio_transport_and_several_files(tmp_path: Path) -> None:
    stdio = ServeProcess(["--workers", "2", "--transport", "stdio"], tmp_path / "stdio.log").start()
    assert await stdio.exit_code() == 3
    assert "--workers needs the http transport" in stdio.text()
    several = ServeProcess(["--workers", "2", str(SEED), str(SEED), "--single-port"], tmp_path / "many.log").start()
    assert await several.exit_code() == 3
    assert "--workers serves one capability file" in several.text()


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's worker processes, oldest first (its multiprocessing resource tracker left out)."""
    children = [int(p) for p in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()]
    return [p for p in children if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]


def running(pids: list[int]) -> list[int]:
    return [p for p in pids if Path(f"/proc/{p}").exists()]


async def test_a_worker_that_dies_stops_the_others_and_serve_fails_naming_it(tmp_path: Path) -> None:
    serve = ServeProcess(
        ["--workers", "2", "--emulator", "--port", "0", "--rest-port", "0"], tmp_path / "s.log"
    ).start()
    try:
        await serve.ready(await serve.port())
        assert serve.process is not None
        workers = worker_pids(serve.process.pid)
        assert len(workers) >= 2
        os.kill(workers[-1], signal.SIGKILL)
        code = await serve.exit_code()
        text = serve.text()
        alive = running(workers[:-1])
    finally:
        serve.kill()
    assert code == 3
    assert re.search(r"worker \d exited with code -9; the other workers were stopped", text), text
    assert alive == []


def leaves(group: BaseExceptionGroup[ConfigError]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


async def test_the_supervisor_in_this_process_serves_through_its_workers_until_one_dies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The supervisor runs here (not in a child) so that its code is measured by the coverage run like the rest.
    port = free_port()
    settings = ServeSettings(workers=2, emulator=True, port=port, rest_port=0, drain_grace=0)
    failures: list[str] = []

    async def supervise() -> None:
        try:
            await serve_workers(None, settings)
        except* ConfigError as group:  # the emulator's task group wraps it, as it does for the CLI (which unwraps)
            failures.extend(str(leaf) for leaf in leaves(group))

    async with anyio.create_task_group() as tg:
        tg.start_soon(supervise)
        async with httpx2.AsyncClient() as http:
            seen = ""
            with anyio.fail_after(60):
                while "worker processes on one port" not in seen:  # the banner: every worker listens
                    seen += capsys.readouterr().err
                    await anyio.sleep(0.05)
            answer = await modern_call(http, f"http://127.0.0.1:{port}/mcp", "hms-list-recordings", {})
        workers = [p for p in multiprocessing.active_children() if p.name.startswith("hms-recordings-worker")]
        assert len(workers) == 2 and workers[0].pid is not None
        os.kill(workers[0].pid, signal.SIGKILL)
    assert answer["result"]["isError"] is False
    assert failures == [f"worker {workers[0].name[-1]} exited with code -9; the other workers were stopped"]
    assert [p for p in multiprocessing.active_children() if p.name.startswith("hms-recordings-worker")] == []


async def test_workers_of_a_killed_supervisor_drain_and_exit_instead_of_serving_on(tmp_path: Path) -> None:
    serve = ServeProcess(
        ["--workers", "2", "--emulator", "--port", "0", "--rest-port", "0"], tmp_path / "k.log"
    ).start()
    try:
        await serve.port()  # every worker listens
        assert serve.process is not None
        workers = worker_pids(serve.process.pid)
        serve.kill()  # SIGKILL: the supervisor cannot forward anything
        with anyio.fail_after(30):
            while running(workers):  # noqa: ASYNC110 - bounded polling: a process offers no event
                await anyio.sleep(0.1)
    finally:
        serve.kill()
    assert running(workers) == []
