"""Non-finite numbers, lone surrogates, deep nesting and huge values, through every face.

Each face must answer with a clear refusal (HTTP 4xx, JSON-RPC ``-32700``/``-32602``, a tool error of kind
``invalid_arguments``, CLI exit 2 or 3), never a 5xx or ``internal_error``, and nothing may reach the upstream. The
faces: JSON-RPC over Streamable HTTP (raw bodies, as a hostile client writes them), JSON-RPC over stdio (a real
``serve --transport stdio`` process), REST bodies and query-string values, ``call --args-json`` and ``--arg``.
Property-based tests then throw generated messages of the same kinds at the HTTP faces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hms_recordings.cli import main
from hms_recordings.server.settings import ServeSettings
from tests.hosting import face_client, mcp_app, rest_app
from tests.rig import MEETING, ROOM, Rig, make_rig

from .test_inbound_http import HEADERS, INITIALIZE
from .test_session_fairness import _starlette

pytestmark = pytest.mark.anyio

PROTOCOL = INITIALIZE["params"]["protocolVersion"]  # type: ignore[index]
DEEP = "[" * 3000 + "]" * 3000
UNDER_UNIQUE = "[" * 200 + "]" * 200  # arrays under `output_modes`, which says uniqueItems
#: Hostile values as a client writes them on the wire (raw JSON text), each placed inside a start's arguments.
HOSTILE: dict[str, str] = {
    "NaN": '"transcription": {"summary": {"temperature": NaN}}',
    "Infinity": '"transcription": {"summary": {"temperature": -Infinity}}',
    "1e999": '"transcription": {"summary": {"temperature": 1e999}}',
    "lone surrogate in a value": '"meeting_url": "https://x.test/\\ud800"',
    "lone surrogate in a key": '"\\udfff": 1',
    "3000-deep nesting": f'"transcription": {{"output_modes": [{DEEP}]}}',
    "deep arrays under uniqueItems": f'"transcription": {{"output_modes": [{UNDER_UNIQUE}, {UNDER_UNIQUE}]}}',
    "a 5000-digit integer": '"resolution": {"width": ' + "9" * 5000 + "}",
    "a 600 KB string": '"meeting_url": "https://x.test/' + "a" * 600_000 + '"',
}


def start_arguments(hostile: str, *, with_room: bool = True) -> str:
    room = f'"room_id": "{ROOM}", ' if with_room else ""
    meeting = "" if '"meeting_url"' in hostile else f'"meeting_url": "{MEETING}", '
    return "{" + room + meeting + hostile + "}"


def tools_call(arguments: str, rid: int = 2) -> bytes:
    params = f'{{"name":"hms-start-recording","arguments":{arguments}}}'
    return f'{{"jsonrpc":"2.0","id":{rid},"method":"tools/call","params":{params}}}'.encode()


def refused_rpc(status: int, body: dict[str, Any]) -> bool:
    """A clear refusal: a 4xx JSON-RPC error that is not internal, or a tool error of kind invalid_arguments."""
    if 400 <= status < 500:
        return body.get("error", {}).get("code") in (-32700, -32600, -32602)
    if status != 200:
        return False
    if "error" in body:
        return bool(body["error"]["code"] in (-32700, -32600, -32602))
    result = body["result"]
    return result.get("isError") is True and result["structuredContent"]["error"]["kind"] == "invalid_arguments"


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as built:
        yield built


@pytest.fixture
async def mcp(rig: Rig) -> AsyncIterator[tuple[httpx2.AsyncClient, dict[str, str]]]:
    app = mcp_app(rig, ServeSettings(json_response=True))
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(_starlette(app).router.lifespan_context(_starlette(app)))
        client = await stack.enter_async_context(face_client(app))
        opened = await client.post("/mcp", json=INITIALIZE, headers=HEADERS)
        session = {**HEADERS, "mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": PROTOCOL}
        await client.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        yield client, session


@pytest.fixture
async def rest(rig: Rig) -> AsyncIterator[httpx2.AsyncClient]:
    async with face_client(rest_app(rig)) as client:
        yield client


# -- JSON-RPC over Streamable HTTP --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_json_rpc_over_http_refuses_each_hostile_value_clearly(
    rig: Rig, mcp: tuple[httpx2.AsyncClient, dict[str, str]], case: str
) -> None:
    client, session = mcp
    answer = await client.post("/mcp", content=tools_call(start_arguments(HOSTILE[case])), headers=session)
    assert refused_rpc(answer.status_code, answer.json()), (answer.status_code, answer.text[:300])
    assert await rig.upstream_requests() == []
    listed = await client.post("/mcp", json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers=session)
    assert listed.status_code == 200 and listed.json()["result"]["tools"]  # the session still serves


# -- JSON-RPC over stdio ------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_json_rpc_over_stdio_answers_each_hostile_line_with_its_id_and_keeps_serving() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hms_recordings.cli", "serve", "--transport", "stdio", "--emulator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    watchdog = threading.Timer(60, process.kill)  # a line left unanswered would block readline for ever
    watchdog.start()

    def send(line: bytes) -> None:
        assert process.stdin is not None
        process.stdin.write(line + b"\n")
        process.stdin.flush()

    def answer() -> dict[str, Any]:
        assert process.stdout is not None
        line = process.stdout.readline()  # bounded by the watchdog
        assert line, "the server closed stdout"
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    try:
        send(json.dumps(INITIALIZE).encode())
        assert answer()["id"] == 1
        send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        for number, case in enumerate(sorted(HOSTILE), start=10):
            send(tools_call(start_arguments(HOSTILE[case]), rid=number))
            reply = answer()
            assert reply["id"] == number, (case, reply)  # the client's pending call ends
            assert refused_rpc(200, reply), (case, reply)
        send(b'{"jsonrpc":"2.0","id":99,"method":"tools/list"}')
        assert answer()["result"]["tools"]
    finally:
        watchdog.cancel()
        process.stdin.close()
        try:
            process.wait(timeout=20)
        finally:
            process.kill()
        process.stdout.close()
        assert process.stderr is not None
        errors = process.stderr.read().decode()
        process.stderr.close()
    assert "Traceback" not in errors


# -- REST ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_rest_bodies_refuse_each_hostile_value_with_a_400_problem(
    rig: Rig, rest: httpx2.AsyncClient, case: str
) -> None:
    body = start_arguments(HOSTILE[case], with_room=False).encode()
    answer = await rest.post(
        f"/rooms/{ROOM}/recording/start", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["kind"] == "invalid_arguments"
    assert await rig.upstream_requests() == []


@pytest.mark.parametrize(
    "value",
    [
        '{"summary": {"temperature": NaN}}',
        '{"summary": {"temperature": Infinity}}',
        '{"output_modes": ' + DEEP + "}",
        '{"a":' * 3000 + "1" + "}" * 3000,
        '{"output_modes": [' + UNDER_UNIQUE + "]}",
        '{"enabled": ' + "9" * 5000 + "}",
    ],
    ids=["NaN", "Infinity", "deep arrays", "deep objects", "deep under uniqueItems", "5000 digits"],
)
async def test_rest_query_string_objects_refuse_hostile_values_with_a_400_problem(
    rig: Rig, rest: httpx2.AsyncClient, value: str
) -> None:
    answer = await rest.post(f"/rooms/{ROOM}/recording/start", params={"meeting_url": MEETING, "transcription": value})
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["kind"] == "invalid_arguments"
    assert await rig.upstream_requests() == []


# -- the CLI ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_call_args_json_refuses_each_hostile_value_with_a_usage_exit(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["call", "hms-start-recording", "--emulator", "--args-json", start_arguments(HOSTILE[case])])
    err = capsys.readouterr().err
    assert code in (2, 3), err
    assert "invalid_arguments" in err or "--args-json" in err
    assert "Traceback" not in err and "internal" not in err


@pytest.mark.parametrize(
    "value",
    ['{"summary": {"temperature": NaN}}', '{"output_modes": ' + DEEP + "}", '{"a":' * 3000 + "1" + "}" * 3000],
    ids=["NaN", "deep arrays", "deep objects"],
)
def test_call_arg_text_refuses_hostile_objects_with_a_usage_exit(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["call", "hms-start-recording", "--emulator", "--arg", f"room_id={ROOM}", "--arg", f"meeting_url={MEETING}"]
    code = main([*argv, "--arg", f"transcription={value}"])
    err = capsys.readouterr().err
    assert code == 2 and "invalid_arguments" in err, err


@pytest.mark.e2e
@pytest.mark.parametrize("argv", [["tools"], ["tools", "--json"], ["call", "--emulator", "hms-list-recordings"]])
def test_output_into_a_closed_pipe_ends_quietly_with_the_sigpipe_code(argv: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`head`) is gone before the first byte
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hms_recordings.cli", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141
    # Nothing about the pipe: no traceback, no BrokenPipeError (`call --emulator` first says what its emulator is).
    said = done.stderr.decode()
    assert "Traceback" not in said and "BrokenPipe" not in said and "Exception" not in said, said
    assert said == "" or said.startswith("--emulator: a fresh in-process 100ms emulator"), said


# -- property-based: generated hostile messages ----------------------------------------------------------------

_RAW_LEAVES = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", '"\\ud800"', '"\\udfff x"', '"ok"', "1", "true", "null"]
)
_FIELDS = st.sampled_from(
    ["meeting_url", "resolution", "transcription", "if_active", "room_id", "x", "\\ud834", "output_modes"]
)


@st.composite
def raw_json(draw: st.DrawFn, depth: int = 0) -> str:
    """JSON text as a hostile client writes it: non-finite numbers, surrogate escapes, deep nesting, huge values."""
    kind = draw(st.integers(0, 6 if depth < 4 else 2))
    if kind == 0:
        return draw(_RAW_LEAVES)
    if kind == 1:
        return "9" * draw(st.integers(1, 6000))  # past 4,300 digits Python will not convert it
    if kind == 2:
        n = draw(st.integers(1, 4000))
        return "[" * n + "]" * n
    if kind == 3:
        return '"' + "x" * draw(st.integers(0, 200_000)) + '"'
    if kind == 4:
        items = draw(st.lists(raw_json(depth + 1), max_size=3))
        return "[" + ",".join(items) + "]"
    pairs = draw(st.lists(st.tuples(_FIELDS, raw_json(depth + 1)), max_size=3))
    return "{" + ",".join(f'"{key}":{value}' for key, value in pairs) + "}"


@st.composite
def hostile_arguments(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(_FIELDS, raw_json()), min_size=1, max_size=3))
    return "{" + ",".join(f'"{key}":{value}' for key, value in pairs) + "}"


PROPERTY = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@PROPERTY
@given(arguments=hostile_arguments())
async def test_any_hostile_json_rpc_call_over_http_gets_a_clear_answer_never_a_5xx(
    rig: Rig, mcp: tuple[httpx2.AsyncClient, dict[str, str]], arguments: str
) -> None:
    client, session = mcp
    answer = await client.post("/mcp", content=tools_call(arguments), headers=session)
    assert answer.status_code < 500, answer.text[:300]
    body = answer.json()
    assert body.get("error", {}).get("code") != -32603, body
    if "result" in body and body["result"].get("isError"):
        assert body["result"]["structuredContent"]["error"]["kind"] != "internal_error", body


@PROPERTY
@given(arguments=hostile_arguments())
async def test_any_hostile_rest_body_gets_a_4xx_problem_or_a_result_never_a_5xx(
    rig: Rig, rest: httpx2.AsyncClient, arguments: str
) -> None:
    answer = await rest.post(
        f"/rooms/{ROOM}/recording/start", content=arguments.encode(), headers={"content-type": "application/json"}
    )
    assert answer.status_code < 500, answer.text[:300]
    if answer.status_code >= 400:
        assert answer.json()["kind"] != "internal_error"
