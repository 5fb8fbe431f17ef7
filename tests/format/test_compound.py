"""The compound tool proposed for the built-in capability (files/compound.yaml), end to end against the emulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import MakeEngine

TOOL = "hms-get-recording-download-links"
Record = Callable[..., Awaitable[dict[str, Any]]]


@pytest.mark.anyio
async def test_one_call_returns_the_assets_and_the_composite_download_link(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    engine = make_engine("compound.yaml")

    outcome = await engine.call(TOOL, {"recording_id": recording["id"], "presign_duration": 600})

    assert outcome.error is None, outcome.error
    composite = next(a for a in recording["recording_assets"] if a["type"] == "room-composite")
    assert outcome.data["recording_id"] == recording["id"]
    assert outcome.data["status"] == "completed"
    assert [a["id"] for a in outcome.data["assets"]] == [a["id"] for a in recording["recording_assets"]]
    assert outcome.data["composite"]["asset_id"] == composite["id"]
    assert outcome.data["composite"]["duration"] == composite["duration"]
    assert outcome.data["composite"]["expires_in_seconds"] == 600  # the caller's argument reached the last step
    assert composite["id"] in urlsplit(outcome.data["composite"]["url"]).path


@pytest.mark.anyio
async def test_a_recording_without_assets_fails_at_the_download_step_naming_the_empty_lookup(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record(complete=False)
    engine = make_engine("compound.yaml")

    outcome = await engine.call(TOOL, {"recording_id": recording["id"]})

    assert outcome.error is not None
    assert outcome.error.kind == "not_found"
    assert outcome.error.message == (
        "step `download` failed: it needs `composite`, which found nothing: "
        "`recording.recording_assets` is empty or missing"
    )


@pytest.mark.anyio
async def test_an_unknown_recording_stops_the_chain_at_the_first_step(make_engine: MakeEngine) -> None:
    engine = make_engine("compound.yaml")

    outcome = await engine.call(TOOL, {"recording_id": "0123456789abcdef01234567"})

    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.upstream_status) == ("not_found", 404)
    assert outcome.error.message.startswith("step `recording` failed: ")


@pytest.mark.anyio
async def test_the_compound_tool_publishes_its_declared_inputs_and_read_only_hints(make_engine: MakeEngine) -> None:
    tool = make_engine("compound.yaml").inventory.tools[TOOL]

    assert tool.input_schema["required"] == ["recording_id"]
    assert set(tool.input_schema["properties"]) == {"recording_id", "presign_duration"}
    assert (tool.hints.read_only, tool.hints.destructive, tool.hints.idempotent) == (True, False, True)
    assert set(tool.output_schema["properties"]) == {"recording_id", "status", "assets", "composite"}
