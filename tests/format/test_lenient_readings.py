"""Every lenient reading this runtime adds for the format's constructs (files/lenient.yaml and small inline files).

Each test names one reading; docs/capability-format.md lists them all. ``validate --strict`` still reports these
files as deviations: leniency is for serving, never for validation.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from hms_recordings.capability.loader import load_capability, load_file
from hms_recordings.capability.strict import validate_strict
from hms_recordings.capability.yamlsource import parse_yaml, read_yaml
from hms_recordings.errors import CapabilityError
from hms_recordings.faces.mcp import build_mcp_server
from tests.rig import compiled_tools

from .conftest import FILES, MakeEngine

Record = Callable[..., Awaitable[dict[str, Any]]]


@pytest.mark.anyio
async def test_steps_without_type_paths_in_with_and_index_and_mappings_as_one_mapping_are_read_by_intent(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    composite, chat = recording["recording_assets"]
    engine = make_engine("lenient.yaml")

    outcome = await engine.call("lenient-steps", {"recording_id": recording["id"]})

    assert outcome.error is None, outcome.error
    data = outcome.data
    assert (
        data["recording_id"] == recording["id"]
    )  # a {{template}} mapping; `{name: result, value: $.}` is the response
    assert data["asked_for"] == recording["id"]  # a mapping path may name a tool argument
    assert data["composite"] == {"id": composite["id"], "size": composite["size"]}  # lookup fields as {name: ...}
    assert chat["id"] in data["links"]["chat"]  # `$.recording.recording_assets[1].id` in a step's with
    assert composite["id"] in data["links"]["composite"]  # bare `composite.id`: an earlier step's output
    assert data["source"] == "100ms"  # a mapping value that is no path is literal text


@pytest.mark.anyio
async def test_a_lookup_without_output_parameters_keeps_the_whole_entry(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    engine = make_engine("lenient.yaml")

    outcome = await engine.call("whole-entry", {"recording_id": recording["id"]})

    assert outcome.data == {"chat": recording["recording_assets"][1]}


@pytest.mark.anyio
async def test_a_mock_reads_properties_as_a_named_list_items_as_a_list_and_answers_its_one_unnamed_output(
    make_engine: MakeEngine,
) -> None:
    outcome = await make_engine("lenient.yaml").call("nested-mock", {})

    assert outcome.data == {"ready": True, "sizes": [{"width": 1280}]}


@pytest.mark.anyio
async def test_hints_written_on_an_aggregate_function_sit_between_semantics_and_the_tool(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    engine = make_engine("lenient.yaml")
    tool = engine.inventory.tools["status"]

    outcome = await engine.call("status", {"recording_id": recording["id"]})

    assert (tool.hints.read_only, tool.hints.destructive, tool.hints.idempotent, tool.hints.open_world) == (
        True,
        False,
        True,
        False,
    )
    assert outcome.data == "completed"


@pytest.mark.anyio
async def test_a_prompt_message_with_a_role_mcp_lacks_is_sent_as_user(make_engine: MakeEngine) -> None:
    async with Client(build_mcp_server(make_engine("lenient.yaml"))) as client:
        got = await client.get_prompt("system-prompt", {})

    assert [(m.role, m.content.text) for m in got.messages] == [("user", "Be brief.")]  # type: ignore[union-attr]


def test_strict_validation_still_reports_every_bend_of_the_lenient_file() -> None:
    rules = {f.rule for f in validate_strict(read_yaml(FILES / "lenient.yaml")) if f.severity == "error"}

    assert {"bearer-token", "consumed-param-fields", "missing-key", "bad-type"} <= rules


def test_an_import_without_import_takes_the_only_api_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(
        "naftiko: 1.0.0-alpha2\nconsumes:\n- { type: http, namespace: solo, baseUri: 'https://solo.test',"
        " resources: [{ name: r, path: /r, operations: [{ name: op, method: GET }] }] }\n"
    )
    shutil.copy(FILES / "mock.yaml", tmp_path / "base.yaml")
    text = (
        (tmp_path / "base.yaml")
        .read_text()
        .replace("  consumes:\n", "  consumes:\n  - { location: file:///./one.yaml, as: alias }\n", 1)
    )
    (tmp_path / "base.yaml").write_text(text)

    capability = load_file(tmp_path / "base.yaml")

    assert capability.operation("alias.op") is not None


@pytest.mark.parametrize(
    ("step", "finding"),
    [
        ("{ name: a, type: loop }", "step type `loop` is not one of call, lookup, script"),
        ("{ name: a, type: call }", "a call step needs `call`"),
        ("{ name: a, index: nowhere, match: id, lookupValue: x }", "`index: nowhere` names no earlier step"),
    ],
)
def test_a_step_that_cannot_run_is_a_finding_at_load(step: str, finding: str) -> None:
    text = (
        "naftiko: 1.0.0-alpha2\ninfo: { label: S, description: S. }\ncapability:\n  exposes:\n"
        "  - type: mcp\n    namespace: s\n    port: 9090\n    tools:\n"
        f"    - {{ name: t, description: T., steps: [{step}] }}\n"
    )
    with pytest.raises(CapabilityError, match="cannot be served") as raised:
        load_capability(parse_yaml(text, "steps.yaml"))

    assert finding in str(raised.value)


def test_two_steps_with_one_name_are_a_finding_at_load() -> None:
    text = (
        "naftiko: 1.0.0-alpha2\ninfo: { label: S, description: S. }\ncapability:\n  exposes:\n"
        "  - type: mcp\n    namespace: s\n    port: 9090\n    tools:\n"
        "    - { name: t, description: T., steps: [{ type: script, name: a, file: x.py },"
        " { type: script, name: a, file: y.py }] }\n"
    )
    with pytest.raises(CapabilityError, match="two steps are named `a`"):
        load_capability(parse_yaml(text, "steps.yaml"))


def test_a_static_resource_whose_location_is_missing_is_a_finding_at_load(tmp_path: Path) -> None:
    text = (FILES / "resources.yaml").read_text().replace("file:///./static/docs", "file:///./nowhere")
    (tmp_path / "r.yaml").write_text(text)
    shutil.copytree(FILES / "static", tmp_path / "static")

    with pytest.raises(CapabilityError, match=re.escape("resource location `file:///./nowhere` is not an existing")):
        load_file(tmp_path / "r.yaml")


def test_a_ref_tool_is_listed_under_its_functions_name_when_it_has_none() -> None:
    assert "get-recording" in compiled_tools(load_file(FILES / "aggregates.yaml"))


def test_a_dynamic_resource_calling_an_unknown_operation_is_a_finding_at_load(tmp_path: Path) -> None:
    text = (FILES / "resources.yaml").read_text().replace("call: hms.list-recordings", "call: hms.nope")
    (tmp_path / "r.yaml").write_text(text)
    shutil.copytree(FILES / "static", tmp_path / "static")

    with pytest.raises(CapabilityError) as raised:
        load_file(tmp_path / "r.yaml")

    assert [(f.path, f.message) for f in raised.value.findings] == [
        ("capability.exposes[0].resources[3].call", "`hms.nope` names no consumed operation")
    ]
