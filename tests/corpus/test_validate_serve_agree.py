"""``validate`` and ``serve`` agree on every corpus file (issue 17).

A file ``validate`` calls servable (no error that stops serving) is served: the inventory compiles, the service
builds, and the MCP and REST faces build as ``serve`` builds them (Starlette apps in process, no sockets). Whatever a
face leaves out is listed: every declared MCP tool is served or named in the inventory's problems, and every REST
entry is routed or named in the REST face's problems. A file ``validate`` refuses is refused by the load too.
"""

from __future__ import annotations

from typing import Any

import pytest

from hms_recordings.capability.loader import lenient_findings, load_capability
from hms_recordings.capability.versions import normalise
from hms_recordings.errors import CapabilityError
from hms_recordings.faces.mcp import build_mcp_server, mcp_http_app
from hms_recordings.faces.rest import build_rest_app
from hms_recordings.faces.rest_routes import plan_routes
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.service import build_service
from hms_recordings.runtime.upstreams import UpstreamSettings
from hms_recordings.server.serve import check_servable, control_only
from tests.corpus.corpus import CORPUS, capability_files, doc
from tests.corpus.expected import Oracle

FILES = capability_files()


def _declared_mcp_tools(data: dict[str, Any]) -> set[str]:
    cap = data.get("capability") or {}
    return {
        str(tool["name"])
        for expose in cap.get("exposes") or []
        if isinstance(expose, dict) and expose.get("type") == "mcp"
        for tool in expose.get("tools") or []
        if isinstance(tool, dict) and tool.get("name")
    }


@pytest.mark.anyio
@pytest.mark.parametrize("file", FILES)
async def test_a_file_validate_calls_servable_is_served_and_every_entry_left_out_is_listed(file: str) -> None:
    document = doc(file)
    if any(f.severity == "error" for f in lenient_findings(document)):
        with pytest.raises(CapabilityError):
            load_capability(document)
        return
    capability = load_capability(document)
    data = normalise(document).doc.data
    oracle = Oracle(data, CORPUS / file)
    if oracle.bind_files_missing():
        return  # its values live in a file the corpus lacks: test_requests.py checks that serving refuses
    inventory = compile_inventory(capability)
    service = build_service(inventory, UpstreamSettings(env=oracle.env))
    async with service:
        check_servable([service], what=file, control=control_only(capability))
        mcp_http_app(build_mcp_server(service), stateless=True, json_response=True, transport_security=None)
        build_rest_app(service)

        problems = " ".join(inventory.problems)
        unlisted = sorted(
            name for name in _declared_mcp_tools(data) if service.tool(name) is None and name not in problems
        )
        assert not unlisted, f"MCP tools neither served nor listed in the inventory's problems: {unlisted}"
        routes, rest_problems = plan_routes(service)
        entries = service.rest_entries()
        assert len(routes) + len(rest_problems) >= len(entries), (
            f"{len(entries)} REST entries, {len(routes)} routed, {len(rest_problems)} listed as left out"
        )
