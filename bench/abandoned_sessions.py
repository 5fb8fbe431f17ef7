"""10,000 abandoned MCP sessions against a real ``hms-recordings serve``: memory, and whether a newcomer is served.

Not part of CI. For each configuration, side by side in one run, it starts an emulator and a server on loopback,
then opens ``--sessions`` stateful sessions with bare ``initialize`` requests that are never used again (an
attacker's cheapest move), spread over ``--addresses`` source addresses (127.0.1.x, all loopback on Linux) so that
the per-client share alone cannot stop them. Then it measures the server's resident set size (``VmRSS``) and has a
newcomer (a fresh address, the official SDK ``Client``) initialize and call ``hms-list-recordings``; and one
address alone tries ``--abuser`` more sessions, to show the per-client share.

Configurations: ``sdk-limits`` sets the SDK's defaults the issue measured (10,000 sessions, 30 idle minutes) and
no per-client share; ``defaults`` runs ``serve`` as shipped. Both run the fairness layer, which cannot be switched
off: the "no newcomer served" half of the old behaviour is proven by the tests that fail without it
(``tests/reliability/test_session_fairness.py``), this script measures the memory.

    python bench/abandoned_sessions.py                      # 10,000 sessions, 100 addresses
    python bench/abandoned_sessions.py --sessions 2000 --json bench/out/sessions.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from soak import KEY, SECRET, free_port, process, rss_mib

CONFIGS = {
    "sdk-limits": ["--max-sessions", "10000", "--session-idle-timeout", "1800", "--max-sessions-per-client", "100000"],
    "defaults": [],
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "gone", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class Run:
    config: str
    rss_idle_mib: float = 0.0
    rss_after_mib: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    abandon_s: float = 0.0
    newcomer_served: bool = False
    newcomer_ms: float = 0.0
    newcomer_error: str = ""
    abuser_statuses: dict[str, int] = field(default_factory=dict)


async def abandon(url: str, count: int, addresses: list[str], statuses: Counter[str]) -> None:
    """``count`` bare initializes, round-robin over ``addresses``, 32 at a time."""
    clients = [httpx2.AsyncClient(transport=httpx2.AsyncHTTPTransport(local_address=a), timeout=30) for a in addresses]
    limiter = anyio.CapacityLimiter(32)

    async def one(index: int) -> None:
        async with limiter:
            try:
                answer = await clients[index % len(clients)].post(url, json=INITIALIZE, headers=HEADERS)
                statuses[str(answer.status_code)] += 1
            except httpx2.TransportError as exc:
                statuses[type(exc).__name__] += 1

    try:
        async with anyio.create_task_group() as tg:
            for index in range(count):
                tg.start_soon(one, index)
    finally:
        for client in clients:
            await client.aclose()


async def newcomer(url: str, address: str, run: Run) -> None:
    started = time.monotonic()
    try:
        async with (
            httpx2.AsyncClient(transport=httpx2.AsyncHTTPTransport(local_address=address), timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            result = await client.call_tool("hms-list-recordings", {"limit": 10})
        run.newcomer_served = not result.is_error
    except Exception as exc:  # the bench reports whatever stopped the newcomer
        run.newcomer_error = f"{type(exc).__name__}: {exc}"[:300]
    run.newcomer_ms = round((time.monotonic() - started) * 1000, 1)


async def measure(config: str, args: argparse.Namespace) -> Run:
    env = {**os.environ, "HMS_ACCESS_KEY": KEY, "HMS_APP_SECRET": SECRET}
    env = {k: v for k, v in env.items() if not k.startswith("HMS_RECORDINGS_")}
    emulator_port, server_port = free_port(), free_port()
    emulator_base = f"http://127.0.0.1:{emulator_port}"
    emulator_args = ["emulator", "--port", str(emulator_port), "--start-delay", "0", "--processing-time", "0"]
    server_args = ["serve", "--port", str(server_port), "--rest-port", str(free_port())]
    server_args += ["--upstream", f"recordings={emulator_base}/v2"]
    url = f"http://127.0.0.1:{server_port}/mcp"
    run = Run(config)
    async with (
        process(emulator_args, f"{emulator_base}/openapi.json", env),
        process([*server_args, *CONFIGS[config]], url, env) as server,
    ):
        run.rss_idle_mib = round(rss_mib(server.pid), 1)
        statuses: Counter[str] = Counter()
        began = time.monotonic()
        addresses = [f"127.0.1.{1 + i % 250}" for i in range(args.addresses)]
        await abandon(url, args.sessions, addresses, statuses)
        run.abandon_s = round(time.monotonic() - began, 1)
        run.statuses = dict(statuses)
        if server.poll() is not None:
            tail = server.stderr.read().decode()[-2000:] if server.stderr else ""
            raise RuntimeError(f"the server ({config}) exited with {server.returncode}: {tail}")
        run.rss_after_mib = round(rss_mib(server.pid), 1)
        await newcomer(url, "127.0.2.1", run)
        abuser: Counter[str] = Counter()
        await abandon(url, args.abuser, ["127.0.3.1"], abuser)
        run.abuser_statuses = dict(abuser)
    return run


async def bench(args: argparse.Namespace) -> list[Run]:
    return [await measure(config, args) for config in CONFIGS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=10_000, help="abandoned sessions (default 10000)")
    parser.add_argument("--addresses", type=int, default=100, help="source addresses they come from (default 100)")
    parser.add_argument("--abuser", type=int, default=400, help="sessions one address then tries (default 400)")
    parser.add_argument("--json", type=Path, help="also write the runs here")
    args = parser.parse_args()
    runs = anyio.run(bench, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")
    print(f"{args.sessions} abandoned sessions from {args.addresses} addresses, then a newcomer, then one abuser")
    print(
        "config      RSS idle  RSS after  growth    answers to the abandoned initializes      newcomer         abuser"
    )
    for r in runs:
        growth = r.rss_after_mib - r.rss_idle_mib
        served = f"served {r.newcomer_ms:g} ms" if r.newcomer_served else f"REFUSED ({r.newcomer_error[:40]})"
        print(
            f"{r.config:<11} {r.rss_idle_mib:7.1f}  {r.rss_after_mib:8.1f}  {growth:+7.1f}  "
            f"{json.dumps(r.statuses):<40}  {served:<16} {json.dumps(r.abuser_statuses)}"
        )
    sdk, shipped = runs
    ratio = (shipped.rss_after_mib - shipped.rss_idle_mib) / max(0.1, sdk.rss_after_mib - sdk.rss_idle_mib)
    print(f"memory growth, defaults / sdk-limits: {ratio:.2f}")
    return 0 if shipped.newcomer_served else 1


if __name__ == "__main__":
    sys.exit(main())
