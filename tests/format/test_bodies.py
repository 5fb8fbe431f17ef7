"""Request bodies as their type says (runtime/bodies.py), called through the one invocation path against a fake
upstream at the transport: the bytes and the content type the upstream receives."""

from __future__ import annotations

import json

import httpx2
import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.yamlsource import parse_yaml
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
