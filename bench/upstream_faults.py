"""Upstream faults against a real ``serve`` (issue 13): refused calls, and reads under 30 % 503 + 10 % 429.

Not part of CI. Starts, on loopback, an emulator with fault rules and a server pointed at it (REST face), then:

``refused``
    ``--calls`` (600) starts that the upstream refuses with 403, one after the other (a start in an unknown room
    answers 403 on the real API). Reports the server's resident memory (``VmRSS``) and the mean latency of the first
    and the last 50 calls. Before issue 13, every refusal minted a token and recompiled the redactor: 76 -> 564 MiB.
``mix``
    ``--calls`` (1,000) reads of one recording while 30 % of upstream reads answer 503 and 10 % answer 429 with
    ``Retry-After: 1``, ``--concurrency`` (50) at a time, with the server's default retry policy and real waits.
    Reports successes and the p50/p99 latency.

``--compare DIR`` runs the same load, in the same run, against the ``src`` directory of another checkout (for example
``main`` before the change), and prints both side by side with the ratio.

    python bench/upstream_faults.py refused
    python bench/upstream_faults.py mix --compare /path/to/old/checkout/src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from soak import free_port, process, rss_mib

KEY, SECRET = "bench-access-key", "bench-app-secret-0123456789abcdef0123456789"
ROOM_PREFIX = "50b5"


@dataclass
class Result:
    contender: str
    calls: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    first50_ms: float = 0.0
    last50_ms: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    wall_s: float = 0.0


def _env(src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_RECORDINGS_")}
    env.update({"HMS_ACCESS_KEY": KEY, "HMS_APP_SECRET": SECRET})
    if src:
        env["PYTHONPATH"] = src
    return env


def _rules(mode: str) -> list[dict[str, Any]]:
    if mode == "refused":
        return [{"method": "POST", "path_prefix": "/v2/recordings/room/", "status": 403}]
    return [
        {"method": "GET", "path_prefix": "/v2/recordings/", "rate": 0.3, "status": 503},
        {"method": "GET", "path_prefix": "/v2/recordings/", "rate": 0.1 / 0.7, "status": 429, "retry_after": 1},
    ]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(mode: str, contender: str, src: str | None, calls: int, concurrency: int) -> Result:
    result = Result(contender)
    env = _env(src)
    emulator_port, server_port, rest_port = free_port(), free_port(), free_port()
    emulator = f"http://127.0.0.1:{emulator_port}"
    rest = f"http://127.0.0.1:{rest_port}"
    emulator_args = ["emulator", "--port", str(emulator_port), "--start-delay", "0", "--seed", "7"]
    server_args = ["serve", "--port", str(server_port), "--rest-port", str(rest_port)]
    server_args += ["--upstream", f"recordings={emulator}/v2"]
    async with (
        process(emulator_args, f"{emulator}/openapi.json", env),
        process(server_args, f"{rest}/openapi.json", env) as server,
        httpx2.AsyncClient(timeout=120) as client,
    ):
        recording = ""
        if mode == "mix":
            started = await client.post(f"{rest}/rooms/{ROOM_PREFIX}{0:020x}/recording/start", json={})
            recording = started.json()["id"]
        await client.put(f"{emulator}/_emulator/faults", json={"rules": _rules(mode)})
        latencies: list[float] = []
        limiter = anyio.CapacityLimiter(1 if mode == "refused" else concurrency)

        async def one(n: int) -> None:
            async with limiter:
                began = time.monotonic()
                if mode == "refused":
                    response = await client.post(f"{rest}/rooms/{ROOM_PREFIX}{n + 1:020x}/recording/start", json={})
                else:
                    response = await client.get(f"{rest}/recordings/{recording}")
                latencies.append((time.monotonic() - began) * 1000)
                result.calls += 1
                if response.status_code == 200:
                    result.ok += 1
                else:
                    kind = str(response.json().get("kind", response.status_code))
                    result.errors[kind] = result.errors.get(kind, 0) + 1
                if mode == "refused" and result.calls == 20:
                    result.rss_start_mib = rss_mib(server.pid)  # after a short warm-up

        wall = time.monotonic()
        if mode == "refused":
            for n in range(calls):
                await one(n)
        else:
            async with anyio.create_task_group() as tg:
                for n in range(calls):
                    tg.start_soon(one, n)
        result.wall_s = round(time.monotonic() - wall, 1)
        result.rss_end_mib = rss_mib(server.pid)
    result.first50_ms = round(statistics.mean(latencies[:50]), 1)
    result.last50_ms = round(statistics.mean(latencies[-50:]), 1)
    result.p50_ms = round(_percentile(latencies, 0.5), 1)
    result.p99_ms = round(_percentile(latencies, 0.99), 1)
    return result


def _print(mode: str, result: Result) -> None:
    if mode == "refused":
        print(
            f"{result.contender}: {result.calls} refused starts; RSS {result.rss_start_mib:.1f} -> "
            f"{result.rss_end_mib:.1f} MiB; mean latency first 50 {result.first50_ms} ms, last 50 "
            f"{result.last50_ms} ms; {result.wall_s}s; outcomes ok={result.ok} {result.errors}"
        )
    else:
        print(
            f"{result.contender}: {result.ok} of {result.calls} reads succeeded {result.errors or ''}; "
            f"p50 {result.p50_ms} ms, p99 {result.p99_ms} ms; RSS end {result.rss_end_mib:.1f} MiB; {result.wall_s}s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=["refused", "mix"])
    parser.add_argument("--calls", type=int, help="calls to make (refused: 600, mix: 1000)")
    parser.add_argument("--concurrency", type=int, default=50, help="reads in flight at once (mix; default 50)")
    parser.add_argument("--compare", metavar="SRC", help="also run against this src directory, side by side")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    calls = args.calls or (600 if args.mode == "refused" else 1000)
    results = [anyio.run(run, args.mode, "now", None, calls, args.concurrency)]
    if args.compare:
        results.append(anyio.run(run, args.mode, f"compare ({args.compare})", args.compare, calls, args.concurrency))
    for result in results:
        _print(args.mode, result)
    if len(results) == 2:
        now, old = results
        if args.mode == "refused":
            print(
                f"ratio compare/now: RSS growth {(old.rss_end_mib - old.rss_start_mib):.1f} vs "
                f"{(now.rss_end_mib - now.rss_start_mib):.1f} MiB; last-50 latency "
                f"{old.last50_ms / max(now.last50_ms, 0.1):.1f}x"
            )
        else:
            print(f"failed reads: now {now.calls - now.ok}, compare {old.calls - old.ok}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0 if results[0].ok == (0 if args.mode == "refused" else calls) else 1


if __name__ == "__main__":
    sys.exit(main())
