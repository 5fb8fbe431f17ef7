"""Throughput of ``serve --workers N`` (1, 2 and more) on one port, and of two ``serve`` processes behind HAProxy.

    .venv/bin/python bench/workers.py [--calls 1000] [--rounds 7] [--max-workers 4]

Writes ``bench/workers.json`` and ``bench/WORKERS.md`` (the figures ``docs/deploy.md`` quotes). One emulator process
(seeded with ten finished recordings, so every list answer is the same size) stands in for 100ms; every contender is
``--stateless --json-response`` with the same upstream and credential. 32 raw clients (``mcpclient.HttpMcpSession``,
one keep-alive connection each: the kernel spreads connections over the workers, HAProxy spreads requests) call
``hms-list-recordings`` until ``--calls`` have been answered; each round measures every contender once, in a shuffled
order, and the report takes each contender's median round. Ratios are against one worker in the same run.

The load generator, the emulator, the balancer and the servers share this machine's cores: with 2 cores, a second
worker competes with the load generator for the second core, and more workers than cores only add switching.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcpclient import CallFailed, DirectSession, HttpMcpSession
from procs import ServerProcess, cpu_seconds, free_port

from hms_recordings.hms.tokens import AppCredentials, mint_management_token

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
HAPROXY_EXAMPLE = REPO / "examples" / "deploy" / "haproxy.cfg"
CLIENTS = 32
HMS = str(Path(sys.executable).parent / "hms-recordings")


@dataclass
class Contender:
    name: str
    workers: int  # server processes answering (the supervisor of --workers is not counted)
    url: str
    processes: list[ServerProcess]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def until_ok(url: str, process: ServerProcess, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx2.AsyncClient(trust_env=False) as client:
        while True:
            process.check_alive()
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer 200 within {within:g}s")
            await asyncio.sleep(0.1)


def serve_argv(upstream: str, port: int, workers: int) -> list[str]:
    flags = ["--stateless", "--json-response", "--upstream", f"recordings={upstream}/v2"]
    return [HMS, "serve", "--port", str(port), "--rest-port", "0", "--workers", str(workers), *flags]


async def start_serve(name: str, upstream: str, workers: int, env: dict[str, str], logs: Path) -> Contender:
    port = free_port()
    process = ServerProcess(name, serve_argv(upstream, port, workers), env, logs)
    await until_ok(f"http://127.0.0.1:{port}/health/ready", process)
    return Contender(name, workers, f"http://127.0.0.1:{port}/mcp", [process])


async def start_balanced(upstream: str, env: dict[str, str], logs: Path) -> Contender:
    """Two one-worker ``serve`` backends behind HAProxy run with ``examples/deploy/haproxy.cfg``."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    front, stats, a, b = free_port(), free_port(), free_port(), free_port()
    backends = [ServerProcess(f"backend-{i}", serve_argv(upstream, p, 1), env, logs) for i, p in enumerate((a, b))]
    for process, port in zip(backends, (a, b), strict=True):
        await until_ok(f"http://127.0.0.1:{port}/health/ready", process)
    config = HAPROXY_EXAMPLE.read_text()
    for old, new in (("8080", front), ("8404", stats), ("9100", a), ("9101", b)):
        config = config.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    path = logs / "haproxy.cfg"
    path.write_text(config)
    proxy = ServerProcess("haproxy", [haproxy, "-db", "-f", str(path)], env, logs)
    await until_ok(f"http://127.0.0.1:{front}/health/ready", proxy)
    return Contender("2 serve behind HAProxy", 2, f"http://127.0.0.1:{front}/mcp", [*backends, proxy])


async def start_emulator(logs: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}  # the development key pair
    argv = [HMS, "emulator", "--port", str(port), "--start-delay", "0", "--processing-time", "0", "--seed", "1"]
    process = ServerProcess("emulator", argv, env, logs)
    base = f"http://127.0.0.1:{port}"
    await until_ok(f"{base}/openapi.json", process)
    return process, base


