"""Results over the size limit are shortened with a cursor that names the last item *kept*.

Regression: ``next_start`` used to name the last item of the full page, so "call again with start=..." skipped
every item that was cut.
"""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client

from hms_recordings.faces.mcp import build_mcp_server
from tests.rig import Rig, make_rig

pytestmark = pytest.mark.anyio


async def _record(rig: Rig, rooms: int) -> list[str]:
    """``rooms`` recordings, one per room, made through the emulator's own API; their ids, newest first."""
    token = rig.service.invoker.upstreams.bindings.values.get("HMS_MANAGEMENT_TOKEN", "")
    ids = []
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=rig.emulator),
        base_url="http://emulator.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as api:
        for n in range(rooms):
            started = await api.post(f"/v2/recordings/room/65f0c0ffee000000000c{n:04x}/start", json={})
            assert started.status_code == 200, started.text
            ids.append(started.json()["id"])
    return ids[::-1]


async def test_a_shortened_page_points_its_cursor_at_the_last_item_it_kept() -> None:
    async with make_rig(max_result_chars=2_500) as rig:
        ids = await _record(rig, 20)
        async with Client(build_mcp_server(rig.service)) as client:
            first = (await client.call_tool("hms-list-recordings", {"limit": 20})).structured_content
            assert first is not None
            kept = [r["id"] for r in first["recordings"]]
            assert 0 < len(kept) < 20, "the page must be cut for this test to mean anything"
            assert first["truncated"].startswith(f"result shortened: showing {len(kept)} of 20 recordings")
            assert first["next_start"] == kept[-1]
            assert f"start={kept[-1]}" in first["next_page"]

            seen = list(kept)
            cursor = first["next_start"]
            while cursor:
                page = (
                    await client.call_tool("hms-list-recordings", {"limit": 20, "start": cursor})
                ).structured_content
                assert page is not None
                seen += [r["id"] for r in page["recordings"]]
                cursor = page["next_start"]

    assert seen == ids  # every recording once, in order: nothing skipped, nothing repeated


async def test_a_result_that_fits_is_not_shortened() -> None:
    async with make_rig() as rig:
        await _record(rig, 3)
        outcome = await rig.call("hms-list-recordings", {})
    assert outcome.error is None
    assert "truncated" not in outcome.data
    assert outcome.data["next_page"] == "this is the last page"
