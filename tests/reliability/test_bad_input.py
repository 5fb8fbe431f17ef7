"""Bad input (issue 5): every hostile or malformed argument is rejected with a clear error before anything is sent.

The emulator's request log is the proof: after a rejected call it is still empty.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError

from hms_recordings.capability.loader import load_file
from hms_recordings.faces.mcp import build_mcp_server

from .conftest import Harness, HarnessFactory, builtin_tools

pytestmark = pytest.mark.anyio

VALID = "6a0f1c2d3e4f5a6b7c8d9e0f"
HUGE = 1_000_000
#: Path tricks, encodings, look-alikes (each NFKC-normalises to something forbidden, or is simply not an id).
TRICKS = [
    "",
    " ",
    ".",
    "..",
    "../../v2/recordings",
    "%2e%2e",
    "%2E%2E%2F",
    "a/b",
    "%2F",
    "a%2Fb",
    "\\",
    "a\\..\\b",
    "abc?x=1",
    f"{VALID}?limit=100",
    "abc#frag",
    f"{VALID}#",
    "abc\n",
    f"{VALID}\n",  # a schema pattern ending in `$` lets one trailing newline through
    f"{VALID}\r\nX-Injected: 1",
    "abc\x00",
    f"{VALID}\x00",
    "\t",
    "\u2025",  # two dot leader: NFKC ".."
    "\uff0e\uff0e",  # fullwidth full stops
    "\uff0f",  # fullwidth solidus
    "\u2215",  # division slash
    "\ufe56",  # small question mark
    "\uff03",  # fullwidth number sign
    "\uff05",  # fullwidth percent
    "６a0f1c2d3e4f5a6b7c8d9e0f",  # a fullwidth digit in an otherwise valid id
    "6a0f1c2d3e4f5a6b7c8d9e0ｆ",
    "6A0F1C2D3E4F5A6B7C8D9E0F",
    VALID[:-1],
    VALID + "0",
    "x" * 513,
    "a" * HUGE,
]
WRONG_TYPES: list[Any] = [None, 0, 6, 1.5, True, [], [VALID], {}, {"id": VALID}]


def id_parameters() -> list[tuple[str, str]]:
    """Every (tool, argument) of the built-in capability that takes a 100ms object id."""
    return [
        (tool.name, name)
        for tool in builtin_tools().values()
        for name, prop in tool.input_schema["properties"].items()
        if prop.get("pattern") == "^[0-9a-f]{24}$"
    ]


ID_PARAMETERS = id_parameters()


def base_args(tool: str) -> dict[str, Any]:
    """The smallest valid arguments of ``tool``, so that only the argument under test is wrong."""
    return {
        "hms-start-recording": {"room_id": VALID},
        "hms-stop-recording": {"room_id": VALID},
        "hms-pause-recording": {"room_id": VALID},
        "hms-resume-recording": {"room_id": VALID},
        "hms-stop-recording-by-id": {"recording_id": VALID},
        "hms-get-recording": {"recording_id": VALID},
        "hms-wait-for-recording": {"recording_id": VALID, "timeout_seconds": 1},
        "hms-get-recording-asset": {"asset_id": VALID},
        "hms-read-recording-asset": {"asset_id": VALID},
        "hms-get-recording-presigned-url": {"asset_id": VALID},
        "hms-get-recording-download-links": {"recording_id": VALID},
    }.get(tool, {})


def test_every_id_argument_of_every_tool_is_checked_against_the_object_id_pattern() -> None:
    id_like = [
        (tool.name, name)
        for tool in builtin_tools().values()
        for name, prop in tool.input_schema["properties"].items()
        if name.endswith("_id") or (name == "start" and prop.get("type") == "string")  # not a numeric offset
    ]
    # The event log's cursor is its own sequence number, not a 100ms id (checked as digits: tests/events).
    id_like.remove(("hms-list-recording-events", "start"))
    assert sorted(id_like) == sorted(ID_PARAMETERS)
    assert len(ID_PARAMETERS) >= 15


def builtin_tool_names() -> list[str]:
    return list(builtin_tools())


async def expect_rejected(h: Harness, tool: str, args: Any, field: str | None) -> str:
    outcome = await h.call(tool, args)
    assert outcome.error is not None, f"{tool} accepted {args!r:.200}"
    assert outcome.error.kind == "invalid_arguments", outcome.error
    assert outcome.error.http_status == 400
    message = outcome.error.message
    assert message.startswith(f"invalid arguments for {tool}: ")
    if field is not None:
        assert field in outcome.error.fields, (message, outcome.error.fields)
        assert f"`{field}`" in message
    assert len(message) < 600  # the rejected value is never echoed back
    assert await h.requests() == [], f"{tool} {args!r:.100} reached the upstream"
    return message


@pytest.mark.parametrize(("tool", "field"), ID_PARAMETERS)
async def test_path_tricks_in_an_id_are_rejected_before_anything_is_sent(h: Harness, tool: str, field: str) -> None:
    for trick in TRICKS:
        await expect_rejected(h, tool, {**base_args(tool), field: trick}, field)


@pytest.mark.parametrize(("tool", "field"), ID_PARAMETERS)
async def test_an_id_of_the_wrong_type_is_rejected_before_anything_is_sent(h: Harness, tool: str, field: str) -> None:
    for wrong in WRONG_TYPES:
        message = await expect_rejected(h, tool, {**base_args(tool), field: wrong}, field)
        assert "must be of type string" in message


@pytest.mark.parametrize("tool", builtin_tool_names())
async def test_unknown_arguments_are_rejected_and_named(h: Harness, tool: str) -> None:
    message = await expect_rejected(h, tool, {**base_args(tool), "bogus": 1, "__proto__": {}}, "bogus")
    assert "unknown arguments `__proto__`, `bogus`" in message


@pytest.mark.parametrize("arguments", [[], "room_id", 7, ["room_id", VALID]])
async def test_arguments_that_are_not_an_object_are_rejected(h: Harness, arguments: Any) -> None:
    message = await expect_rejected(h, "hms-start-recording", arguments, None)
    assert message.endswith("the arguments must be a JSON object")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"meeting_url": "https://x.example/" + "a" * HUGE}, "meeting_url"),
        ({"meeting_url": "javascript:alert(1)"}, "meeting_url"),
        ({"destination": "d" * HUGE}, "destination"),
        ({"transcription": {"custom_vocabulary": ["word"] * 20_000}}, "transcription.custom_vocabulary"),
        (
            {"transcription": {"summary": {"sections": [{"title": "t", "format": "bullets"}] * 1000}}},
            "transcription.summary.sections",
        ),
        ({"transcription": {"enabled": True, "nested": {"deeper": [[[[[[[[{}]]]]]]]]}}}, "transcription.nested"),
        ({"resolution": {"width": 10**30, "height": 720}}, "resolution.width"),
        ({"resolution": {"width": "1280", "height": 720}}, "resolution.width"),
        ({"if_active": "maybe"}, "if_active"),
        ({"audio_only": "yes"}, "audio_only"),
    ],
)
async def test_huge_or_malformed_start_payloads_are_rejected_before_anything_is_sent(
    h: Harness, args: dict[str, Any], field: str
) -> None:
    await expect_rejected(h, "hms-start-recording", {"room_id": VALID, **args}, field)


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("hms-list-recordings", {"limit": "10"}, "limit"),
        ("hms-list-recordings", {"limit": 10.5}, "limit"),
        ("hms-list-recordings", {"limit": True}, "limit"),
        ("hms-list-recordings", {"limit": 10**100}, "limit"),
        ("hms-list-recordings", {"status": "running\n"}, "status"),
        ("hms-list-recording-assets", {"type": ["chat"]}, "type"),
        ("hms-get-recording-presigned-url", {"asset_id": VALID, "presign_duration": -1}, "presign_duration"),
        ("hms-get-recording-presigned-url", {"asset_id": VALID, "presign_duration": 1e300}, "presign_duration"),
        ("hms-wait-for-recording", {"recording_id": VALID, "timeout_seconds": 10**9}, "timeout_seconds"),
        ("hms-wait-for-recording", {"recording_id": VALID, "until": "forever"}, "until"),
    ],
)
async def test_out_of_range_and_mistyped_filters_are_rejected(
    h: Harness, tool: str, args: dict[str, Any], field: str
) -> None:
    await expect_rejected(h, tool, args, field)


async def test_a_trailing_newline_after_a_valid_id_in_a_query_filter_never_reaches_the_upstream(h: Harness) -> None:
    """Regression: under Python's `re.search`, `^[0-9a-f]{24}$` accepted "<id>\\n" and the filter went out."""
    for tool in ("hms-list-recordings", "hms-list-recording-assets"):
        for field in ("room_id", "session_id", "start"):
            message = await expect_rejected(h, tool, {field: f"{VALID}\n"}, field)
            # The id pattern now reads `$` as the end of input (JSON Schema semantics), so the schema names it first.
            assert message.endswith(f"`{field}` must match the pattern ^[0-9a-f]{{24}}$")


