"""Request bodies as their type says (runtime/bodies.py), called through the one invocation path against a fake
upstream at the transport: the bytes and the content type the upstream receives."""

from __future__ import annotations

import json

import httpx2
import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.templates import Scope
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.errors import ToolInputError
from hms_recordings.runtime.bodies import BodyPlan, EncodedBody
from tests.rig import open_service

pytestmark = pytest.mark.anyio

BODIES = """\
naftiko: 1.0.0-alpha2
info: {label: B, description: bodies}
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.test
    resources:
    - name: things
      path: /things
      operations:
      - {name: text, method: POST, body: {type: xml, data: '<a>{{name}}</a>'}}
      - name: parts
        method: POST
        body:
          type: multipartForm
          data:
          - {name: title, value: '{{title}}'}
          - {name: file, value: '{{content}}', filename: 'a"b.txt', contentType: text/plain}
      - {name: raw, method: POST, body: '{"name": "{{name}}", "n": 1}'}
      - {name: json, method: POST, body: {type: json, data: {name: '{{name}}', tags: '{{tags}}'}}}
  exposes:
  - type: mcp
    namespace: m
    port: 9090
    tools:
    - {name: text, description: T., call: api.text}
    - {name: parts, description: P., call: api.parts}
    - {name: raw, description: R., call: api.raw}
    - {name: json, description: J., call: api.json}
"""


async def _sent(tool: str, args: dict[str, object]) -> httpx2.Request:
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={})

    capability = load_capability(parse_yaml(BODIES, "bodies.yaml"))
    async with open_service(capability, transport=httpx2.MockTransport(record), env={}, upstream=None) as service:
        outcome = await service.call(tool, args)
        assert outcome.ok, outcome.error
    [request] = seen
    return request


async def test_an_xml_body_is_sent_as_xml_text_with_its_variable_filled() -> None:
    request = await _sent("text", {"name": "x & y"})
    assert (request.headers["content-type"], request.content) == ("application/xml", b"<a>x & y</a>")


async def test_a_multipart_body_sends_each_part_with_its_name_file_name_and_type() -> None:
    request = await _sent("parts", {"title": "T", "content": "hello"})
    kind, _, boundary = request.headers["content-type"].partition("; boundary=")
    assert kind == "multipart/form-data" and boundary
    parts = request.content.decode().split(f"--{boundary}")
    assert parts[1] == '\r\nContent-Disposition: form-data; name="title"\r\n\r\nT\r\n'
    assert parts[2] == (
        '\r\nContent-Disposition: form-data; name="file"; filename="a\\"b.txt"\r\nContent-Type: text/plain\r\n\r\n'
        "hello\r\n"
    )
    assert parts[3] == "--\r\n"


async def test_a_raw_string_body_is_sent_as_it_is_written_as_json() -> None:
    request = await _sent("raw", {"name": "n1"})
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"name": "n1", "n": 1}


async def test_a_whole_value_variable_keeps_its_json_type() -> None:
    request = await _sent("json", {"name": "n1", "tags": ["a", "b"]})
    assert json.loads(request.content) == {"name": "n1", "tags": ["a", "b"]}


def _render(body: object, **args: object) -> EncodedBody:
    return BodyPlan.compile(body).render(Scope(args=args))


def test_a_text_body_that_lacks_a_variable_names_it_instead_of_sending_a_placeholder() -> None:
    with pytest.raises(ToolInputError) as raised:
        _render({"type": "text", "data": "hello {{who}}"})
    assert raised.value.message == "`who` is required (it fills the request body)" and raised.value.fields == ["who"]
    with pytest.raises(ToolInputError):
        _render("{{a}} and {{b}}", a=1)  # a raw body too


def test_form_bodies_come_as_fields_or_pre_encoded_and_drop_a_field_left_out() -> None:
    fields = _render({"type": "form", "data": {"a": "{{a}}", "b": "{{b}}", "c": "x"}}, a="1 2")
    assert (fields.content_type, fields.content) == ("application/x-www-form-urlencoded", b"a=1+2&c=x")
    encoded = _render({"type": "urlencoded", "data": "grant_type=client_credentials&scope={{scope}}"}, scope="read")
    assert encoded.content == b"grant_type=client_credentials&scope=read"
    assert _render({"type": "formUrlEncoded", "data": ["not", "fields"]}).content == b""


def test_a_json_body_written_as_json_text_is_sent_as_that_json_and_an_untyped_mapping_as_json() -> None:
    assert _render({"type": "json", "data": '{"n": {{n}}}'}, n=3).json == {"n": 3}
    assert _render({"type": "json", "data": "not {{x}} json"}, x=1).json == "not 1 json"
    assert _render({"title": "{{t}}", "fixed": 1, "list": ["{{t}}", "{{gone}}"]}, t="T").json == {
        "title": "T",
        "fixed": 1,
        "list": ["T"],
    }
    assert _render({"type": "json", "data": "{{gone}}"}).json is None


def test_a_multipart_part_left_out_is_not_sent_and_a_part_that_is_no_mapping_is_skipped() -> None:
    body = _render({"type": "multipart", "data": [{"name": "a", "value": "{{a}}"}, "junk", {"value": "v"}]})
    boundary = body.content_type.partition("; boundary=")[2]
    assert body.content == (
        f'--{boundary}\r\nContent-Disposition: form-data; name=""\r\n\r\nv\r\n--{boundary}--\r\n'.encode()
    )
    assert BodyPlan.compile({"type": "multipartForm", "data": "not a list"}).tree == []
