"""``baseUri: ''`` (generated provider files leave it for the deployer): the tools are served, a call says how to give
the address and sends nothing, and ``--upstream`` gives it (capability/read_consumes.py, runtime/upstreams.py)."""

from __future__ import annotations

import httpx2
import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.service import build_service
from hms_recordings.runtime.upstreams import UpstreamSettings

pytestmark = pytest.mark.anyio

EMPTY = """\
naftiko: 1.0.0-alpha2
info: {label: E, description: e}
capability:
  consumes:
  - type: http
    namespace: gh
    baseUri: ''
    resources: [{name: r, path: /rate_limit, operations: [{name: get, method: GET}]}]
  exposes:
  - {type: mcp, namespace: m, port: 9090, tools: [{name: rate, description: R., call: gh.get}]}
"""


async def test_a_call_on_an_api_without_an_address_says_how_to_give_it_and_sends_nothing() -> None:
    inventory = compile_inventory(load_capability(parse_yaml(EMPTY, "empty.yaml")))
    async with build_service(inventory, UpstreamSettings(env={})) as service:
        outcome = await service.call("rate", {})
    assert outcome.error is not None and outcome.error.kind == "config_error"
    assert "`baseUri: ''`" in outcome.error.message and "--upstream gh=https://host/prefix" in outcome.error.message


async def test_the_upstream_flag_gives_the_address() -> None:
    seen: list[str] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, json={"ok": True})

    inventory = compile_inventory(load_capability(parse_yaml(EMPTY, "empty.yaml")))
    settings = UpstreamSettings(
        upstreams={"gh": "https://api.github.test"}, transports={"gh": httpx2.MockTransport(record)}, env={}
    )
    async with build_service(inventory, settings) as service:
        assert (await service.call("rate", {})).ok
    assert seen == ["https://api.github.test/rate_limit"]
