"""Summary statistics, the target checks and the machine description, shared by ``run_all`` and ``report``."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "compute_targets", "machine", "percentile", "summarize", "versions"]

PACKAGES = (
    "hms-recordings",
    "mcp",
    "mcp-types",
    "fastmcp",
    "httpx2",
    "uvicorn",
    "starlette",
    "sse-starlette",
    "pydantic",
    "anyio",
)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(seconds: list[float]) -> dict[str, float | int]:
    """n, p50, p90, p99 and mean in milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"n": 0, "p50_ms": math.nan, "p90_ms": math.nan, "p99_ms": math.nan, "mean_ms": math.nan}
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(percentile(ordered, 90) * 1000, 3),
        "p99_ms": round(percentile(ordered, 99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        found["git"] = commit + (" (src modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        found["git"] = "unknown"
    return found


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def compute_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, as ratios between contenders of the same run (``met`` is None when not measurable)."""
    latency, memory, cold = results["latency"], results["memory"], results["cold_start"]
    targets: list[dict[str, Any]] = []

    def cell(name: str, kind: str, conc: int) -> dict[str, Any]:
        found: dict[str, Any] = latency.get(name, {}).get(kind, {}).get(str(conc), {})
        return found

    def target(name: str, measured: float | None, limit: float, kind: str, detail: str) -> None:
        met = None if measured is None else (measured <= limit if kind == "max" else measured >= limit)
        targets.append(
            {"target": name, "measured": measured, "limit": limit, "kind": kind, "met": met, "detail": detail}
        )

    floor = "floor/direct"
    for mode in ("default", "stateless-json", "stdio"):
        for kind in ("list", "pair"):
            p_floor = cell(floor, kind, 1).get("p50_ms")
            p_ours = cell(f"ours/{mode}", kind, 1).get("p50_ms")
            p_hand = cell(f"handwritten/{mode}", kind, 1).get("p50_ms")
            if p_floor is None or p_ours is None or p_hand is None:
                continue
            over_ours, over_hand = p_ours - p_floor, p_hand - p_floor
            target(
                f"overhead above the floor, {kind}, {mode}, c=1: ours / hand-written",
                _ratio(over_ours, over_hand),
                1.10,
                "max",
                f"ours {over_ours:.2f} ms, hand-written {over_hand:.2f} ms above the floor's {p_floor:.2f} ms (p50)",
            )
    for mode in ("default", "stateless-json"):
        for kind in ("list", "pair"):
            ours = cell(f"ours/{mode}", kind, 32).get("calls_per_s")
            peer = cell(f"fastmcp/{mode}", kind, 32).get("calls_per_s")
            target(
                f"throughput, {kind}, {mode}, c=32: ours / FastMCP",
                _ratio(ours, peer),
                1.2,
                "min",
                f"ours {ours} calls/s, FastMCP {peer} calls/s",
            )
    ours_cold, hand_cold = cold["ours"], cold["handwritten"]
    target(
        "cold start over stdio: ours / hand-written",
        _ratio(ours_cold["p50_ms"], hand_cold["p50_ms"]),
        1.15,
        "max",
        f"ours {ours_cold['p50_ms']:.0f} ms, hand-written {hand_cold['p50_ms']:.0f} ms "
        f"(median of {len(ours_cold['runs_ms'])})",
    )
    for mode in ("default", "stateless-json", "stdio"):
        ours_m, hand_m = memory.get(f"ours/{mode}"), memory.get(f"handwritten/{mode}")
        if not ours_m or not hand_m:
            continue
        for when in ("rss_start_mib", "rss_after_mib"):
            label = "after start" if when == "rss_start_mib" else f"after {ours_m['calls']:,} calls"
            target(
                f"memory {label}, {mode}: ours / hand-written",
                _ratio(ours_m[when], hand_m[when]),
                1.2,
                "max",
                f"ours {ours_m[when]} MiB, hand-written {hand_m[when]} MiB",
            )
    for kind in ("list", "pair"):
        emu = results["emulator"][kind]
        fastest, rate = emu["fastest_server"], emu["fastest_server_calls_per_s"]
        capacity = emu.get("emulator_cpu_bound_requests_per_s")
        busy = emu.get("emulator_busy_under_servers", {}).get(fastest)
        # Each tool call is one upstream request, so requests/s and calls/s compare directly.
        target(
            f"emulator headroom, {kind}: emulator capacity / fastest server at c=32 ({fastest})",
            _ratio(capacity, rate),
            2.0,
            "min",
            f"emulator {emu.get('emulator_cpu_ms_per_request')} ms CPU per request = {capacity:.0f}/s on one core, "
            f"{busy:.0%} of a core busy while {fastest} ran {rate} calls/s; the floor (load-generator bound) "
            f"reached {emu['floor_calls_per_s']} calls/s"
            if busy is not None
            else "",
        )
    return targets
