"""REST ``forward``: requests under a forwarding resource reach the consumed API as they came, with only the trusted
headers, the file's own fixed parameters and credential; hostile paths and bodies are refused before anything is
sent (faces/rest_forward.py)."""

from __future__ import annotations

import base64

import httpx2
import pytest
from starlette.applications import Starlette

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.errors import ConfigError
from hms_recordings.faces.catalogue import Catalogue
from hms_recordings.faces.rest import build_rest_app
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.service import CapabilityService, CombinedService
from hms_recordings.runtime.upstreams import RelayRequest
from tests.hosting import face_client
from tests.rig import open_service

pytestmark = pytest.mark.anyio

# Shaped after naftiko/framework's register.capability.yml (src/test/resources, v1.0.0-alpha2).
FORWARDING = """\
naftiko: "1.0.0-alpha2"
info: {label: register, description: A pass-through proxy.}
capability:
  exposes:
  - type: rest
    namespace: documentation
    port: 8081
    resources:
    - path: "/notion/{{path}}"
      forward: {targetNamespace: notion, trustedHeaders: [Notion-Version]}
  consumes:
  - type: http
    namespace: notion
    baseUri: "https://notion.test/rest/1.0.0"
    inputParameters:
    - {name: X-API-Version, in: header, value: "2026-03-03"}
    authentication: {type: basic, username: scott, password: tiger}
"""


def _forwarding(seen: list[httpx2.Request], max_body_bytes: int = 1_000) -> tuple[CapabilityService, Starlette]:
    def upstream(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(404, json={"object": "error"}, headers={"Set-Cookie": "s=1", "X-Upstream": "yes"})

    capability = load_capability(parse_yaml(FORWARDING, "register.yaml"))
    service = open_service(capability, transport=httpx2.MockTransport(upstream), env={}, upstream=None)
    return service, build_rest_app(service, max_body_bytes=max_body_bytes)


async def test_a_forwarded_request_keeps_method_path_query_body_and_only_the_trusted_headers() -> None:
    seen: list[httpx2.Request] = []
    service, app = _forwarding(seen)
    async with service, face_client(app) as rest:
        answer = await rest.post(
            "/notion/users/me?filter=a+b",
            content=b'{"q": 1}',
            headers={"Content-Type": "application/json", "Notion-Version": "2022-06-28", "X-Internal": "no"},
        )
    assert (answer.status_code, answer.json()) == (404, {"object": "error"})  # the upstream's answer, as it came
    assert "set-cookie" not in answer.headers and "x-upstream" not in answer.headers
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", "https://notion.test/rest/1.0.0/users/me?filter=a+b")
    assert request.content == b'{"q": 1}' and request.headers["content-type"] == "application/json"
    assert request.headers["notion-version"] == "2022-06-28" and "x-internal" not in request.headers
    assert request.headers["x-api-version"] == "2026-03-03"  # the consumed API's own fixed header
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"scott:tiger").decode()


async def test_a_path_that_climbs_or_hides_a_slash_and_an_oversized_body_are_refused_before_anything_is_sent() -> None:
    seen: list[httpx2.Request] = []
    service, app = _forwarding(seen, max_body_bytes=10)
    async with service, face_client(app) as rest:
        climbing = await rest.get("/notion/users/%2E%2E/admin")
        hidden = await rest.get("/notion/a%2Fb")
        twice = await rest.get("/notion/a%252Fb")
        control = await rest.get("/notion/users?x=%0Aa")
        large = await rest.post("/notion/users", content=b"x" * 11)
    assert [r.status_code for r in (climbing, hidden, twice, control, large)] == [400, 400, 400, 400, 413]
    assert climbing.json()["kind"] == "invalid_arguments" and large.json()["kind"] == "too_large"
    assert seen == []


async def test_a_forward_whose_upstream_is_down_answers_502_in_the_shared_words_and_a_fixed_path_relays_as_is() -> None:
    text = FORWARDING.replace('"/notion/{{path}}"', '"/status"')

    def down(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    capability = load_capability(parse_yaml(text, "register.yaml"))
    service = open_service(capability, transport=httpx2.MockTransport(down), env={}, upstream=None)
    async with service, face_client(build_rest_app(service)) as rest:
        answer = await rest.get("/status")
    assert answer.status_code == 502 and answer.json()["kind"] == "upstream_unavailable"


async def test_several_files_on_one_rest_face_relay_each_forward_through_its_own_file() -> None:
    seen: list[str] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, content=b"ok", headers={"Content-Type": "text/plain"})

    first = load_capability(parse_yaml(FORWARDING, "one.yaml"))
    second = load_capability(
        parse_yaml(FORWARDING.replace("/notion/", "/other/").replace("notion.test", "other.test"), "two.yaml")
    )
    transport = httpx2.MockTransport(upstream)
    async with (
        open_service(first, transport=transport, env={}, upstream=None) as one,
        open_service(second, transport=transport, env={}, upstream=None) as two,
    ):
        combined = CombinedService([("one.yaml", one), ("two.yaml", two)])
        assert len(combined.forwards()) == 2
        async with face_client(build_rest_app(combined)) as rest:
            answer = await rest.get("/other/x")
    assert (answer.status_code, answer.text, answer.headers["content-type"]) == (200, "ok", "text/plain")
    assert seen == ["https://other.test/rest/1.0.0/x"]


async def test_a_catalogue_describes_a_capability_and_calls_nothing() -> None:
    capability = load_capability(parse_yaml(FORWARDING, "register.yaml"))
    catalogue = Catalogue(compile_inventory(capability))
    assert [f.resource.path for f in catalogue.forwards()] == ["/notion/{{path}}"]
    assert (catalogue.tools(), catalogue.files(), catalogue.prompts(), catalogue.dynamic_resources()) == (
        [],
        [],
        [],
        [],
    )
    assert catalogue.tool("x") is None and catalogue.info.name == "hms-recordings"
    assert catalogue.redactor("plain") == "plain"
    for refused in (
        catalogue.call("x", {}),
        catalogue.read("hms://x"),
        catalogue.relay(catalogue.forwards()[0], RelayRequest("GET", "")),
    ):
        with pytest.raises(ConfigError, match="calls nothing"):
            await refused
    with pytest.raises(ConfigError, match="calls nothing"):
        catalogue.render_prompt("p", None)
