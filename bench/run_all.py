"""Run the whole benchmark and write ``bench/results.json``, ``bench/RESULTS.md`` and ``bench/latency.png``.

    bench/run.sh [--quick]                                   # the documented command (creates bench/.venv)
    bench/.venv/bin/python bench/run_all.py [--quick] [--rounds N] [--seed N]

Phases, in one run against one emulator process over loopback:

1. start the emulator, seed it with ten finished recordings, start every contender (``contenders.py``) and read each
   one's resident memory once it answers ``initialize``;
2. cold start: spawn the stdio servers again and again (interleaved), timing process start -> ``initialize`` answer;
3. warm-up: every virtual client of every contender calls both workloads;
4. the emulator's own throughput, with ``bench_emulator.drive`` from a separate process;
5. measured rounds: each round runs one burst of every (contender, workload, concurrency) in a shuffled order, so
   that the noise of this shared 2-core machine falls on every contender alike;
6. memory after 10,000 calls (the rounds are topped up to that count), then everything is stopped by pid.

Workloads: ``list`` is one ``hms-list-recordings`` call; ``pair`` is ``hms-start-recording`` on a fresh room then
``hms-stop-recording`` on it (one latency sample per pair). Raw latency samples go to ``bench/out/samples.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from contenders import BENCH_DIR, Contender, Spec, Upstream, server_argv, server_env
from figures import compute_targets, machine, summarize, versions
from mcpclient import DirectSession, StdioMcpSession, initialize_params
from procs import ServerProcess, cpu_seconds, free_port

from hms_recordings.hms.tokens import AppCredentials, mint_management_token

CONCURRENCY = (1, 8, 32)
KINDS = ("list", "pair")
ALL_CELLS = tuple(itertools.product(KINDS, CONCURRENCY))
SCALING_CELLS = (("list", 32), ("pair", 32))
VIRTUAL_CLIENTS = max(CONCURRENCY)

SPECS = (
    Spec("floor", "direct"),
    Spec("handwritten", "default"),
    Spec("handwritten", "stateless-json"),
    Spec("handwritten", "stdio"),
    Spec("ours", "default"),
    Spec("ours", "stateless-json"),
    Spec("ours", "stdio"),
    Spec("fastmcp", "default"),
    Spec("fastmcp", "stateless-json"),
    Spec("ours", "stateless-json", workers=2),
)
COLD_START_FAMILIES = ("handwritten", "ours", "fastmcp")


@dataclass(frozen=True)
class Plan:
    """How much of everything: operations per burst for each (workload, concurrency), rounds, and the rest."""

    rounds: int
    burst: dict[tuple[str, int], int]
    warmup: int
    memory_calls: int
    cold_runs: int
    emulator_requests: int


FULL = Plan(
    rounds=6,
    burst={("list", 1): 60, ("list", 8): 200, ("list", 32): 400, ("pair", 1): 30, ("pair", 8): 100, ("pair", 32): 200},
    warmup=200,
    memory_calls=10_000,
    cold_runs=7,
    emulator_requests=3_000,
)
QUICK = Plan(
    rounds=2,
    burst={("list", 1): 30, ("list", 8): 96, ("list", 32): 192, ("pair", 1): 15, ("pair", 8): 48, ("pair", 32): 96},
    warmup=64,
    memory_calls=1_000,
    cold_runs=3,
    emulator_requests=1_000,
)


@dataclass
class Tally:
    """Everything measured for one (contender, workload, concurrency)."""

    latencies: list[float] = field(default_factory=list)
    operations: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0  # the server's CPU seconds
    emulator_cpu: float = 0.0
    loadgen_cpu: float = 0.0  # this process's CPU seconds
    errors: list[str] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # operations/s of each burst


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


_rooms = itertools.count()


def next_room() -> str:
    return f"{0xBE0000000000000000000000 + next(_rooms):024x}"


def cells_of(spec: Spec) -> Iterable[tuple[str, int]]:
    return SCALING_CELLS if spec.workers > 1 else ALL_CELLS


async def burst(contender: Contender, kind: str, concurrency: int, operations: int, tally: Tally | None) -> None:
    """``operations`` list calls or start/stop pairs by ``concurrency`` virtual clients."""
    remaining = operations
    latencies: list[float] = []
    errors: list[str] = []

    async def worker(session: Any) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            try:
                if kind == "list":
                    await session.list_recordings()
                else:
                    room = next_room()
                    await session.start(room)
                    await session.stop(room)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            latencies.append(time.perf_counter() - began)

    emulator_pid = contender.upstream.pid
    cpu_before, loadgen_before = contender.cpu_seconds(), time.process_time()
    emulator_before = cpu_seconds(emulator_pid) if emulator_pid else 0.0
    began = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in contender.sessions[:concurrency]))
    elapsed = time.perf_counter() - began
    contender.calls += operations * (1 if kind == "list" else 2)
    if tally is not None:
        tally.latencies += latencies
        tally.operations += operations
        tally.elapsed += elapsed
        tally.cpu += contender.cpu_seconds() - cpu_before
        tally.loadgen_cpu += time.process_time() - loadgen_before
        tally.emulator_cpu += (cpu_seconds(emulator_pid) - emulator_before) if emulator_pid else 0.0
        tally.errors += errors
        tally.rates.append(operations / elapsed)


# ----------------------------------------------------------------------------------------------------- emulator


async def start_emulator(log_dir: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    hms = str(Path(sys.executable).parent / "hms-recordings")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}  # the development key pair
    argv = [hms, "emulator", "--port", str(port), "--start-delay", "0", "--processing-time", "0", "--seed", "1"]
    process = ServerProcess("emulator", argv, env, log_dir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    async with httpx2.AsyncClient(trust_env=False) as client:
        while True:
            process.check_alive()
            try:
                if (await client.get(f"{base}/openapi.json")).status_code == 200:
                    return process, base
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            await asyncio.sleep(0.1)


async def seed_recordings(upstream: Upstream, count: int = 10) -> None:
    """A full first page, so that every list call returns the same ten recordings' worth of JSON."""
    session = DirectSession(upstream.api_url, upstream.token)
    for i in range(count):
        room = f"{0x5EED00000000000000000000 + i:024x}"
        await session.start(room)
        await session.stop(room)
    await session.aclose()


