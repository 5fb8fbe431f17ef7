"""The contenders: how each one is started, how its virtual clients connect, and what it has cost so far.

* ``floor/direct``: the upstream calls sent straight to the emulator (no MCP);
* ``handwritten/*``: ``bench/handwritten_server.py`` (MCPServer and one httpx2 client);
* ``ours/*``: ``hms-recordings serve`` on the built-in capability;
* ``fastmcp/*``: ``bench/fastmcp_server.py`` (FastMCP 4 ``from_openapi``).

``default`` is Streamable HTTP as each server starts without flags (stateful sessions, SSE answers);
``stateless-json`` is ``--stateless --json-response``. Two workers are two processes on two ports; virtual client
``i`` is pinned to worker ``i % 2``, as a connection-balancing load balancer would pin it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastmcp_server import TOOL_NAMES as FASTMCP_TOOL_NAMES
from mcpclient import TOOL_NAMES, CallFailed, DirectSession, HttpMcpSession, Session, StdioMcpSession
from procs import ServerProcess, cpu_seconds, free_port, rss_kb

__all__ = ["BENCH_DIR", "Contender", "Spec", "Upstream", "server_argv"]

BENCH_DIR = Path(__file__).resolve().parent
FAMILIES = ("floor", "handwritten", "ours", "fastmcp")


@dataclass(frozen=True)
class Upstream:
    """The emulator every contender calls, and the token they all send."""

    api_url: str
    token: str
    pid: int | None = None  # the emulator process, for its CPU time


@dataclass(frozen=True)
class Spec:
    family: str
    mode: str
    workers: int = 1

    @property
    def name(self) -> str:
        return f"{self.family}/{self.mode}" + (f"x{self.workers}" if self.workers > 1 else "")


def server_argv(spec: Spec, upstream: Upstream, port: int | None) -> list[str]:
    """The command line that starts one process of ``spec`` (``port`` is None for stdio).

    The built-in capability also exposes REST on a fixed port (9091); each of our HTTP processes moves it to a free
    port so that two workers can run side by side. It stays on, as it is for a user who runs ``serve``."""
    python = sys.executable
    flags: list[str] = []
    if spec.mode == "stateless-json":
        flags = ["--stateless", "--json-response"]
    if spec.family == "ours":
        argv = [str(Path(python).parent / "hms-recordings"), "serve", "--upstream", f"recordings={upstream.api_url}"]
        if port is None:
            return [*argv, "--transport", "stdio"]
        return [*argv, "--port", str(port), "--rest-port", str(free_port()), *flags]
    script = {"handwritten": "handwritten_server.py", "fastmcp": "fastmcp_server.py"}[spec.family]
    argv = [python, str(BENCH_DIR / script), "--upstream", upstream.api_url]
    return argv + (["--stdio"] if port is None else ["--port", str(port), *flags])


def server_env(upstream: Upstream, base: dict[str, str]) -> dict[str, str]:
    """Every server gets the same credential (a ready management token) and quiet, update-free defaults."""
    env = {k: v for k, v in base.items() if not k.startswith(("HMS_", "FASTMCP_"))}
    env.update(
        {
            "HMS_MANAGEMENT_TOKEN": upstream.token,
            "FASTMCP_CHECK_FOR_UPDATES": "off",
            "FASTMCP_SHOW_SERVER_BANNER": "false",
            "FASTMCP_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Contender:
    spec: Spec
    upstream: Upstream
    env: dict[str, str]
    log_dir: Path
    processes: list[ServerProcess] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    stdio: StdioMcpSession | None = None
    sessions: list[Session] = field(default_factory=list)
    calls: int = 0
    rss_start_kb: int | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def tool_names(self) -> dict[str, str]:
        return FASTMCP_TOOL_NAMES if self.spec.family == "fastmcp" else TOOL_NAMES

    @property
    def pids(self) -> list[int]:
        if self.stdio is not None:
            return [self.stdio.pid]
        return [p.pid for p in self.processes]

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) for pid in self.pids)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    async def start(self) -> None:
        """Start the server process(es); :meth:`wait_ready` waits for them."""
        if self.spec.family == "floor":
            return
        if self.spec.mode == "stdio":
            argv = server_argv(self.spec, self.upstream, None)
            self.stdio = await StdioMcpSession.spawn(argv, self.env, names=self.tool_names)
            return
        for worker in range(self.spec.workers):
            port = free_port()
            argv = server_argv(self.spec, self.upstream, port)
            suffix = f"-{worker}" if self.spec.workers > 1 else ""
            self.processes.append(ServerProcess(self.name + suffix, argv, self.env, self.log_dir))
            self.urls.append(f"http://127.0.0.1:{port}/mcp")

    async def wait_ready(self, within: float = 60.0) -> None:
        """Until every process answers ``initialize``; then the memory "after start" is read."""
        if self.stdio is not None:
            await asyncio.wait_for(self.stdio.initialize(), within)
        deadline = time.monotonic() + within
        for process, url in zip(self.processes, self.urls, strict=True):
            while True:
                process.check_alive()
                try:
                    session = await HttpMcpSession(url).open()
                except (OSError, CallFailed, Exception) as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.name} not ready after {within}s: {exc!r}") from None
                    await asyncio.sleep(0.1)
                    continue
                await session.aclose()
                break
        if self.spec.family != "floor":
            self.rss_start_kb = self.rss_kb()

    async def open_sessions(self, count: int) -> None:
        """``count`` virtual clients, each with its own connection (and MCP session where the server keeps them)."""
        if self.spec.family == "floor":
            self.sessions = [DirectSession(self.upstream.api_url, self.upstream.token) for _ in range(count)]
        elif self.stdio is not None:
            self.sessions = [self.stdio] * count  # one pipe: concurrency means requests in flight on it
        else:
            opened = await asyncio.gather(
                *(HttpMcpSession(self.urls[i % len(self.urls)], self.tool_names).open() for i in range(count))
            )
            self.sessions = list(opened)

    async def close(self) -> None:
        for session in {id(s): s for s in self.sessions}.values():
            await session.aclose()
        if self.stdio is not None and not self.sessions:
            await self.stdio.aclose()
        for process in self.processes:
            process.stop()
