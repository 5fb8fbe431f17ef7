"""``serve`` with several files (files/sibling-*.yaml): port clashes before start-up, or one combined server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from mcp import Client

from hms_recordings.capability.loader import BUILTIN_CAPABILITY
from hms_recordings.cli import build_parser, main
from hms_recordings.errors import ConfigError
from hms_recordings.faces.mcp import build_mcp_server
from hms_recordings.server.multi import combine, metrics_per_file, plan_serving

from .conftest import FILES, MakeEngine

Record = Callable[..., Awaitable[dict[str, Any]]]
RECORDINGS, ROOMS, DUPLICATE = (str(FILES / f"sibling-{n}.yaml") for n in ("recordings", "rooms", "duplicate"))
ENV = {"HMS_MANAGEMENT_TOKEN": "unused"}


def args(*argv: str) -> Any:
    return build_parser().parse_args(["serve", *argv])


def test_files_claiming_the_same_port_are_refused_before_anything_starts_naming_files_and_fix() -> None:
    with pytest.raises(ConfigError) as raised:
        plan_serving(args(RECORDINGS, ROOMS), env=ENV)

    assert raised.value.message.startswith(
        f"port 9090 is claimed by {RECORDINGS} (MCP), {ROOMS} (MCP). Nothing was started."
    )
    assert "--single-port" in raised.value.message and "its own --port" in raised.value.message


def test_every_face_a_file_serves_claims_its_port() -> None:
    with pytest.raises(ConfigError) as raised:
        plan_serving(args(str(BUILTIN_CAPABILITY), str(BUILTIN_CAPABILITY)), env=ENV)

    builtin = str(BUILTIN_CAPABILITY)
    assert raised.value.message.startswith(
        f"port 9090 is claimed by {builtin} (MCP), {builtin} (MCP); port 9091 is claimed by {builtin} (REST), "
        f"{builtin} (REST). Nothing was started."
    )


def test_one_port_flag_for_several_files_is_a_clash_too() -> None:
    with pytest.raises(ConfigError, match="port 8000 is claimed by"):
        plan_serving(args(RECORDINGS, DUPLICATE, "--port", "8000"), env=ENV)


def test_files_on_different_ports_each_keep_their_own_configuration() -> None:
    served = plan_serving(args(RECORDINGS, DUPLICATE), env=ENV)

    assert [(s.file, s.settings.port) for s in served] == [(RECORDINGS, 9090), (DUPLICATE, 9191)]


def test_single_port_serves_on_the_port_flag_or_the_first_files_port() -> None:
    assert plan_serving(args(RECORDINGS, ROOMS, "--single-port"), env=ENV)[0].settings.port == 9090
    assert plan_serving(args(RECORDINGS, ROOMS, "--single-port", "--port", "7000"), env=ENV)[0].settings.port == 7000


def test_several_files_over_stdio_need_single_port() -> None:
    with pytest.raises(ConfigError, match="stdio carries a single MCP server: pass --single-port"):
        plan_serving(args(RECORDINGS, DUPLICATE, "--transport", "stdio"), env=ENV)


def test_upstream_and_tools_flags_apply_to_the_files_that_have_them() -> None:
    served = plan_serving(
        args(
            RECORDINGS, ROOMS, "--single-port", "--tools", "hms-room-count", "--upstream", "rooms=http://127.0.0.1:1/v2"
        ),
        env=ENV,
    )

    assert [(s.settings.tools, s.settings.upstreams) for s in served] == [
        ((), {}),
        (("hms-room-count",), {"rooms": "http://127.0.0.1:1/v2"}),
    ]
    with pytest.raises(ConfigError, match="--tools names nope, which none of the files defines"):
        plan_serving(args(RECORDINGS, ROOMS, "--single-port", "--tools", "nope"), env=ENV)
    with pytest.raises(ConfigError, match="--toolsets names nope, which none of the files declares"):
        plan_serving(args(RECORDINGS, ROOMS, "--single-port", "--toolsets", "nope"), env=ENV)
    with pytest.raises(ConfigError, match="--upstream names nope, which none of the files consumes"):
        plan_serving(args(RECORDINGS, ROOMS, "--single-port", "--upstream", "nope=http://x.test"), env=ENV)


def test_the_command_exits_with_the_configuration_code_and_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", RECORDINGS, ROOMS])

    assert code == 3
    assert "port 9090 is claimed by" in capsys.readouterr().err


@pytest.mark.anyio
async def test_single_port_serves_every_files_tools_and_prompts_from_one_server(
    make_engine: MakeEngine, record: Record
) -> None:
    recording = await record()
    engines = [(RECORDINGS, make_engine(RECORDINGS)), (ROOMS, make_engine(ROOMS))]

    async with Client(build_mcp_server(combine(engines))) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        status = await client.call_tool("hms-recording-status", {"recording_id": recording["id"]})
        rooms = await client.call_tool("hms-room-count", {})

    assert tools == ["hms-recording-status", "hms-room-count"]
    assert prompts == ["check-recording"]
    assert status.structured_content == {"status": "completed"}  # each file keeps its own engine and upstream
    assert rooms.structured_content == {"rooms": 2}


@pytest.mark.anyio
async def test_single_port_refuses_a_tool_name_served_by_two_files_naming_both(make_engine: MakeEngine) -> None:
    engines = [(RECORDINGS, make_engine(RECORDINGS)), (DUPLICATE, make_engine(DUPLICATE))]

    with pytest.raises(ConfigError) as raised:
        combine(engines)

    assert raised.value.message.startswith(
        f"tool `hms-recording-status` is served by both {RECORDINGS} and {DUPLICATE}; with --single-port"
    )


def test_several_servers_keep_their_own_metrics_and_one_combined_server_shares_one() -> None:
    separate = metrics_per_file(plan_serving(args(RECORDINGS, DUPLICATE), env=ENV))
    combined = metrics_per_file(plan_serving(args(RECORDINGS, ROOMS, "--single-port"), env=ENV))

    assert separate[0] is not separate[1]
    assert combined[0] is combined[1]
    text = combined[0].render().decode()
    assert 'hms_upstream_retries_total{namespace="recordings"} 0.0' in text  # every file's APIs, from the start
    assert 'hms_upstream_retries_total{namespace="rooms"} 0.0' in text


@pytest.mark.anyio
async def test_one_combined_server_counts_the_calls_of_every_file(make_engine: MakeEngine, record: Record) -> None:
    recording = await record()
    metrics = metrics_per_file(plan_serving(args(RECORDINGS, ROOMS, "--single-port"), env=ENV))[0]  # shared by all
    engines = [
        (RECORDINGS, make_engine(RECORDINGS, observers=[metrics])),
        (ROOMS, make_engine(ROOMS, observers=[metrics])),
    ]

    async with Client(build_mcp_server(combine(engines))) as client:
        await client.call_tool("hms-recording-status", {"recording_id": recording["id"]})
        await client.call_tool("hms-room-count", {})

    text = metrics.render().decode()
    assert 'hms_tool_calls_total{face="mcp",outcome="ok",tool="hms-recording-status"} 1.0' in text
    assert 'hms_tool_calls_total{face="mcp",outcome="ok",tool="hms-room-count"} 1.0' in text
