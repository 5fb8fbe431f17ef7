"""Orchestrated tools (files/orchestrated.yaml): call and lookup steps, step outputs in templates, mappings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hms_recordings.emulator import EmulatorApp

from .conftest import ROOM, MakeEngine

Record = Callable[..., Awaitable[dict[str, Any]]]


@pytest.mark.anyio
async def test_steps_feed_each_other_and_mappings_build_a_nested_result(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    chat = next(a for a in recording["recording_assets"] if a["type"] == "chat")
    engine = make_engine("orchestrated.yaml")

    outcome = await engine.call("find-asset", {"recording_id": recording["id"], "kind": "chat"})

    assert outcome.error is None, outcome.error
    data = outcome.data
    # `recording` was projected through the operation's outputParameters: {id, room, session, assets}
    assert data["recording"] == {"id": recording["id"], "room": ROOM}
    # the lookup kept only its listed fields of the first matching entry
    assert data["asset"] == {"id": chat["id"], "type": "chat", "status": "completed", "room_id": ROOM}
    ids = [a["id"] for a in recording["recording_assets"]]
    assert sorted(data["room_asset_ids"]) == sorted(ids)  # `[*]` maps over the list
    assert data["first_room_asset"] == data["room_asset_ids"][0]  # `[0]` indexes it
    assert "missing" in data and data["missing"] is None  # a path that leads nowhere is null, not an error


@pytest.mark.anyio
async def test_a_lookup_that_matches_nothing_keeps_null(make_engine: MakeEngine, record: Record) -> None:
    recording = await record()
    engine = make_engine("orchestrated.yaml")

    outcome = await engine.call("find-asset", {"recording_id": recording["id"], "kind": "transcript"})

    assert outcome.error is None, outcome.error
    assert outcome.data["asset"] is None


@pytest.mark.anyio
async def test_a_later_step_template_reads_an_earlier_step_output(
    make_engine: MakeEngine, record: Record, emulator: EmulatorApp
) -> None:
    recording = await record()
    engine = make_engine("orchestrated.yaml")

    await engine.call("find-asset", {"recording_id": recording["id"], "kind": "chat"})

    listed = [e for e in emulator.emulator.request_log if e["path"] == "/v2/recording-assets"]
    assert listed[-1]["query"] == {"room_id": ROOM, "status": "completed", "limit": "100"}


@pytest.mark.anyio
async def test_without_mappings_the_last_steps_response_goes_through_the_tool_outputs(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    engine = make_engine("orchestrated.yaml")

    outcome = await engine.call("recording-room", {"recording_id": recording["id"]})

    assert outcome.error is None, outcome.error
    assert sorted(outcome.data["ids"]) == sorted(a["id"] for a in recording["recording_assets"])


@pytest.mark.anyio
async def test_a_failing_step_stops_the_chain_and_the_error_names_it(
    make_engine: MakeEngine, record: Record, emulator: EmulatorApp
) -> None:
    recording = await record()
    engine = make_engine("orchestrated.yaml")
    sent_before = len(emulator.emulator.request_log)

    outcome = await engine.call("presign-first", {"recording_id": recording["id"]})

    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.upstream_status) == ("not_found", 404)
    assert outcome.error.message.startswith("step `presign` failed: ")
    assert "recording asset not found" in outcome.error.message
    sent = [e["path"] for e in list(emulator.emulator.request_log)[sent_before:]]
    assert sent == [f"/v2/recordings/{recording['id']}", f"/v2/recording-assets/{recording['id']}/presigned-url"]


@pytest.mark.anyio
async def test_without_input_parameters_the_schema_lists_what_the_steps_need(make_engine: MakeEngine) -> None:
    tool = make_engine("orchestrated.yaml").inventory.tools["derived-inputs"]

    # recording_id: the first operation's path parameter; asset_id: the lookup's {{asset_id}}. The presign
    # step's own asset_id comes from the lookup, so it is not asked for twice.
    assert set(tool.input_schema["properties"]) == {"recording_id", "asset_id"}
    assert tool.input_schema["required"] == ["recording_id", "asset_id"]
