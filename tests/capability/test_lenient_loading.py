"""The eight lenient-reading rules of docs/capability-format.md, one test (or more) each, on small files."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.errors import BindingError, CapabilityError
from hms_recordings.runtime.service import CapabilityService
from tests.rig import open_service

pytestmark = pytest.mark.anyio

BASE = """
naftiko: 1.0.0-alpha2
info: {{ {info} }}
binds:
- namespace: env
  keys: {{ API_TOKEN: API_TOKEN }}
capability:
  consumes:
  - type: http
    namespace: things
    baseUri: https://api.example.test/v1
    authentication: {auth}
    resources:
    - name: thing
      path: {path}
      operations:
      - name: dothing
        method: {method}
        inputParameters:
{params}
{body}
  exposes:
  - type: mcp
    namespace: things-mcp
    description: Things, exposed.
    tools:
    - name: do-thing
      description: Do the thing.
      label: Do thing
      hints: {{ readOnly: false, idempotent: true }}
      call: things.dothing
      with: {with_}
      outputParameters: [{outputs}]
"""


def capability_text(
    *,
    info: str = "label: Things, description: All the things",
    auth: str = "{ type: bearer, value: '{{env.API_TOKEN}}', placement: header }",
    path: str = "/things/{thing_id}",
    method: str = "POST",
    params: str = "        - { name: thing_id, in: path, type: string, required: true }",
    body: str = "",
    with_: str = "{ thing_id: tools.thing_id }",
    outputs: str = "{ type: object, mapping: $. }",
) -> str:
    return BASE.format(
        info=info, auth=auth, path=path, method=method, params=params, body=body, with_=with_, outputs=outputs
    )


class Recorder:
    """An upstream fake at the transport level: records each request and answers with a fixed JSON body."""

    def __init__(self, answer: Any = None, status: int = 200) -> None:
        self.requests: list[httpx2.Request] = []
        self.answer = {"ok": True} if answer is None else answer
        self.status = status

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return httpx2.Response(self.status, json=self.answer)


def engine_for(text: str, recorder: Recorder, env: dict[str, str] | None = None) -> CapabilityService:
    capability = load_capability(parse_yaml(text, "test.yaml"))
    return open_service(
        capability,
        env={"API_TOKEN": "tok-123456"} if env is None else env,
        transport=httpx2.MockTransport(recorder),
        upstream=None,
        strict=True,
    )


async def test_rule1_bearer_value_is_read_as_token_and_sent() -> None:
    recorder = Recorder()
    async with engine_for(capability_text(), recorder) as engine:
        outcome = await engine.call("do-thing", {"thing_id": "t1"})
    assert outcome.ok
    assert recorder.requests[0].headers["authorization"] == "Bearer tok-123456"


async def test_rule1_consumed_parameter_type_and_required_shape_the_schema() -> None:
    params = (
        "        - { name: thing_id, in: path, type: string, required: true }\n"
        "        - { name: count, in: query, type: integer, required: false }"
    )
    async with engine_for(capability_text(params=params, with_="{ thing_id: tools.thing_id }"), Recorder()) as engine:
        schema = engine.inventory.tools["do-thing"].input_schema
    assert schema["properties"]["count"]["type"] == "integer"
    assert schema["required"] == ["thing_id"]


async def test_rule1_info_title_stands_in_for_label() -> None:
    async with engine_for(capability_text(info="title: Titled, description: d"), Recorder()) as engine:
        assert engine.inventory.capability.label == "Titled"


async def test_rule2_namespaced_and_plain_binding_templates_both_resolve() -> None:
    for token in ("'{{env.API_TOKEN}}'", "'{{API_TOKEN}}'"):
        recorder = Recorder()
        text = capability_text(auth=f"{{ type: bearer, token: {token} }}")
        async with engine_for(text, recorder) as engine:
            await engine.call("do-thing", {"thing_id": "t1"})
        assert recorder.requests[0].headers["authorization"] == "Bearer tok-123456"


def test_rule2_a_bound_variable_missing_from_the_environment_stops_start_up_with_its_name() -> None:
    with pytest.raises(BindingError, match="API_TOKEN"):
        engine_for(capability_text(), Recorder(), env={})


@pytest.mark.parametrize("path", ["/things/{thing_id}", "/things/{{thing_id}}"])
async def test_rule3_single_and_double_brace_placeholders_are_filled_and_encoded(path: str) -> None:
    recorder = Recorder()
    async with engine_for(capability_text(path=path), recorder) as engine:
        outcome = await engine.call("do-thing", {"thing_id": "a b"})
    assert outcome.ok
    assert recorder.requests[0].url.raw_path == b"/v1/things/a%20b"


async def test_rule3_a_path_value_with_a_slash_is_rejected_before_sending() -> None:
    recorder = Recorder()
    async with engine_for(capability_text(), recorder) as engine:
        outcome = await engine.call("do-thing", {"thing_id": "../admin"})
    assert outcome.error is not None and outcome.error.kind == "invalid_arguments"
    assert "thing_id" in outcome.error.message
    assert recorder.requests == []


@pytest.mark.parametrize("prefix", ["tools", "rest", "mcp", "args", "things-mcp"])
async def test_rule4_with_references_accept_every_known_prefix(prefix: str) -> None:
    recorder = Recorder()
    async with engine_for(capability_text(with_=f"{{ thing_id: {prefix}.thing_id }}"), recorder) as engine:
        outcome = await engine.call("do-thing", {"thing_id": "t9"})
    assert outcome.ok
    assert recorder.requests[0].url.path == "/v1/things/t9"


async def test_rule4_an_unresolved_reference_never_overwrites_the_argument() -> None:
    recorder = Recorder()
    text = capability_text(with_="{ thing_id: '{{nothing.here}}' }")
    async with engine_for(text, recorder) as engine:
        await engine.call("do-thing", {"thing_id": "kept"})
    assert recorder.requests[0].url.path == "/v1/things/kept"


async def test_rule5_a_body_parameter_named_body_is_the_whole_json_body() -> None:
    recorder = Recorder()
    params = (
        "        - { name: thing_id, in: path, type: string, required: true }\n"
        "        - { name: body, in: body, type: object, required: true }"
    )
    text = capability_text(params=params, with_="{ thing_id: tools.thing_id, body: tools.body }")
    async with engine_for(text, recorder) as engine:
        await engine.call("do-thing", {"thing_id": "t1", "body": {"a": 1}})
    assert json.loads(recorder.requests[0].content) == {"a": 1}


async def test_rule5_several_body_parameters_are_collected_into_one_object() -> None:
    recorder = Recorder()
    params = (
        "        - { name: thing_id, in: path }\n"
        "        - { name: colour, in: body }\n"
        "        - { name: size, in: body, type: integer }"
    )
    async with engine_for(capability_text(params=params), recorder) as engine:
        await engine.call("do-thing", {"thing_id": "t1", "colour": "red", "size": 3})
    assert json.loads(recorder.requests[0].content) == {"colour": "red", "size": 3}


async def test_rule5_an_operation_body_template_wins_over_body_parameters() -> None:
    recorder = Recorder()
    params = "        - { name: thing_id, in: path }\n        - { name: colour, in: body }"
    body = "        body: { type: json, data: { paint: '{{colour}}', fixed: 1 } }"
    async with engine_for(capability_text(params=params, body=body), recorder) as engine:
        await engine.call("do-thing", {"thing_id": "t1", "colour": "red"})
    assert json.loads(recorder.requests[0].content) == {"paint": "red", "fixed": 1}


async def test_rule6_without_input_parameters_the_schema_is_derived_and_unknown_arguments_rejected() -> None:
    recorder = Recorder()
    async with engine_for(capability_text(), recorder) as engine:
        schema = engine.inventory.tools["do-thing"].input_schema
        outcome = await engine.call("do-thing", {"thing_id": "t1", "surprise": True})
    assert schema["properties"]["thing_id"]["type"] == "string"
    assert schema["additionalProperties"] is False
    assert outcome.error is not None and "surprise" in outcome.error.message
    assert recorder.requests == []


@pytest.mark.parametrize("mapping", ["$", "$."])
async def test_rule7_dollar_and_dollar_dot_mean_the_whole_response(mapping: str) -> None:
    answer = {"id": "x", "nested": {"n": 1}}
    async with engine_for(capability_text(outputs=f"{{ type: object, mapping: '{mapping}' }}"), Recorder(answer)) as e:
        outcome = await e.call("do-thing", {"thing_id": "t1"})
    assert outcome.data == answer


async def test_rule7_properties_map_by_jsonpath_and_a_missing_path_is_null() -> None:
    outputs = (
        "{ type: object, properties: { ident: { type: string, mapping: $.id },"
        " gone: { type: string, mapping: $.nope } } }"
    )
    async with engine_for(capability_text(outputs=outputs), Recorder({"id": "x"})) as engine:
        outcome = await engine.call("do-thing", {"thing_id": "t1"})
    assert outcome.data == {"ident": "x", "gone": None}


async def test_rule8_hints_label_and_description_reach_the_mcp_surface() -> None:
    from hms_recordings.faces.mcp import build_mcp_server, describe_tools

    async with engine_for(capability_text(), Recorder()) as engine:
        listed = describe_tools([engine.inventory.tools["do-thing"]])[0]
        server = build_mcp_server(engine)
    assert listed["title"] == "Do thing"
    # Not read-only is the specification's default, so only the idempotent hint is written.
    assert listed["annotations"] == {"idempotentHint": True}
    assert server.instructions == "Things, exposed."
    assert server.name == "things-mcp"


def test_a_call_to_an_unknown_operation_is_a_load_error_with_its_line() -> None:
    text = capability_text().replace("call: things.dothing", "call: things.nothing")
    with pytest.raises(CapabilityError) as caught:
        load_capability(parse_yaml(text, "test.yaml"))
    finding = caught.value.findings[0]
    assert "things.nothing" in finding.message
    assert finding.line == text.splitlines().index("      call: things.nothing") + 1


def test_two_tools_with_one_name_are_refused_rather_than_renamed() -> None:
    text = capability_text()
    tool = text[text.index("    - name: do-thing") :]
    with pytest.raises(CapabilityError, match="declared twice"):
        load_capability(parse_yaml(text + tool, "test.yaml"))