async def emulator_throughput(upstream: Upstream, requests: int) -> list[dict[str, Any]]:
    """The emulator alone, measured with ``bench/bench_emulator.py``'s driver (from this separate process)."""
    from bench_emulator import drive

    headers = {"Authorization": f"Bearer {upstream.token}"}

    async def list_recordings(client: httpx2.AsyncClient, i: int) -> int:
        return (await client.get("/recordings", headers=headers)).status_code

    async def start(client: httpx2.AsyncClient, i: int) -> int:
        body = {"meeting_url": "https://bench.app.100ms.live/meeting/abc-defg-hij"}
        return (await client.post(f"/recordings/room/{next_room()}/start", json=body, headers=headers)).status_code

    return [
        await drive("GET /v2/recordings", requests, VIRTUAL_CLIENTS, list_recordings, upstream.api_url),
        await drive("POST /v2/recordings/room/{id}/start", requests, VIRTUAL_CLIENTS, start, upstream.api_url),
    ]


# --------------------------------------------------------------------------------------------------- cold start


async def cold_start_once(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    session = await StdioMcpSession.spawn(argv, env)
    try:
        await asyncio.wait_for(session.request("initialize", initialize_params()), 60)
        return time.perf_counter() - began
    finally:
        await session.aclose()


async def cold_starts(upstream: Upstream, env: dict[str, str], runs: int) -> dict[str, list[float]]:
    argvs = {family: server_argv(Spec(family, "stdio"), upstream, None) for family in COLD_START_FAMILIES}
    for argv in argvs.values():  # once unmeasured: bytecode caches and the page cache
        await cold_start_once(argv, env)
    times: dict[str, list[float]] = {family: [] for family in argvs}
    for run in range(runs):
        order = list(argvs)
        order = order[run % len(order) :] + order[: run % len(order)]
        for family in order:
            times[family].append(await cold_start_once(argvs[family], env))
    return times


# ------------------------------------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = Plan(**{**plan.__dict__, "rounds": args.rounds})
    rng = random.Random(args.seed)
    out_dir = BENCH_DIR / "out"
    log_dir = out_dir / "logs"
    started = time.time()
    machine_before = machine()

    emulator, base = await start_emulator(log_dir)
    contenders: list[Contender] = []
    try:
        token = mint_management_token(AppCredentials.development(), valid_for=86_400)
        upstream = Upstream(f"{base}/v2", token, emulator.pid)
        await seed_recordings(upstream)
        env = server_env(upstream, dict(os.environ))
        contenders = [Contender(spec, upstream, env, log_dir) for spec in SPECS]
        for contender in contenders:
            await contender.start()
        for contender in contenders:
            await contender.wait_ready()
        log(f"{len(contenders)} contenders ready; emulator at {base}")

        cold = await cold_starts(upstream, env, plan.cold_runs)
        log("cold starts: " + ", ".join(f"{k} {1000 * sorted(v)[len(v) // 2]:.0f} ms" for k, v in cold.items()))

        for contender in contenders:
            await contender.open_sessions(VIRTUAL_CLIENTS)
            await burst(contender, "list", VIRTUAL_CLIENTS, plan.warmup, None)
            await burst(contender, "pair", 8, plan.warmup // 4, None)
        log("warm-up done")

        emulator_alone = await emulator_throughput(upstream, plan.emulator_requests)
        log("emulator alone: " + ", ".join(f"{r['endpoint']} {r['rps']}/s" for r in emulator_alone))

        tallies: dict[tuple[str, str, int], Tally] = {}
        for round_index in range(plan.rounds):
            jobs = [(c, kind, conc) for c in contenders for kind, conc in cells_of(c.spec)]
            rng.shuffle(jobs)
            for contender, kind, conc in jobs:
                tally = tallies.setdefault((contender.name, kind, conc), Tally())
                await burst(contender, kind, conc, plan.burst[(kind, conc)], tally)
            log(f"round {round_index + 1}/{plan.rounds} done")

        rss_after: dict[str, tuple[int, int]] = {}
        for contender in contenders:
            if contender.spec.family == "floor":
                continue
            while contender.calls < plan.memory_calls:
                await burst(contender, "list", VIRTUAL_CLIENTS, min(1_000, plan.memory_calls - contender.calls), None)
            rss_after[contender.name] = (contender.rss_kb(), contender.calls)
        log("memory measured")
    finally:
        for contender in contenders:
            await contender.close()
        emulator.stop()

    results = assemble(plan, contenders, tallies, cold, emulator_alone, rss_after, started, machine_before, args)
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    for (name, kind, conc), tally in tallies.items():
        samples.setdefault(name, {}).setdefault(kind, {})[str(conc)] = [round(t * 1000, 3) for t in tally.latencies]
    return results, samples


# ---------------------------------------------------------------------------------------------------- assembling


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def assemble(
    plan: Plan,
    contenders: list[Contender],
    tallies: dict[tuple[str, str, int], Tally],
    cold: dict[str, list[float]],
    emulator_alone: list[dict[str, Any]],
    rss_after: dict[str, tuple[int, int]],
    started: float,
    machine_before: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for (name, kind, conc), tally in tallies.items():
        calls_per_op = 1 if kind == "list" else 2
        entry: dict[str, Any] = {
            **summarize(tally.latencies),
            "operations": tally.operations,
            "errors": len(tally.errors),
            "first_errors": tally.errors[:3],
            "ops_per_s": round(tally.operations / tally.elapsed, 1),
            "calls_per_s": round(calls_per_op * tally.operations / tally.elapsed, 1),
            "server_cpu_ms_per_call": round(1000 * tally.cpu / (calls_per_op * tally.operations), 3)
            if tally.cpu
            else None,
            "emulator_cpu_ms_per_call": round(1000 * tally.emulator_cpu / (calls_per_op * tally.operations), 3),
            "loadgen_cpu_ms_per_call": round(1000 * tally.loadgen_cpu / (calls_per_op * tally.operations), 3),
            "emulator_busy": round(tally.emulator_cpu / tally.elapsed, 3),
        }
        cells.setdefault(name, {}).setdefault(kind, {})[str(conc)] = entry

    def cell(name: str, kind: str, conc: int) -> dict[str, Any]:
        return cells.get(name, {}).get(kind, {}).get(str(conc), {})

    memory = {
        c.name: {
            "rss_start_mib": round(c.rss_start_kb / 1024, 1) if c.rss_start_kb else None,
            "rss_after_mib": round(rss_after[c.name][0] / 1024, 1),
            "calls": rss_after[c.name][1],
        }
        for c in contenders
        if c.name in rss_after
    }
    cold_start = {
        family: {"runs_ms": [round(t * 1000, 1) for t in times], **summarize(times)} for family, times in cold.items()
    }

    floor = "floor/direct"
    servers = [c.name for c in contenders if c.spec.family != "floor" and c.spec.workers == 1]
    emulator_check: dict[str, Any] = {"alone": emulator_alone}
    for kind in KINDS:
        fastest = max(servers, key=lambda n: cell(n, kind, 32).get("calls_per_s") or 0)
        floor_rate = cell(floor, kind, 32).get("calls_per_s")
        server_rate = cell(fastest, kind, 32).get("calls_per_s")
        floor_cpu = cell(floor, kind, 32).get("emulator_cpu_ms_per_call")
        emulator_check[kind] = {
            "floor_calls_per_s": floor_rate,
            "fastest_server": fastest,
            "fastest_server_calls_per_s": server_rate,
            # How busy the emulator was (CPU seconds per second) while each server ran at concurrency 32, and what
            # one core would let it serve at its measured CPU cost per request.
            "emulator_busy_under_servers": {n: cell(n, kind, 32).get("emulator_busy") for n in servers},
            "emulator_busy_under_floor": cell(floor, kind, 32).get("emulator_busy"),
            "emulator_cpu_ms_per_request": floor_cpu,
            "emulator_cpu_bound_requests_per_s": round(1000 / floor_cpu) if floor_cpu else None,
            "loadgen_cpu_ms_per_call_floor": cell(floor, kind, 32).get("loadgen_cpu_ms_per_call"),
        }

    scaling = {}
    for kind in KINDS:
        one = cell("ours/stateless-json", kind, 32).get("calls_per_s")
        two = cell("ours/stateless-jsonx2", kind, 32).get("calls_per_s")
        scaling[kind] = {"one_worker_calls_per_s": one, "two_workers_calls_per_s": two, "ratio": _ratio(two, one)}

    results: dict[str, Any] = {
        "meta": {
            "mode": "quick" if args.quick else "full",
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "duration_s": round(time.time() - started, 1),
            "machine": machine_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "versions": versions(),
            "plan": {
                "rounds": plan.rounds,
                "burst": {f"{k}@{c}": n for (k, c), n in plan.burst.items()},
                "warmup": plan.warmup,
                "memory_calls": plan.memory_calls,
                "cold_runs": plan.cold_runs,
            },
            "protocol": "MCP 2025-11-25 (initialize handshake), raw JSON-RPC clients, one connection per client",
            "seed": args.seed,
        },
        "latency": cells,
        "cold_start": cold_start,
        "memory": memory,
        "emulator": emulator_check,
        "scaling": scaling,
    }
    results["targets"] = compute_targets(results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="about two minutes instead of about ten")
    parser.add_argument("--rounds", type=int, default=0, help="override the number of measured rounds")
    parser.add_argument("--seed", type=int, default=8, help="seed for the burst order")
    parser.add_argument("--no-report", action="store_true", help="write results.json only")
    args = parser.parse_args()
    results, samples = asyncio.run(run(args))
    out_dir = BENCH_DIR / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "samples.json").write_text(json.dumps(samples))
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {BENCH_DIR / 'results.json'}")
    if not args.no_report:
        import report

        report.main([])


if __name__ == "__main__":
    main()
