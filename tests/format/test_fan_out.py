"""The x-forEach extension: a call step once per element of an earlier step's array, filtered by ``where``."""

from __future__ import annotations

import httpx2
import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.errors import CapabilityError
from hms_recordings.runtime.service import CapabilityService
from tests.rig import open_service

pytestmark = pytest.mark.anyio

TEXT = """
naftiko: 1.0.0-alpha2
info: {{ label: Fan-out, description: x-forEach }}
binds: [{{ namespace: env, keys: {{ TOKEN: TOKEN }} }}]
capability:
  consumes:
  - type: http
    namespace: shop
    baseUri: https://shop.example.test
    authentication: {{ type: bearer, token: '{{{{env.TOKEN}}}}' }}
    resources:
    - name: order
      path: /orders/{{{{order_id}}}}
      operations: [{{ name: getorder, method: GET, inputParameters: [{{ name: order_id, in: path }}] }}]
    - name: item
      path: /items/{{{{item_id}}}}
      operations: [{{ name: getitem, method: GET, inputParameters: [{{ name: item_id, in: path }}] }}]
  exposes:
  - type: mcp
    namespace: shop-mcp
    tools:
    - name: order-items
      description: Every shipped item of an order.
      inputParameters: [{{ name: order_id, type: string, description: Order id. }}]
      steps:
      - {{ type: call, name: order, call: shop.getorder, with: {{ order_id: shop-mcp.order_id }} }}
      - type: call
        name: items
        call: shop.getitem
        x-forEach: {for_each}
        with: {{ item_id: '{{{{item.id}}}}' }}
      mappings:
      - {{ targetName: items, value: $.items }}
"""


def handler(request: httpx2.Request) -> httpx2.Response:
    if request.url.path == "/orders/o1":
        lines = [{"id": "a", "state": "shipped"}, {"id": "b", "state": "held"}, {"id": "c", "state": "shipped"}]
        return httpx2.Response(200, json={"lines": lines})
    return httpx2.Response(200, json={"item": request.url.path.rsplit("/", 1)[1]})


def engine(for_each: str, seen: list[str]) -> CapabilityService:
    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.path)
        return handler(request)

    capability = load_capability(parse_yaml(TEXT.format(for_each=for_each), "fan-out.yaml"))
    return open_service(
        capability, env={"TOKEN": "t-123456"}, transport=httpx2.MockTransport(record), upstream=None, strict=True
    )


async def test_a_call_runs_once_per_element_that_matches_where() -> None:
    seen: list[str] = []
    async with engine("{ in: order.lines, where: { state: shipped } }", seen) as e:
        outcome = await e.call("order-items", {"order_id": "o1"})
    assert outcome.ok, outcome.error
    assert outcome.data == {"items": [{"item": "a"}, {"item": "c"}]}
    assert seen == ["/orders/o1", "/items/a", "/items/c"]


async def test_without_where_every_element_is_called() -> None:
    seen: list[str] = []
    async with engine("order.lines", seen) as e:
        outcome = await e.call("order-items", {"order_id": "o1"})
    assert [item["item"] for item in outcome.data["items"]] == ["a", "b", "c"]


def test_a_fan_out_over_no_earlier_step_is_a_load_error() -> None:
    with pytest.raises(CapabilityError, match=r"x-forEach: nothing\.lines"):
        engine("nothing.lines", [])
