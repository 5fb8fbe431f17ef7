"""Per-call server CPU of two builds of hms-recordings, side by side in one run (interleaved rounds).

    python bench/compare_builds.py --baseline /path/to/other/checkout [--calls 2000] [--rounds 5]

Each build runs in its own interpreter (its checkout's ``.venv``): the official MCP client calls the built-in
``hms-list-recordings`` in-process (``Client(server)``, no transport) against an in-process emulator, and the child
reports the process CPU time per call, which a shared machine's load disturbs far less than wall time. Rounds
alternate between the builds; the report gives each round's ratio and the median ratio (this build / baseline).
The child knows both layouts: the engine of the builds before the core rebuild, the service after it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import anyio, httpx2
from mcp import Client
from hms_recordings.capability.loader import load_file
from hms_recordings.emulator import EmulatorConfig, create_app
from hms_recordings.hms.tokens import AppCredentials, mint_management_token

CALLS = int(sys.argv[1])

async def main():
    creds = AppCredentials.development()
    app = create_app(EmulatorConfig(credentials=creds, manual_clock=True, start_delay=0, processing_time=0, seed=1))
    transport = httpx2.ASGITransport(app=app)
    env = {"HMS_MANAGEMENT_TOKEN": mint_management_token(creds, now=app.emulator.clock.now())}
    upstreams = {"recordings": "http://emulator.test/v2"}
    try:
        from hms_recordings.runtime.engine import Engine, RuntimeSettings
        from hms_recordings.faces.mcp import build_mcp_server
        settings = RuntimeSettings(upstreams=upstreams, transports={"recordings": transport}, env=env)
        target = Engine(load_file(), settings)
        server = build_mcp_server(target)
    except ImportError:
        from hms_recordings.faces.mcp import build_mcp_server
        from hms_recordings.runtime.inventory import compile_inventory
        from hms_recordings.runtime.service import build_service
        from hms_recordings.runtime.upstreams import UpstreamSettings
        target = build_service(
            compile_inventory(load_file()).select(),
            UpstreamSettings(upstreams=upstreams, transports={"recordings": transport}, env=env),
        )
        server = build_mcp_server(target)
    async with app.router.lifespan_context(app), Client(server) as client:
        for n in range(3):
            await client.call_tool("hms-start-recording", {"room_id": f"65f0c0ffee00000000000{n:03x}"})
        for _ in range(100):  # warm-up
            await client.call_tool("hms-list-recordings", {})
        cpu = time.process_time()
        for _ in range(CALLS):
            result = await client.call_tool("hms-list-recordings", {})
            assert not result.is_error
        cpu = time.process_time() - cpu
    print(json.dumps({"cpu_ms_per_call": cpu * 1000 / CALLS}))

anyio.run(main)
"""


def run(checkout: Path, calls: int) -> float:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", CHILD, str(calls)], cwd=checkout, capture_output=True, text=True, check=True, timeout=900
    )
    value: float = json.loads(done.stdout.strip().splitlines()[-1])["cpu_ms_per_call"]
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout with its own .venv")
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per round and build (2000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    ratios = []
    for round_no in range(args.rounds):
        order = [(here, "this"), (args.baseline, "baseline")]
        if round_no % 2:
            order.reverse()  # alternate who goes first, so drift in the machine's load falls on both
        measured = {name: run(path, args.calls) for path, name in order}
        ratio = measured["this"] / measured["baseline"]
        ratios.append(ratio)
        print(
            f"round {round_no + 1}: this {measured['this']:.3f} ms CPU/call, "
            f"baseline {measured['baseline']:.3f} ms CPU/call, ratio {ratio:.3f}",
            flush=True,
        )
    print(f"median ratio (this / baseline): {statistics.median(ratios):.3f} over {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