# -- the request builder on its own: a capability without schema patterns ---------------------------------------------

UNCHECKED = Path(__file__).parent / "files" / "unchecked_ids.yaml"
#: Values the request builder must refuse whatever the schema says.
PATH_ESCAPES = [t for t in TRICKS if t in ("", ".", "..") or re.search(r"[/\\?#%\x00-\x1f]|\.\.", t)] + [
    "\u2025",
    "\uff0e\uff0e",
    "\uff0f",
    "\ufe56",
    "\uff03",
    "\uff05",
    "x" * 513,
]


@pytest.mark.parametrize("tool", ["get-recording", "stop-room"])
async def test_without_a_schema_pattern_no_value_can_leave_its_path_segment(
    make_harness: HarnessFactory, tool: str
) -> None:
    field = "recording_id" if tool == "get-recording" else "room_id"
    async with make_harness(capability=load_file(UNCHECKED)) as h:
        for trick in PATH_ESCAPES:
            await expect_rejected(h, tool, {field: trick}, field)
        # Anything else goes out percent-encoded, as exactly one path segment.
        for value in ["６a0f", "6A0F", "a b", "ü", "a;b", "a=b&c", "'\"<>", "@:~!$*+,"]:
            await h.call(tool, {field: value})
            log = await h.requests()  # the emulator's 403 for a malformed room makes us renew the token once
            assert 1 <= len(log) <= 2 and len({entry["path"] for entry in log}) == 1
            prefix = "/v2/recordings/" if tool == "get-recording" else "/v2/recordings/room/"
            assert log[0]["path"].startswith(prefix)
            segment = log[0]["path"].removeprefix(prefix).removesuffix("/stop")
            assert unquote(segment) == value
            assert "/" not in segment
            await h.admin.post("/_emulator/reset")


