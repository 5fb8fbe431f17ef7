"""Measure the emulator's request rate over loopback (a script, not a test).

    .venv/bin/python bench/bench_emulator.py [--requests 4000] [--concurrency 16] [--json]

Runs the emulator with ``serve_in_background`` on 127.0.0.1 (free port) and drives it with N concurrent httpx2
clients: ``GET /v2/recordings`` and ``POST /v2/recordings/room/{id}/start`` (each start on a fresh room id, so no
409s). Prints requests/s and p50/p99 latency per endpoint.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import anyio
import httpx2

from hms_recordings.emulator import EmulatorConfig, serve_in_background
from hms_recordings.hms.tokens import mint_management_token


async def drive(
    name: str, total: int, concurrency: int, call: Callable[[httpx2.AsyncClient, int], Awaitable[int]], base: str
) -> dict[str, float | str | int]:
    latencies: list[float] = []
    errors = 0
    counter = itertools.count()

    async def worker() -> None:
        nonlocal errors
        async with httpx2.AsyncClient(base_url=base, timeout=30) as client:
            while (i := next(counter)) < total:
                t0 = time.perf_counter()
                status = await call(client, i)
                latencies.append(time.perf_counter() - t0)
                errors += status != 200

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "endpoint": name,
        "requests": total,
        "errors": errors,
        "rps": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


async def main(args: argparse.Namespace) -> None:
    config = EmulatorConfig(start_delay=0, processing_time=0, seed=1)
    async with serve_in_background(config) as running:
        headers = {"Authorization": f"Bearer {mint_management_token(config.credentials)}"}

        async def list_recordings(client: httpx2.AsyncClient, i: int) -> int:
            return (await client.get("/recordings", headers=headers)).status_code

        async def start(client: httpx2.AsyncClient, i: int) -> int:
            room = f"{0xBE0000000000000000000000 + i:024x}"
            response = await client.post(f"/recordings/room/{room}/start", json={}, headers=headers)
            return response.status_code

        results = [
            await drive("POST /v2/recordings/room/{id}/start", args.requests, args.concurrency, start, running.api_url),
            await drive("GET /v2/recordings", args.requests, args.concurrency, list_recordings, running.api_url),
        ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(
                f"{r['endpoint']:<40} {r['rps']:>9} req/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms"
                f"  ({r['requests']} requests, {r['errors']} errors)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    anyio.run(main, parser.parse_args())
