"""``server.json`` for the MCP Registry: valid against the registry's published schema (vendored in registry/), naming
the PyPI package, stdio and the credential variables, its version the project's; and what it tells a registry client
to run does start the server.
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import anyio
import pytest
from jsonschema import Draft7Validator
from mcp import Client, StdioServerParameters

from tests.distribution.conftest import Dists
from tests.distribution.tooling import (
    REGISTRY_SCHEMA,
    REPO,
    SERVER_JSON,
    extra_tool,
    ok,
    outside_env,
    project_version,
    run,
    snapshot_tools,
)

CALL_TIMEOUT = 120.0


def server_json() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SERVER_JSON.read_text(encoding="utf-8"))
    return document


def validator() -> Draft7Validator:
    schema = json.loads(REGISTRY_SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def package() -> dict[str, Any]:
    (only,) = server_json()["packages"]
    assert isinstance(only, dict)
    return only


def test_server_json_is_valid_against_the_registrys_published_schema() -> None:
    document = server_json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]
    assert errors == []
    assert document["$schema"] == json.loads(REGISTRY_SCHEMA.read_text())["$id"]


@pytest.mark.parametrize(
    "breakage",
    ["description-over-100", "package-version-latest", "two-slashes-in-name", "no-transport"],
)
def test_the_vendored_schema_rejects_what_the_registry_rejects(breakage: str) -> None:
    document = copy.deepcopy(server_json())
    if breakage == "description-over-100":
        document["description"] = "x" * 101
    elif breakage == "package-version-latest":
        document["packages"][0]["version"] = "latest"
    elif breakage == "two-slashes-in-name":
        document["name"] = "io.github.a/b/c"
    else:
        del document["packages"][0]["transport"]
    assert not validator().is_valid(document)


def test_server_json_names_the_pypi_package_stdio_and_the_credential_variables() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    entry = package()
    assert (entry["registryType"], entry["identifier"], entry["transport"]) == (
        "pypi",
        project["name"],
        {"type": "stdio"},
    )
    secrets = {var["name"]: var["isSecret"] for var in entry["environmentVariables"]}
    assert secrets == {"HMS_ACCESS_KEY": False, "HMS_APP_SECRET": True, "HMS_MANAGEMENT_TOKEN": True}


@pytest.mark.e2e
def test_server_json_versions_are_the_projects_and_the_installed_command_prints_it(
    wheel_venv: Path, tmp_path: Path
) -> None:
    version = project_version()
    assert server_json()["version"] == version
    assert package()["version"] == version
    printed = ok(run([str(wheel_venv / "bin" / "hms-recordings"), "--version"], cwd=tmp_path, env=outside_env()))
    assert printed.strip() == f"hms-recordings {version}"


def registry_arguments(entry: dict[str, Any]) -> list[str]:
    """``packageArguments`` as a registry client renders them: positional values, named ``--flag=value``."""
    rendered = []
    for argument in entry.get("packageArguments", []):
        if argument["type"] == "positional":
            rendered.append(argument["value"])
        else:
            rendered.append(f"{argument['name']}={argument['value']}" if "value" in argument else argument["name"])
    return rendered


@pytest.mark.e2e
@pytest.mark.anyio
async def test_what_server_json_tells_a_client_to_run_serves_the_tools(dists: Dists, tmp_path: Path) -> None:
    entry = package()
    assert entry["runtimeHint"] == "uvx"
    # A client runs `uvx hms-recordings==VERSION <packageArguments>`; until it is on PyPI, the wheel stands in.
    env = outside_env({"HMS_ACCESS_KEY": "c" * 24, "HMS_APP_SECRET": "registry-test-app-secret-0123456789"})
    args = ["--from", str(dists.wheel), entry["identifier"], *registry_arguments(entry)]
    params = StdioServerParameters(command=str(extra_tool("uvx")), args=args, env=env, cwd=tmp_path)
    with anyio.fail_after(CALL_TIMEOUT):
        async with Client(params) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
    assert names == [tool["name"] for tool in snapshot_tools()]
