"""Two ``serve`` processes behind a real HAProxy balancing per request, clients of both protocol eras, and one
backend restarted in the middle of the run: 0 failed calls, both backends (and the restarted one) answering."""

from __future__ import annotations

import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from hms_recordings.capability.loader import load_file
from hms_recordings.emulator import EmulatorConfig, RunningEmulator, serve_in_background
from tests.deploy.haproxy import HAProxy, haproxy_config
from tests.deploy.servers import MODERN, ServeProcess, free_port, mint_request_state, modern_call, server_env

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CLIENTS = 16  # half 2025-11-25 (stateless), half 2026-07-28
BEFORE, AFTER = 200, 200  # calls before the restart begins, and after the restarted backend is back
KEY = secrets.token_hex(32)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with serve_in_background(EmulatorConfig(start_delay=0, processing_time=0, seed=5)) as running:
        yield running


def backend(emulator: RunningEmulator, port: int, log: Path) -> ServeProcess:
    args = ["--port", str(port), "--rest-port", "0", "--stateless", "--upstream", f"recordings={emulator.api_url}"]
    args += ["--log-level", "DEBUG", "--json-logs"]  # the default --drain-grace (2 s), as docs/deploy.md runs it
    return ServeProcess(args, log, env=server_env(HMS_RECORDINGS_STATE_KEY=KEY)).start()


def calls(serve: ServeProcess) -> int:
    return sum(serve.calls_per_pid().values())


async def test_two_backends_behind_haproxy_lose_no_call_while_one_restarts(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    ports = {"a": free_port(), "b": free_port()}
    front, stats = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(front, stats, ports))
    a = backend(emulator, ports["a"], tmp_path / "a.log")
    b = backend(emulator, ports["b"], tmp_path / "b.log")
    proxy = HAProxy(config, tmp_path / "haproxy.log", stats).start()
    restarted: ServeProcess | None = None
    url = f"http://127.0.0.1:{front}/mcp"
    done: list[str] = []
    failures: list[str] = []
    try:
        for serve, port in ((a, ports["a"]), (b, ports["b"])):
            await serve.ready(port)
        await proxy.wait_for({"a": "UP", "b": "UP"})
        stop = anyio.Event()

        async def client(index: int) -> None:
            mode = "legacy" if index % 2 else MODERN
            async with Client(url, mode=mode) as session:  # type: ignore[arg-type]
                n = 0
                while not stop.is_set():
                    n += 1
                    tool, args = ("hms-list-recordings", {}) if n % 2 else ("hms-list-recording-assets", {"limit": 10})
                    try:
                        result = await session.call_tool(tool, args)
                    except Exception as exc:  # a failed call is counted, not raised: the test counts them all
                        failures.append(f"{mode} {tool}: {exc!r}")
                        continue
                    if result.is_error:
                        failures.append(f"{mode} {tool}: {result.content}")
                    done.append(mode)

        async def until(count: int) -> None:
            with anyio.fail_after(120):
                while len(done) < count:  # noqa: ASYNC110 - bounded; the clients count as they go
                    await anyio.sleep(0.02)

        with anyio.fail_after(300):
            async with anyio.create_task_group() as tg:
                for index in range(CLIENTS):
                    tg.start_soon(client, index)
                await until(BEFORE)
                a.signal(signal.SIGTERM)  # drains: not ready, HAProxy takes it out, in-flight calls finish
                assert await a.exit_code() == 0
                during = len(done)
                restarted = backend(emulator, ports["a"], tmp_path / "a-again.log")
                await restarted.ready(ports["a"])
                await proxy.wait_for({"a": "UP", "b": "UP"})
                await until(len(done) + AFTER)
                stop.set()
            # A requestState sealed under the shared key is accepted by whichever backend the balancer picks.
            audience = load_file().mcp[0].namespace  # the MCP server's name, which the boundary binds state to
            sealed = await mint_request_state(KEY, audience, "hms-list-recordings", {})
            async with httpx2.AsyncClient(timeout=30) as http:
                answers = [
                    await modern_call(http, url, "hms-list-recordings", {}, request_state=sealed) for _ in range(10)
                ]
    finally:
        proxy.stop()
        for serve in (a, b, restarted):
            if serve is not None:
                serve.kill()
    print(
        f"\ndeploy-figure: {len(done)} calls through HAProxy, {len(failures)} failed; backend a {calls(a)}, "
        f"b {calls(b)}, a restarted {calls(restarted) if restarted else 0}"
    )
    assert failures == []
    assert set(done) == {"legacy", MODERN} and len(done) >= BEFORE + AFTER
    assert calls(a) > 0 and calls(b) > 0 and restarted is not None and calls(restarted) > 0
    assert calls(a) + calls(b) + calls(restarted) == len(done) + len(answers)  # each call answered exactly once
    assert during >= BEFORE
    assert all(answer["result"]["isError"] is False for answer in answers), answers
