"""A real HAProxy (Debian's package; ``scripts/check`` installs it where missing) in front of ``serve`` backends.

The configuration is ``examples/deploy/haproxy.cfg``, the file ``docs/deploy.md`` shows: per-request round robin,
health checks on ``/health/ready``, and a request that no backend answered retried on another one.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2

__all__ = ["EXAMPLE", "HAProxy", "haproxy_config"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "deploy" / "haproxy.cfg"


def haproxy_config(front: int, stats: int, backends: dict[str, int]) -> str:
    """``examples/deploy/haproxy.cfg`` (the file docs/deploy.md shows) with the test's free ports put in."""
    text = EXAMPLE.read_text()
    a, b = backends["a"], backends["b"]
    for old, new in (
        ("127.0.0.1:8080", front),
        ("127.0.0.1:8404", stats),
        ("127.0.0.1:9100", a),
        ("127.0.0.1:9101", b),
    ):
        assert old in text, f"{EXAMPLE} no longer has {old}"
        text = text.replace(old, f"127.0.0.1:{new}")
    return text


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    assert found, "haproxy is not installed: scripts/check installs it (apt-get install haproxy)"
    return found


@dataclass
class HAProxy:
    config: Path
    log: Path
    stats_port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> HAProxy:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # watched through its stats page
                [haproxy_binary(), "-db", "-f", str(self.config)], stdout=out, stderr=out
            )
        return self

    async def status(self) -> dict[str, str]:
        """Each backend server's state (``UP``, ``DOWN``, ...) from the stats page's CSV."""
        async with httpx2.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{self.stats_port}/stats;csv")).text
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {r["svname"]: r["status"] for r in rows if r["pxname"] == "serve" and r["svname"] != "BACKEND"}

    async def wait_for(self, wanted: dict[str, str], within: float = 30) -> None:
        with anyio.fail_after(within):
            while True:
                try:
                    status = await self.status()
                    if all(status.get(name, "").startswith(state) for name, state in wanted.items()):
                        return
                except httpx2.TransportError:
                    assert self.process is not None and self.process.poll() is None, self.log.read_text()
                await anyio.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
