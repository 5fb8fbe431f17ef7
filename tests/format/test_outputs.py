"""Output mapping (files/outputs.yaml): nested properties, items over arrays, const and static values, nulls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .conftest import MakeEngine

Record = Callable[..., Awaitable[dict[str, Any]]]


@pytest.mark.anyio
async def test_output_parameters_shape_the_response_in_full(make_engine: MakeEngine, record: Record) -> None:
    recording = await record(resolution={"width": 1920, "height": 1080})
    engine = make_engine("outputs.yaml")

    outcome = await engine.call("shaped", {"recording_id": recording["id"]})

    assert outcome.error is None, outcome.error
    composite, chat = recording["recording_assets"]
    assert outcome.data == {
        "id": recording["id"],
        "kind": "composite",  # const
        "source": "100ms",  # static value
        "live": False,  # static value, typed by `type: boolean`
        "timing": {"created": recording["created_at"], "stopped": recording["stopped_at"]},  # nested properties
        "types": recording["asset_types"],  # items over an array of strings
        "assets": [  # items over an array of objects; a path missing in one item is null there
            {"id": composite["id"], "type": "room-composite", "width": 1920},
            {"id": chat["id"], "type": "chat", "width": None},
        ],
        "nothing": None,  # a missing path is null
        "absent": None,  # an object whose path is missing is null, not an object of nulls
    }


@pytest.mark.anyio
async def test_the_first_output_parameter_that_yields_a_value_is_the_result(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    engine = make_engine("outputs.yaml")

    outcome = await engine.call("first-non-null", {"recording_id": recording["id"]})

    assert outcome.data == "completed"


@pytest.mark.anyio
async def test_dollar_maps_the_whole_response_before_properties_pick_from_it(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    engine = make_engine("outputs.yaml")

    outcome = await engine.call("whole", {"recording_id": recording["id"]})

    assert outcome.data == {"id": recording["id"]}
