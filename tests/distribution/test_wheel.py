"""The wheel and sdist that ``python -m build`` makes, and every command run from the wheel alone in a fresh venv.

Each command runs from a scratch folder with no PYTHONPATH, so only the installed package can answer: the built-in
capability, its parsed companion, the official format schemas and the entry points must all have made it into the wheel.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import anyio
import jwt
import pytest
from mcp import Client, StdioServerParameters

from tests.distribution.conftest import Dists
from tests.distribution.tooling import REPO, ok, outside_env, project_version, run, snapshot_tools

pytestmark = pytest.mark.e2e

CALL_TIMEOUT = 60.0
PACKAGE_DATA = {
    "hms_recordings/py.typed",
    "hms_recordings/capability/schemas/naftiko-1.0.0-alpha2.json",
    "hms_recordings/capability/builtin/recordings.yaml",
    "hms_recordings/capability/builtin/recordings.yaml.parsed.json",
}


def cli(venv: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    return ok(run([str(venv / "bin" / "hms-recordings"), *args], cwd=cwd, env=outside_env(env)))


def surface_without_toolsets() -> list[dict[str, object]]:
    """The committed snapshot is ``tools --json`` plus each tool's toolset (for the README table)."""
    return [{k: v for k, v in tool.items() if k != "toolset"} for tool in snapshot_tools()]


# ------------------------------------------------------------------------------------------------------ artefacts


def test_the_build_makes_a_pure_python_wheel_and_an_sdist_of_the_projects_version(dists: Dists) -> None:
    version = project_version()
    assert dists.wheel.name == f"hms_recordings-{version}-py3-none-any.whl"
    assert dists.sdist.name == f"hms_recordings-{version}.tar.gz"


