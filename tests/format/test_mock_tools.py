"""Mock tools (files/mock.yaml): answers built from static output values, with no upstream at all."""

from __future__ import annotations

import pytest
from mcp import Client

from hms_recordings.capability.loader import load_file
from hms_recordings.faces.mcp import build_mcp_server
from hms_recordings.runtime.service import CapabilityService
from tests.rig import open_service

from .conftest import FILES


def engine() -> CapabilityService:
    # No transport and an unresolvable baseUri: any request would fail, so passing tests prove none is sent.
    return open_service(load_file(FILES / "mock.yaml"), env={}, strict=True)


@pytest.mark.anyio
async def test_a_mock_tool_answers_name_value_pairs() -> None:
    async with engine() as e:
        outcome = await e.call("answer", {})

    assert outcome.data == {"answer": "forty-two"}


@pytest.mark.anyio
async def test_every_output_with_a_value_is_in_the_answer_typed_by_its_declared_type() -> None:
    async with engine() as e:
        outcome = await e.call("status", {})

    assert outcome.data == {"ready": True, "count": 3, "ratio": 0.5, "label": "ok"}


@pytest.mark.anyio
async def test_a_mock_stands_in_for_an_operation_whose_api_does_not_exist_yet() -> None:
    async with engine() as e:
        outcome = await e.call("list-things", {})

    assert outcome.data == {"id": "thing-1", "size": 7}


@pytest.mark.anyio
async def test_a_mock_tool_is_served_over_mcp_with_structured_content() -> None:
    async with engine() as e, Client(build_mcp_server(e)) as client:
        result = await client.call_tool("status", {})

    assert not result.is_error
    assert result.structured_content == {"ready": True, "count": 3, "ratio": 0.5, "label": "ok"}


@pytest.mark.anyio
async def test_a_mock_tool_rejects_arguments_it_does_not_declare() -> None:
    async with engine() as e:
        outcome = await e.call("answer", {"question": "life"})

    assert outcome.error is not None and outcome.error.kind == "invalid_arguments"
