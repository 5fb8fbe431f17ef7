"""A real HAProxy (Debian's package; ``scripts/check`` installs it where missing) in front of ``serve`` backends.

The configuration is the one ``docs/deploy.md`` shows: per-request round robin, health checks on ``/health/ready``
every 200 ms (two failures take a backend out, well inside ``serve``'s 1 s drain grace here; one success puts it
back; a check may take 2 s, since readiness reads the upstream once), and a failed connection or an empty answer
retried on the other backend (``retry-on`` + ``option redispatch``). Tool calls that change something are safe to
retry there only because the balancer retries a request that no backend answered; the test drives read-only tools.
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

__all__ = ["HAProxy", "haproxy_config"]


def haproxy_config(front: int, stats: int, backends: dict[str, int]) -> str:
    servers = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in backends.items())
    return f"""\
global
    maxconn 1024

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend mcp
    bind 127.0.0.1:{front}
    default_backend serve

backend serve
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host 127.0.0.1:{front}
    http-check expect status 200
    default-server inter 200ms fall 2 rise 1
{servers}

frontend stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
"""


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