# -- property-based: any arguments to any tool --------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
)
id_like = st.sampled_from([VALID, *TRICKS[:-1]]) | st.text(max_size=30) | st.from_regex(r"\A[0-9a-f]{24}\Z")
TOOL_FIELDS = {
    name: sorted({field for tool, field in ID_PARAMETERS if tool == name} | set(base_args(name)))
    for name in builtin_tool_names()
}
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def tool_calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    tool = draw(st.sampled_from(sorted(TOOL_FIELDS)))
    keys = st.sampled_from(
        [
            *TOOL_FIELDS[tool],
            "limit",
            "start",
            "status",
            "if_active",
            "meeting_url",
            "timeout_seconds",
            "until",
            "presign_duration",
            "x",
        ]
    ) | st.text(max_size=8)
    args = draw(st.dictionaries(keys, id_like | json_values, max_size=4))
    return tool, args


@SETTINGS
@given(call=tool_calls())
async def test_any_arguments_give_a_result_or_a_clear_error_and_rejected_ones_send_nothing(
    h: Harness, call: tuple[str, dict[str, Any]]
) -> None:
    tool, args = call
    assert (await h.admin.post("/_emulator/reset")).status_code == 204  # one engine, a fresh upstream per example
    if tool == "hms-wait-for-recording":
        args = {**args, "timeout_seconds": 1} if "timeout_seconds" not in args else args
    outcome = await h.call(tool, args)
    log = await h.requests()
    if outcome.error is None:
        json.dumps(outcome.data)  # a result is plain JSON
        return
    assert outcome.error.kind != "internal_error", outcome.error
    assert outcome.error.message and len(outcome.error.message) < 2000
    if outcome.error.kind == "invalid_arguments":
        assert log == [], f"rejected {tool} {args!r:.200} but sent {log}"
    assert all(entry["status"] is None or entry["status"] < 500 for entry in log)


# -- MCP resource templates: the same values, through resources/read ------------------------------------------------


async def test_resource_uris_can_never_leave_their_path_segment(h: Harness) -> None:
    """Resource reads skip the tool schema (no id pattern): the request builder alone holds the line there."""
    async with Client(build_mcp_server(h.service)) as client:
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert templates, "the built-in capability declares the hms://recordings/{recording_id} template"
        for template in templates:
            for trick in TRICKS[:-1]:
                for value in (trick, quote(trick, safe="")):
                    uri = re.sub(r"\{[^}]+\}", lambda _, v=value: v, template)
                    with pytest.raises(MCPError):
                        await client.read_resource(uri)
                    sent = await h.requests()
                    if trick in PATH_ESCAPES:
                        assert sent == [], (uri, sent)
                    for entry in sent:  # anything else went out percent-encoded, as one segment, and was not found
                        segment = entry["path"].removeprefix("/v2/recordings/")
                        assert "/" not in segment and entry["status"] == 404, (uri, entry)
                    await h.admin.post("/_emulator/reset")
