"""Bounded soak: a real ``hms-recordings serve`` under steady MCP load for a few minutes, reporting resident memory.

Not part of CI. Starts two processes on loopback, an emulator and a server pointed at it, then runs ``--clients``
concurrent MCP clients (official SDK, Streamable HTTP) that loop over start, list, get, pause, resume, stop and
list-assets in their own rooms, reconnecting every few rounds so sessions are created and closed too. Every answer
the server handles stays the same size as the emulator fills up (lists are filtered by room and paged).

The server's resident set size (``VmRSS`` of ``/proc/<pid>/status``) is sampled every few seconds; "start" is the
sample taken right after ``--warmup`` seconds of load (pools, caches and sessions filled), "end" the last one.
Exit status 1 when the growth from start to end exceeds ``--max-growth`` (10% by default) or any call failed.

    python bench/soak.py                     # 180 s, 10 clients
    python bench/soak.py --duration 600 --clients 20 --json bench/out/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

KEY, SECRET = "soak-access-key", "soak-app-secret-0123456789abcdef0123456789"
ROUNDS_PER_SESSION = 5


@dataclass
class Report:
    duration_s: float = 0.0
    clients: int = 0
    calls: int = 0
    errors: int = 0
    sessions: int = 0
    calls_per_s: float = 0.0
    rss_idle_mib: float = 0.0
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_max_mib: float = 0.0
    growth: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since load began, MiB)
    first_errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@asynccontextmanager
async def process(args: list[str], ready_url: str, env: dict[str, str]) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(  # noqa: ASYNC220 - Popen does not wait; readiness is polled below without blocking
        [sys.executable, "-m", "hms_recordings.cli", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        async with httpx2.AsyncClient() as probe:
            with anyio.fail_after(60):
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(f"{args[0]} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
                    try:
                        await probe.get(ready_url)
                        break
                    except httpx2.TransportError:
                        await anyio.sleep(0.1)
        yield proc
    finally:
        proc.terminate()  # only the processes this script started, by their own handle
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def client_loop(url: str, index: int, stop_at: float, report: Report) -> None:
    room = f"50a4{index:020x}"

    async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, args)
        report.calls += 1
        if result.is_error:
            report.errors += 1
            if len(report.first_errors) < 5:
                report.first_errors.append(f"{tool}: {result.content[0].text[:200]}")  # type: ignore[union-attr]
            return {}
        return result.structured_content or {}

    while time.monotonic() < stop_at:
        async with Client(url) as client:
            report.sessions += 1
            for _ in range(ROUNDS_PER_SESSION):
                if time.monotonic() >= stop_at:
                    break
                started = await call(client, "hms-start-recording", {"room_id": room, "if_active": "return"})
                await call(client, "hms-list-recordings", {"room_id": room})
                if started.get("id"):
                    await call(client, "hms-get-recording", {"recording_id": started["id"]})
                await call(client, "hms-pause-recording", {"room_id": room})
                await call(client, "hms-resume-recording", {"room_id": room})
                await call(client, "hms-stop-recording", {"room_id": room})
                await call(client, "hms-list-recording-assets", {"room_id": room})


async def soak(args: argparse.Namespace) -> Report:
    env = {**os.environ, "HMS_ACCESS_KEY": KEY, "HMS_APP_SECRET": SECRET}
    env = {k: v for k, v in env.items() if not k.startswith("HMS_RECORDINGS_")}
    emulator_port, server_port = free_port(), free_port()
    emulator_base = f"http://127.0.0.1:{emulator_port}"
    report = Report(clients=args.clients)
    emulator_args = [
        "emulator",
        "--port",
        str(emulator_port),
        "--start-delay",
        "0",
        "--processing-time",
        "0",
        "--seed",
        "1",
    ]
    server_args = ["serve", "--port", str(server_port), "--rest-port", str(free_port())]  # 9091 may be taken
    server_args += ["--upstream", f"recordings={emulator_base}/v2"]
    url = f"http://127.0.0.1:{server_port}/mcp"
    async with (
        process(emulator_args, f"{emulator_base}/openapi.json", env),
        process(server_args, url, env) as server,
    ):
        report.rss_idle_mib = rss_mib(server.pid)
        began = time.monotonic()
        stop_at = began + args.duration

        async def sample() -> None:
            while time.monotonic() < stop_at:
                await anyio.sleep(min(args.sample_every, max(0.0, stop_at - time.monotonic())))
                report.samples.append((round(time.monotonic() - began, 1), round(rss_mib(server.pid), 2)))

        async with anyio.create_task_group() as tg:
            tg.start_soon(sample)
            for index in range(args.clients):
                tg.start_soon(client_loop, url, index, stop_at, report)
        report.duration_s = round(time.monotonic() - began, 1)
        report.samples.append((report.duration_s, round(rss_mib(server.pid), 2)))
    after_warmup = [mib for at, mib in report.samples if at >= args.warmup]
    report.rss_start_mib = after_warmup[0] if after_warmup else report.samples[0][1]
    report.rss_end_mib = report.samples[-1][1]
    report.rss_max_mib = max(mib for _, mib in report.samples)
    report.growth = round((report.rss_end_mib - report.rss_start_mib) / report.rss_start_mib, 4)
    report.calls_per_s = round(report.calls / report.duration_s, 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    parser.add_argument("--clients", type=int, default=10, help="concurrent MCP clients (default 10)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before the 'start' sample (default 20)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--max-growth", type=float, default=0.10, help="allowed RSS growth, start to end (0.10)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = anyio.run(soak, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(
        f"soak: {report.duration_s:g}s, {report.clients} clients, {report.sessions} sessions, {report.calls} calls "
        f"({report.calls_per_s:g}/s), {report.errors} errors"
    )
    print(
        f"server RSS: idle {report.rss_idle_mib:.1f} MiB, start (after {args.warmup:g}s warm-up) "
        f"{report.rss_start_mib:.1f} MiB, end {report.rss_end_mib:.1f} MiB, max {report.rss_max_mib:.1f} MiB, "
        f"growth {report.growth:+.1%} (limit {args.max_growth:.0%})"
    )
    for error in report.first_errors:
        print(f"  error: {error}")
    return 0 if report.errors == 0 and report.growth <= args.max_growth else 1


if __name__ == "__main__":
    sys.exit(main())
