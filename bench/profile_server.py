"""Profile one contender under load (py-spy) or its cold start (``-X importtime`` and pyinstrument).

    bench/.venv/bin/python bench/profile_server.py load --family ours --mode stateless-json --workload list -c 8
    bench/.venv/bin/python bench/profile_server.py cold --family ours

``load`` starts the emulator and the server, warms it up, then drives it for ``--seconds`` while ``py-spy record``
samples the server process (idle time excluded). It writes the collapsed stacks and a flame graph under
``bench/out/`` and prints the functions with the largest inclusive and self share of the sampled CPU time.

``cold`` starts the stdio server under pyinstrument (answering one ``initialize``, then EOF) and with
``-X importtime``, and prints the slowest imports and the pyinstrument tree.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from contenders import BENCH_DIR, Contender, Spec, Upstream, server_argv, server_env
from run_all import burst, seed_recordings, start_emulator

from hms_recordings.hms.tokens import AppCredentials, mint_management_token

OUT = BENCH_DIR / "out"
_FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>.*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{match['fn']}"


def summarize_collapsed(path: Path, top: int) -> str:
    """Top functions by inclusive and by self share of the samples in a py-spy ``--format raw`` file."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "inclusive %  function"]
    lines += [f"{100 * n / total:10.1f}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self %       function"]
    lines += [f"{100 * n / total:10.1f}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def write_summary(stem: Path, header: str, top: int) -> str:
    text = header + "\n" + summarize_collapsed(Path(f"{stem}.txt"), top) + "\n"
    Path(f"{stem}.summary.txt").write_text(text)
    return text


async def profile_load(args: argparse.Namespace) -> None:
    spec = Spec(args.family, args.mode)
    emulator, base = await start_emulator(OUT / "logs")
    contender: Contender | None = None
    try:
        upstream = Upstream(f"{base}/v2", mint_management_token(AppCredentials.development(), valid_for=86_400))
        await seed_recordings(upstream)
        contender = Contender(spec, upstream, server_env(upstream, dict(os.environ)), OUT / "logs")
        await contender.start()
        await contender.wait_ready()
        await contender.open_sessions(max(args.concurrency, 1))
        await burst(contender, args.workload, args.concurrency, 200, None)
        stem = OUT / f"profile-{spec.name.replace('/', '_')}-{args.workload}-c{args.concurrency}"
        py_spy = str(Path(sys.executable).parent / "py-spy")
        pid = str(contender.pids[0])
        common = ["--pid", pid, "--rate", str(args.rate), "--duration", str(args.seconds), "--nonblocking"]
        outputs = [["--format", "raw", "-o", f"{stem}.txt"]] + ([["-o", f"{stem}.svg"]] if args.svg else [])
        recorders = [
            await asyncio.create_subprocess_exec(
                py_spy, "record", *common, *output, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for output in outputs
        ]
        deadline = time.monotonic() + args.seconds + 1
        calls_before, cpu_before, began = contender.calls, contender.cpu_seconds(), time.perf_counter()
        while time.monotonic() < deadline:
            await burst(contender, args.workload, args.concurrency, 50, None)
        calls = contender.calls - calls_before
        cpu_ms = 1000 * (contender.cpu_seconds() - cpu_before) / calls
        rate = calls / (time.perf_counter() - began)
        for recorder in recorders:
            await asyncio.wait_for(recorder.wait(), 60)
        header = f"{spec.name} {args.workload} c={args.concurrency}: {rate:.0f} calls/s, {cpu_ms:.2f} ms CPU per call"
        print(write_summary(stem, header, args.top))
        print(f"\nwrote {stem}.txt, {stem}.summary.txt" + (f", {stem}.svg" if args.svg else ""))
    finally:
        if contender is not None:
            await contender.close()
        emulator.stop()


def profile_cold(args: argparse.Namespace) -> None:
    upstream = Upstream("http://127.0.0.1:9/v2", "unused-token")  # the cold start never calls upstream
    env = server_env(upstream, dict(os.environ))
    argv = server_argv(Spec(args.family, "stdio"), upstream, None)
    if args.family == "ours":
        argv = [sys.executable, "-m", "hms_recordings.cli", *argv[1:]]
    message = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "profile", "version": "1"},
            },
        }
    )
    stdin = (message + "\n").encode()
    imports = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], input=stdin, env=env, capture_output=True, check=False
    ).stderr.decode()
    rows = []
    for line in imports.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:") :].split("|")]
            if parts[1].isdigit():
                rows.append((int(parts[1]), int(parts[0]), parts[2]))
    rows.sort(reverse=True)
    stem = OUT / f"cold-{args.family}"
    OUT.mkdir(exist_ok=True)
    Path(f"{stem}.importtime.txt").write_text(imports)
    print(f"slowest imports of {args.family} (cumulative ms, self ms):")
    for cumulative, own, name in rows[: args.top]:
        print(f"{cumulative / 1000:9.1f} {own / 1000:8.1f}  {name}")
    pyinstrument = str(Path(sys.executable).parent / "pyinstrument")
    tree = subprocess.run(
        [
            pyinstrument,
            "-r",
            "text",
            "-o",
            f"{stem}.pyinstrument.txt",
            *(["-m", "hms_recordings.cli", *argv[3:]] if args.family == "ours" else argv[1:]),
        ],
        input=stdin,
        env=env,
        capture_output=True,
        check=False,
    )
    if tree.returncode:
        print(tree.stderr.decode()[-2000:])
    print(f"\nwrote {stem}.importtime.txt and {stem}.pyinstrument.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="what", required=True)
    load = sub.add_parser("load")
    load.add_argument("--family", default="ours", choices=["ours", "handwritten", "fastmcp"])
    load.add_argument("--mode", default="stateless-json", choices=["default", "stateless-json", "stdio"])
    load.add_argument("--workload", default="list", choices=["list", "pair"])
    load.add_argument("-c", "--concurrency", type=int, default=8)
    load.add_argument("--seconds", type=int, default=15)
    load.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    load.add_argument("--top", type=int, default=30)
    load.add_argument("--svg", action="store_true", help="also record a flame graph (a second py-spy)")
    cold = sub.add_parser("cold")
    cold.add_argument("--family", default="ours", choices=["ours", "handwritten", "fastmcp"])
    cold.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.what == "load":
        asyncio.run(profile_load(args))
    else:
        profile_cold(args)


if __name__ == "__main__":
    main()