def test_the_wheel_carries_the_package_data_entry_points_and_registry_marker(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
        info = f"hms_recordings-{project_version()}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        metadata = wheel.read(f"{info}/METADATA").decode()
        builtin = wheel.read("hms_recordings/capability/builtin/recordings.yaml")
    assert names >= PACKAGE_DATA, PACKAGE_DATA - names
    assert builtin == (REPO / "src/hms_recordings/capability/builtin/recordings.yaml").read_bytes()
    assert "hms-recordings = hms_recordings.cli:main" in entry_points
    assert "[hms_recordings.handlers]" in entry_points and "[hms_recordings.credential_providers]" in entry_points
    # The MCP Registry proves PyPI ownership by finding this line in the package description (the README).
    name = json.loads((REPO / "server.json").read_text())["name"]
    assert f"mcp-name: {name}" in metadata
    assert not any(n.startswith(("tests/", "bench/", "examples/")) for n in names)


def test_the_sdist_carries_the_seed_example_and_no_partial_test_suite(dists: Dists) -> None:
    top = f"hms_recordings-{project_version()}"
    with tarfile.open(dists.sdist) as sdist:
        names = set(sdist.getnames())
        seed = sdist.extractfile(f"{top}/examples/recordings.yaml")
        assert seed is not None
        seed_bytes = seed.read()
    assert seed_bytes == (REPO / "examples" / "recordings.yaml").read_bytes()
    assert {f"{top}/pyproject.toml", f"{top}/README.md", f"{top}/server.json"} <= names
    assert {f"{top}/src/{name}" for name in PACKAGE_DATA} <= names
    assert not any(n.startswith(f"{top}/tests/") for n in names)


# ------------------------------------------------------------------------------------------------ fresh venv


def test_the_fresh_venv_imports_the_installed_package_not_the_checkout(wheel_venv: Path, tmp_path: Path) -> None:
    code = "import hms_recordings, sys; print(hms_recordings.__file__); print(sys.path)"
    printed = ok(run([str(wheel_venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=outside_env()))
    location, path = printed.splitlines()
    assert Path(location).is_relative_to(wheel_venv), location
    assert str(REPO) not in path


def test_version_prints_the_projects_version(wheel_venv: Path, tmp_path: Path) -> None:
    assert cli(wheel_venv, "--version", cwd=tmp_path).strip() == f"hms-recordings {project_version()}"


def test_tools_lists_every_tool_of_the_committed_surface(wheel_venv: Path, tmp_path: Path) -> None:
    listed = [line.split()[0] for line in cli(wheel_venv, "tools", cwd=tmp_path).splitlines()]
    assert listed == [tool["name"] for tool in snapshot_tools()]


def test_tools_json_is_the_committed_surface(wheel_venv: Path, tmp_path: Path) -> None:
    assert json.loads(cli(wheel_venv, "tools", "--json", cwd=tmp_path)) == surface_without_toolsets()


def test_validate_passes_the_seed_from_the_sdist_and_the_installed_builtin(
    wheel_venv: Path, dists: Dists, tmp_path: Path
) -> None:
    with tarfile.open(dists.sdist) as sdist:
        member = sdist.getmember(f"hms_recordings-{project_version()}/examples/recordings.yaml")
        seed = sdist.extractfile(member)
        assert seed is not None
        (tmp_path / "recordings.yaml").write_bytes(seed.read())
    assert cli(wheel_venv, "validate", "recordings.yaml", cwd=tmp_path).strip().endswith("valid")
    strict = run([str(wheel_venv / "bin" / "hms-recordings"), "validate", "recordings.yaml", "--strict"],
                 cwd=tmp_path, env=outside_env())  # fmt: skip
    assert strict.returncode == 1, strict
    assert "3 deviations from alpha2" in strict.stdout
    site = next((wheel_venv / "lib").glob("python3.*/site-packages"))
    builtin = site / "hms_recordings" / "capability" / "builtin" / "recordings.yaml"
    assert cli(wheel_venv, "validate", str(builtin), cwd=tmp_path).strip().endswith("valid")
    # The official alpha2 schema (vendored in the wheel) still rejects the built-in's output-parameter descriptions and
    # two orchestrated arrays without items: known, tracked in issue 17. The wheel must say exactly that.
    built = run(
        [str(wheel_venv / "bin" / "hms-recordings"), "validate", str(builtin), "--strict"],
        cwd=tmp_path,
        env=outside_env(),
    )
    assert built.returncode == 1, built
    assert "4 deviations from alpha2" in built.stdout and "0 errors that stop serving" in built.stdout


def test_call_against_the_in_process_emulator_lists_recordings(wheel_venv: Path, tmp_path: Path) -> None:
    result = json.loads(cli(wheel_venv, "call", "hms-list-recordings", "--emulator", cwd=tmp_path))
    assert result["recordings"] == []


def test_skill_export_writes_an_agent_skill_folder(wheel_venv: Path, tmp_path: Path) -> None:
    printed = cli(wheel_venv, "skill", "export", "skill-out", cwd=tmp_path).strip()
    skill = (tmp_path / printed) if not Path(printed).is_absolute() else Path(printed)
    text = (skill / "SKILL.md").read_text(encoding="utf-8")
    assert text.startswith("---\n") and "hms-list-recordings" in text


def test_token_mints_a_management_token_from_the_environments_credentials(wheel_venv: Path, tmp_path: Path) -> None:
    key, secret = "a" * 24, "packaged-wheel-app-secret-0123456789"
    token = cli(wheel_venv, "token", cwd=tmp_path, env={"HMS_ACCESS_KEY": key, "HMS_APP_SECRET": secret}).strip()
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["access_key"] == key and claims["type"] == "management"


def test_emulator_help_shows_the_emulators_options(wheel_venv: Path, tmp_path: Path) -> None:
    text = cli(wheel_venv, "emulator", "--help", cwd=tmp_path)
    assert "--start-delay" in text and "--processing-time" in text


@pytest.mark.anyio
async def test_serve_over_stdio_answers_the_official_client(wheel_venv: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=str(wheel_venv / "bin" / "hms-recordings"),
        args=["serve", "--transport", "stdio", "--emulator"],
        env=outside_env(),
        cwd=tmp_path,
    )
    with anyio.fail_after(CALL_TIMEOUT):
        async with Client(params) as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool("hms-list-recordings", {})
    assert [tool.name for tool in tools] == [tool["name"] for tool in snapshot_tools()]
    assert result.is_error is False, result.content
