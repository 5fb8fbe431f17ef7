"""Recording events: accepted webhooks per second on one process, and delivery-to-notification latency.

    .venv/bin/python bench/bench_events.py [--webhooks 5000] [--concurrency 64] [--latency 300]

Side by side in one run, each against fresh ``hms-recordings serve --emulator`` processes with their own event log:

1. **throughput**: ``--webhooks`` distinct 100ms envelopes POSTed to ``/webhooks/100ms`` by ``--concurrency``
   keep-alive connections; the rate counts 200 answers, and "lost" compares the rows in the event log file with the
   accepted deliveries afterwards (it must be 0). Once with everything in the process, once with Redis (each
   delivery then also claims its id and publishes through Redis).
2. **latency**: one event at a time, from the POST leaving the client to the ``notifications/resources/updated``
   arriving at a 2025-era MCP client subscribed to the recording: on the same process (in-memory bus), and across two
   replicas (delivered to A, heard from B through Redis).

Needs ``redis-server`` (Debian's package) on PATH. Results: printed, and written to ``bench/out/events.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import ServerProcess, cpu_seconds, free_port

OUT = Path(__file__).resolve().parent / "out"
SECRET = "bench-webhook-secret-0123456789"
RECORDING = "6b10aa2d3e4f5a6b7c8d9e0f"
ROOM = "6a0f1c2d3e4f5a6b7c8d9e0f"


def envelope(n: int, recording_id: str = RECORDING) -> dict[str, Any]:
    return {
        "version": "2.0",
        "id": f"bench-{os.getpid()}-{n}-{time.monotonic_ns()}",
        "app_id": "app",
        "account_id": "acct",
        "template_id": "tpl",
        "timestamp": "2026-12-01T10:00:00Z",
        "type": "beam.started.success",
        "data": {"beam_id": recording_id, "room_id": ROOM, "session_id": "6b0000000000000000000001", "n": n},
    }


def wait_for_port(port: int, process: ServerProcess, seconds: float = 60) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while True:
        process.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not listen on {port}") from None
            time.sleep(0.05)


class Replica:
    def __init__(self, name: str, db: Path, redis_url: str | None) -> None:
        self.mcp_port, self.rest_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
        env.update(HMS_RECORDINGS_WEBHOOK_SECRET=SECRET, HMS_RECORDINGS_EVENTS_DB=str(db))
        if redis_url:
            env["HMS_RECORDINGS_REDIS_URL"] = redis_url
        script = str(Path(sys.executable).parent / "hms-recordings")
        argv = [script, "serve", "--emulator", "--port", str(self.mcp_port), "--rest-port", str(self.rest_port)]
        self.db = db
        self.process = ServerProcess(name, argv, env, OUT / "logs")
        wait_for_port(self.mcp_port, self.process)
        wait_for_port(self.rest_port, self.process)

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def mcp(self) -> str:
        return f"http://127.0.0.1:{self.mcp_port}/mcp"

    def stored(self) -> int:
        with sqlite3.connect(self.db) as db:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


async def _post_loop(port: int, bodies: list[bytes], cursor: list[int], statuses: dict[int, int]) -> int:
    """One keep-alive connection POSTing bodies until none are left; returns how many answers said duplicate.

    A minimal HTTP/1.1 client on asyncio streams: a full client library costs more CPU per request than the server
    does, and on a shared 2-core machine the benchmark would measure the client."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /webhooks/100ms HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "X-Webhook-Secret: {secret}\r\nContent-Length: {length}\r\n\r\n"
    )
    duplicates = 0
    try:
        while cursor[0] < len(bodies):
            body = bodies[cursor[0]]
            cursor[0] += 1
            writer.write(head.format(port=port, secret=SECRET, length=len(body)).encode() + body)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200 and b'"duplicate":true' in answer:
                duplicates += 1
    finally:
        writer.close()
    return duplicates


async def throughput(replica: Replica, total: int, concurrency: int) -> dict[str, Any]:
    bodies = [json.dumps(envelope(n)).encode() for n in range(total)]
    statuses: dict[int, int] = {}
    cursor = [0]
    cpu_before = cpu_seconds(replica.process.pid)
    started = time.perf_counter()
    duplicates = sum(
        await asyncio.gather(*(_post_loop(replica.rest_port, bodies, cursor, statuses) for _ in range(concurrency)))
    )
    elapsed = time.perf_counter() - started
    server_cpu = cpu_seconds(replica.process.pid) - cpu_before
    accepted = statuses.get(200, 0) - duplicates
    return {
        "sent": total,
        "seconds": round(elapsed, 3),
        "accepted_per_second": round(accepted / elapsed, 1),
        "server_cpu_ms_per_delivery": round(server_cpu / total * 1000, 3),
        "statuses": statuses,
        "duplicates": duplicates,
        "stored": replica.stored(),
        "lost": accepted - replica.stored(),
    }


async def latency(receiver: Replica, notifier: Replica, count: int) -> dict[str, Any]:
    uri = f"hms://recordings/{RECORDING}"
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification) and str(message.params.uri) == uri:
            arrived.set()

    samples: list[float] = []
    headers = {"X-Webhook-Secret": SECRET}
    async with (
        Client(notifier.mcp, mode="legacy", message_handler=on_message) as client,
        httpx2.AsyncClient(base_url=receiver.rest, timeout=10.0) as rest,
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.subscribe_resource(uri)
        for n in range(count + 10):  # the first ten warm up connections and are not counted
            arrived = anyio.Event()
            started = time.perf_counter()
            response = await rest.post("/webhooks/100ms", json=envelope(n), headers=headers)
            assert response.status_code == 200, response.text
            with anyio.fail_after(5):
                await arrived.wait()
            if n >= 10:
                samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "events": len(samples),
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "max_ms": round(samples[-1], 2),
    }


async def measure(args: argparse.Namespace, local: Replica, a: Replica, b: Replica) -> dict[str, Any]:
    return {
        "throughput_one_process": await throughput(local, args.webhooks, args.concurrency),
        "throughput_with_redis": await throughput(a, args.webhooks, args.concurrency),
        "latency_same_process": await latency(local, local, args.latency),
        "latency_across_replicas": await latency(a, b, args.latency),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is missing (apt-get install redis-server)")
    work = Path(tempfile.mkdtemp(prefix="hms-bench-events-"))
    redis_port = free_port()
    redis = subprocess.Popen(
        [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    replicas: list[Replica] = []
    try:
        replicas.append(Replica("events-local", work / "local.sqlite3", None))
        replicas.append(Replica("events-redis-a", work / "a.sqlite3", redis_url))
        replicas.append(Replica("events-redis-b", work / "b.sqlite3", redis_url))
        results = anyio.run(measure, args, *replicas)
    finally:
        for replica in replicas:
            replica.process.stop()
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    one, shared = results["throughput_one_process"], results["throughput_with_redis"]
    near, far = results["latency_same_process"], results["latency_across_replicas"]
    results["ratios"] = {
        "throughput_redis_vs_one_process": round(shared["accepted_per_second"] / one["accepted_per_second"], 2),
        "latency_p50_replicas_vs_same_process": round(far["p50_ms"] / near["p50_ms"], 2),
    }
    results["settings"] = {"webhooks": args.webhooks, "concurrency": args.concurrency, "latency_events": args.latency}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=int, default=300)
    results = run(parser.parse_args())
    OUT.mkdir(exist_ok=True)
    (OUT / "events.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
