"""The MCP Bundle: ``scripts/build-mcpb``'s manifest and bundle, checked by the official CLI (``@anthropic-ai/mcpb``),
unpacked by it, and its server started as Claude Desktop starts one: the manifest's command, args and env, with
``${__dirname}`` and ``${user_config.*}`` substituted, over stdio, listed by the official MCP client.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.clients.harness import NodeTools
from tests.distribution.conftest import Bundle
from tests.distribution.tooling import outside_env, project_version, run, snapshot_tools

pytestmark = pytest.mark.e2e

START_TIMEOUT = 120.0  # the first start resolves the wheel's dependencies with uv (cached afterwards)
SECRET = "bundle-test-app-secret-0123456789"


def manifest_of(folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def zip_contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist() if not name.endswith("/")}


def desktop_launch(manifest: dict[str, Any], install_dir: Path, values: dict[str, str]) -> StdioServerParameters:
    """What an MCPB host runs: ``mcp_config`` with the host's variables and the user's answers substituted.

    Like Claude Desktop, an option the user left empty takes its ``default``; one with neither stays a raw
    ``${user_config.X}`` (which is why every option of ours declares a default).
    """
    options = manifest.get("user_config", {})
    replacements = {"${__dirname}": str(install_dir), "${HOME}": os.environ.get("HOME", ""), "${/}": os.sep}
    for key, option in options.items():
        value = values.get(key, option.get("default"))
        if value is not None:
            replacements[f"${{user_config.{key}}}"] = str(value)

    def substitute(text: str) -> str:
        for placeholder, value in replacements.items():
            text = text.replace(placeholder, value)
        return text

    config = manifest["server"]["mcp_config"]
    env = {name: substitute(value) for name, value in config.get("env", {}).items()}
    host_env = outside_env(env)
    command = shutil.which(substitute(config["command"]), path=host_env["PATH"])
    assert command, f"{config['command']} is not on PATH"
    return StdioServerParameters(command=command, args=[substitute(a) for a in config["args"]], env=host_env)


@pytest.fixture(scope="module")
def unpacked(mcpb_cli: NodeTools, bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our bundle, unpacked by the official CLI where a host would install it."""
    target = tmp_path_factory.mktemp("installed") / "hms-recordings"
    done = run(mcpb_cli.command("mcpb", "unpack", str(bundle.mcpb), str(target)), cwd=target.parent, env=mcpb_cli.env)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


# --------------------------------------------------------------------------------------------------- manifest


def test_the_manifest_asks_for_the_key_and_secret_or_a_token_with_the_secrets_marked_sensitive(
    bundle: Bundle,
) -> None:
    manifest = manifest_of(bundle.stage)
    options = manifest["user_config"]
    assert {key: option["sensitive"] for key, option in options.items()} == {
        "access_key": False,
        "app_secret": True,
        "management_token": True,
    }
    assert all(option["required"] is False and option["default"] == "" for option in options.values())
    assert manifest["server"]["mcp_config"]["env"] == {
        "HMS_ACCESS_KEY": "${user_config.access_key}",
        "HMS_APP_SECRET": "${user_config.app_secret}",
        "HMS_MANAGEMENT_TOKEN": "${user_config.management_token}",
    }


def test_the_manifest_lists_the_snapshot_tools_and_the_projects_version(bundle: Bundle) -> None:
    manifest = manifest_of(bundle.stage)
    assert manifest["version"] == project_version()
    assert manifest["tools"] == [{"name": t["name"], "description": t["description"]} for t in snapshot_tools()]
    assert manifest["tools_generated"] is False


def test_the_manifest_starts_the_bundled_wheel_over_stdio(bundle: Bundle) -> None:
    server = manifest_of(bundle.stage)["server"]
    wheel = f"hms_recordings-{project_version()}-py3-none-any.whl"
    assert server["entry_point"] == f"server/{wheel}"
    assert (bundle.stage / server["entry_point"]).is_file()
    args = server["mcp_config"]["args"]
    assert server["mcp_config"]["command"] == "uvx"
    assert args[args.index("--from") + 1] == f"${{__dirname}}/server/{wheel}"
    assert args[-3:] == ["serve", "--transport", "stdio"]


def test_the_bundle_is_the_staged_folder_zipped(bundle: Bundle) -> None:
    staged = {p.relative_to(bundle.stage).as_posix(): p.read_bytes() for p in bundle.stage.rglob("*") if p.is_file()}
    assert zip_contents(bundle.mcpb) == staged


# ------------------------------------------------------------------------------------------------ official CLI


def test_the_official_cli_validates_the_manifest(mcpb_cli: NodeTools, bundle: Bundle) -> None:
    done = mcpb_cli.run("mcpb", "validate", str(bundle.stage / "manifest.json"), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Manifest schema validation passes!" in done.stdout


def test_the_official_cli_rejects_our_manifest_without_its_server(
    mcpb_cli: NodeTools, bundle: Bundle, tmp_path: Path
) -> None:
    broken = {key: value for key, value in manifest_of(bundle.stage).items() if key != "server"}
    (tmp_path / "manifest.json").write_text(json.dumps(broken))
    done = mcpb_cli.run("mcpb", "validate", str(tmp_path / "manifest.json"), timeout=120)
    assert done.returncode != 0 and "server" in done.stdout, done.stdout + done.stderr


def test_the_official_cli_packs_the_staged_folder_into_the_same_files(
    mcpb_cli: NodeTools, bundle: Bundle, tmp_path: Path
) -> None:
    official = tmp_path / "official.mcpb"
    done = mcpb_cli.run("mcpb", "pack", str(bundle.stage), str(official), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert zip_contents(official) == zip_contents(bundle.mcpb)


def test_the_official_cli_unpacks_the_bundle_to_the_staged_files(unpacked: Path, bundle: Bundle) -> None:
    found = {p.relative_to(unpacked).as_posix(): p.read_bytes() for p in unpacked.rglob("*") if p.is_file()}
    assert found == zip_contents(bundle.mcpb)


# ------------------------------------------------------------------------------------------------ as a host would


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answers",
    [{"access_key": "b" * 24, "app_secret": SECRET}, {"management_token": "a.given.token"}],
    ids=["key-and-secret", "management-token"],
)
async def test_the_bundles_server_started_as_claude_desktop_would_lists_the_manifests_tools(
    unpacked: Path, answers: dict[str, str]
) -> None:
    manifest = manifest_of(unpacked)
    params = desktop_launch(manifest, unpacked, answers)
    launched = " ".join([params.command, *params.args, *(params.env or {}).values()])
    assert "${" not in launched, launched
    with anyio.fail_after(START_TIMEOUT):
        async with Client(params) as client:
            tools = (await client.list_tools()).tools
            server_version = client.server_info.version if client.server_info else None
    assert [(t.name, t.description) for t in tools] == [(t["name"], t["description"]) for t in manifest["tools"]]
    assert server_version == project_version()


def test_the_bundles_server_without_any_credential_exits_with_a_clear_error(unpacked: Path) -> None:
    params = desktop_launch(manifest_of(unpacked), unpacked, {})
    assert params.env is not None
    done = run([params.command, *params.args], cwd=unpacked, env=params.env, timeout=START_TIMEOUT)
    assert done.returncode == 3, done
    assert "HMS_MANAGEMENT_TOKEN" in done.stderr and "HMS_ACCESS_KEY" in done.stderr
    assert "${user_config" not in done.stderr
