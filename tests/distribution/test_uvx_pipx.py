"""The same wheel run the way people run MCP servers: ``uvx`` and ``pipx run``, with uv and pipx from the test extra.

The README's install section shows the published forms (``uvx hms-recordings ...``, ``pipx run hms-recordings ...``);
until the package is on PyPI the tests run exactly those lines with the wheel given as the source
(``uvx --from WHEEL``, ``pipx run --spec WHEEL``): everything else on the line is as written.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.clients.harness import free_port, start_server
from tests.distribution.conftest import Dists
from tests.distribution.tooling import REPO, extra_tool, ok, outside_env, project_version, run, snapshot_tools

pytestmark = pytest.mark.e2e

INSTALL = re.compile(r"<!-- install:start -->\n```sh\n(?P<body>.*?)```\n<!-- install:end -->", re.S)
RUNNERS = ("uvx", "pipx run")
CALL_TIMEOUT = 60.0


def readme_install_lines() -> list[list[str]]:
    match = INSTALL.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md lost its <!-- install:start/end --> section"
    return [shlex.split(line, comments=True) for line in match["body"].splitlines() if line.strip()]


def runner_of(argv: list[str]) -> str:
    return "pipx run" if argv[:2] == ["pipx", "run"] else argv[0]


def from_wheel(argv: list[str], wheel: Path) -> list[str]:
    """A published-form command line, with the wheel as the package's source."""
    if argv[:2] == ["uvx", "hms-recordings"]:
        return [str(extra_tool("uvx")), "--from", str(wheel), *argv[1:]]
    if argv[:3] == ["pipx", "run", "hms-recordings"]:
        return [str(extra_tool("pipx")), "run", "--spec", str(wheel), *argv[2:]]
    pytest.fail(f"not a uvx or pipx run line for hms-recordings: {argv}")


@pytest.fixture(scope="module")
def pipx_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """pipx keeps its venvs under PIPX_HOME: a scratch one, so each session installs the wheel it just built."""
    home = tmp_path_factory.mktemp("pipx")
    return {"PIPX_HOME": str(home), "PIPX_BIN_DIR": str(home / "bin"), "PIPX_MAN_DIR": str(home / "man")}


def test_the_readme_shows_uvx_and_pipx_forms_of_the_first_command() -> None:
    lines = readme_install_lines()
    assert sorted(runner_of(argv) for argv in lines) == sorted(RUNNERS)
    first = shlex.split((REPO / "README.md").read_text(encoding="utf-8").split("```sh\n", 1)[1].split("\n", 1)[0])
    checkout_args = first[first.index(".venv/bin/hms-recordings") + 1 :]
    for argv in lines:
        assert argv[argv.index("hms-recordings") + 1 :] == checkout_args, argv


@pytest.mark.parametrize("argv", readme_install_lines(), ids=runner_of)
@pytest.mark.anyio
async def test_a_readme_install_line_serves_mcp_from_the_wheel(
    argv: list[str], dists: Dists, pipx_env: dict[str, str]
) -> None:
    port = free_port()
    # Only the ports move (someone may hold 9090/9091 on this machine), through the variables a user would set.
    env = outside_env({**pipx_env, "HMS_RECORDINGS_PORT": str(port), "HMS_RECORDINGS_REST_PORT": str(free_port())})
    server, stop = start_server(from_wheel(argv, dists.wheel), port=port, env=env)
    try:
        with anyio.fail_after(CALL_TIMEOUT):
            async with Client(server.url) as client:
                names = [tool.name for tool in (await client.list_tools()).tools]
                result = await client.call_tool("hms-list-recordings", {})
    finally:
        stop()
    assert names == [tool["name"] for tool in snapshot_tools()]
    assert result.is_error is False, result.content


@pytest.mark.parametrize("runner", RUNNERS)
def test_version_and_tools_json_run_from_the_wheel(
    runner: str, dists: Dists, pipx_env: dict[str, str], tmp_path: Path
) -> None:
    def cli(*args: str) -> str:
        argv = [*runner.split(), "hms-recordings", *args]
        return ok(run(from_wheel(argv, dists.wheel), cwd=tmp_path, env=outside_env(pipx_env)))

    assert cli("--version").strip() == f"hms-recordings {project_version()}"
    listed = json.loads(cli("tools", "--json"))
    assert [tool["name"] for tool in listed] == [tool["name"] for tool in snapshot_tools()]
    assert json.loads(cli("call", "hms-list-recordings", "--emulator"))["recordings"] == []