async def burst(url: str, calls: int) -> dict[str, Any]:
    """``calls`` list calls from 32 clients; calls/s, latency percentiles and errors."""
    sessions = [await HttpMcpSession(url).open() for _ in range(CLIENTS)]
    latencies: list[float] = []
    errors: list[str] = []
    remaining = calls

    async def client(session: HttpMcpSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                await session.list_recordings()
            except (CallFailed, httpx2.HTTPError) as exc:
                errors.append(repr(exc)[:200])
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client(s) for s in sessions))
    took = time.perf_counter() - started
    for session in sessions:
        await session.aclose()
    latencies.sort()
    return {
        "calls": len(latencies),
        "seconds": round(took, 3),
        "calls_per_s": round(len(latencies) / took, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p95_ms": round(1000 * latencies[int(len(latencies) * 0.95)], 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (the workers of a ``--workers`` supervisor), from ``/proc``."""
    return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def server_cpu(contender: Contender) -> float:
    """CPU seconds used so far by the contender's servers, workers included (HAProxy's own CPU is not counted)."""
    pids = [p.pid for p in contender.processes if p.name != "haproxy"]
    return sum(cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid)) for pid in pids)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = BENCH_DIR / "out" / "workers"
    load_before = os.getloadavg()
    emulator, base = await start_emulator(logs)
    token = mint_management_token(AppCredentials.development())
    seeding = DirectSession(f"{base}/v2", token)
    for i in range(10):
        room = f"{0x5EED00000000000000000000 + i:024x}"
        await seeding.start(room)
        await seeding.stop(room)
    await seeding.aclose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
    env.update(HMS_MANAGEMENT_TOKEN=token, PYTHONUNBUFFERED="1")
    counts = sorted({1, 2, args.max_workers})
    contenders: list[Contender] = []
    try:
        for n in counts:
            contenders.append(await start_serve(f"serve --workers {n}", base, n, env, logs))
        contenders.append(await start_balanced(base, env, logs))
        for contender in contenders:
            log(f"warm-up {contender.name}")
            await burst(contender.url, 500)
        rounds: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}
        rng = random.Random(args.seed)
        for index in range(args.rounds):
            order = contenders[:]
            rng.shuffle(order)
            for contender in order:
                before = (server_cpu(contender), cpu_seconds(os.getpid()), cpu_seconds(emulator.pid))
                result = await burst(contender.url, args.calls)
                after = (server_cpu(contender), cpu_seconds(os.getpid()), cpu_seconds(emulator.pid))
                server, generator, upstream = (1000 * (a - b) / args.calls for a, b in zip(after, before, strict=True))
                result["server_cpu_ms_per_call"] = round(server, 2)
                result["client_cpu_ms_per_call"] = round(generator, 2)  # the load generator (this process)
                result["emulator_cpu_ms_per_call"] = round(upstream, 2)
                rounds[contender.name].append(result)
                log(f"round {index + 1} {contender.name}: {result['calls_per_s']} calls/s, {result['errors']} errors")
    finally:
        for contender in contenders:
            for process in contender.processes:
                process.stop(timeout=40)
        emulator.stop()
    summary = []
    for contender in contenders:
        runs = rounds[contender.name]
        median = sorted(runs, key=lambda r: r["calls_per_s"])[len(runs) // 2]
        summary.append({"name": contender.name, "workers": contender.workers, **median, "rounds": runs})
    errors = sum(r["errors"] for c in summary for r in c["rounds"])
    return {
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "clients": CLIENTS,
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "contenders": summary,
        "errors": errors,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def report(results: dict[str, Any]) -> str:
    rows = results["contenders"]
    one = rows[0]["calls_per_s"]
    lines = [
        "# Workers and the balancer: throughput (bench/workers.py)",
        "",
        f"{results['date']}; {results['cpu_count']} cores shared with the load generator, the emulator and HAProxy "
        f"(and other jobs: load average {results['load_average_before'][0]:.1f} before, "
        f"{results['load_average_after'][0]:.1f} after); "
        f"{results['clients']} clients, {results['calls_per_round']} `hms-list-recordings` calls per round, median of "
        f"{results['rounds']} rounds; every server `--stateless --json-response`.",
        "",
        "| contender | server processes | calls/s (median) | vs 1 worker | rounds min-max | p50 ms | p95 ms "
        "| CPU ms/call: servers / load generator / emulator | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['workers']} | {row['calls_per_s']:.0f} | x{row['calls_per_s'] / one:.2f} | "
            f"{min(x['calls_per_s'] for x in row['rounds']):.0f}-{max(x['calls_per_s'] for x in row['rounds']):.0f} | "
            f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['server_cpu_ms_per_call']:.2f} / "
            f"{row['client_cpu_ms_per_call']:.2f} / {row['emulator_cpu_ms_per_call']:.2f} | {row['errors']} |"
        )
    lines += [
        "",
        "Every round, calls/s: "
        + "; ".join(f"{r['name']} " + ", ".join(f"{x['calls_per_s']:.0f}" for x in r["rounds"]) for r in rows),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="calls per contender per round (1000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (7)")
    parser.add_argument("--max-workers", type=int, default=4, help="the largest --workers measured (4)")
    parser.add_argument("--seed", type=int, default=1, help="the order of the contenders in each round")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    (BENCH_DIR / "workers.json").write_text(json.dumps(results, indent=2) + "\n")
    (BENCH_DIR / "WORKERS.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
