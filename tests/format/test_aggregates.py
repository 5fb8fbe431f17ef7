"""Aggregates (files/aggregates.yaml): tools reach domain functions through ``ref``; semantics give the hints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.model import Hints
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.errors import CapabilityError
from tests.rig import open_service

from .conftest import MakeEngine

Record = Callable[..., Awaitable[dict[str, Any]]]


@pytest.mark.anyio
async def test_a_ref_tool_runs_the_function_and_maps_with_its_outputs(make_engine: MakeEngine, record: Record) -> None:
    recording = await record()
    engine = make_engine("aggregates.yaml")

    outcome = await engine.call("get-recording", {"recording_id": recording["id"]})

    assert outcome.error is None, outcome.error
    assert outcome.data == {"id": recording["id"], "status": "completed"}


@pytest.mark.anyio
async def test_a_ref_tool_without_name_or_description_takes_the_functions(make_engine: MakeEngine) -> None:
    tool = make_engine("aggregates.yaml").inventory.tools["get-recording"]

    assert tool.tool.description == "Get a recording's id and status."
    assert tool.input_schema["required"] == ["recording_id"]


@pytest.mark.anyio
async def test_safe_semantics_give_read_only_and_not_destructive_hints(make_engine: MakeEngine) -> None:
    tool = make_engine("aggregates.yaml").inventory.tools["get-recording"]

    assert tool.hints == Hints(read_only=True, destructive=False, idempotent=True, open_world=None)


@pytest.mark.anyio
async def test_unsafe_semantics_give_not_read_only_and_explicit_hints_override_field_by_field(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine("aggregates.yaml")

    assert engine.inventory.tools["stop-recording"].hints == Hints(read_only=False, destructive=True, idempotent=True)
    # explicit readOnly: false beats safe: true; destructive and idempotent still come from the semantics
    assert engine.inventory.tools["recording-status"].hints == Hints(
        read_only=False, destructive=False, idempotent=True, open_world=True
    )
    assert engine.inventory.tools["recording-status"].tool.label == "Recording status"


@pytest.mark.anyio
async def test_read_only_serving_keeps_tools_made_read_only_by_their_semantics(make_engine: MakeEngine) -> None:
    engine = make_engine("aggregates.yaml", read_only=True)

    assert sorted(engine.inventory.tools) == ["get-recording"]


CYCLE = """
naftiko: 1.0.0-alpha2
info: { label: Cycle, description: Functions that refer to each other. }
capability:
  aggregates:
  - label: Loop
    namespace: loop
    functions:
    - { name: a, description: A., ref: loop.b }
    - { name: b, description: B., ref: loop.a }
  exposes:
  - type: mcp
    namespace: loop-mcp
    port: 9090
    tools:
    - { name: t, description: T., ref: loop.a }
"""


def test_functions_that_refer_to_each_other_in_a_loop_are_refused_at_start_up() -> None:
    capability = load_capability(parse_yaml(CYCLE, "cycle.yaml"))

    with pytest.raises(CapabilityError, match=r"`ref` loops \(loop.a -> loop.b -> loop.a\)"):
        open_service(capability, env={}, strict=True)
