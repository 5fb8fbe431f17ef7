"""Regressions found by the third-party clients, checked with the official Python client over HTTP on both eras.

- The conformance suite's prompts-get-* scenarios: an unknown prompt came back as error code 0 (2025 wire) or as
  -32603 "Internal server error" with a logged traceback (2026-07-28 wire) instead of -32602.
- Progress: hms-wait-for-recording reported the same progress value on every poll, and MCP requires each
  notification's progress to be larger than the last.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.clients.harness import RunningServer

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

#: Client modes: the initialize handshake (negotiates 2025-11-25) and the stateless 2026-07-28 wire.
MODES: dict[str, Literal["legacy", "2026-07-28"]] = {"2025-11-25": "legacy", "2026-07-28": "2026-07-28"}
#: One room per era, so that the two runs never find each other's active recording.
ROOMS = {"2025-11-25": "6a0f1c2d3e4f5a6b7c8d9ea1", "2026-07-28": "6a0f1c2d3e4f5a6b7c8d9ea2"}
MEETING = "https://demo.app.100ms.live/meeting/abc-defg-hij"


@pytest.mark.parametrize("era", MODES)
async def test_an_unknown_prompt_is_an_invalid_params_error_without_a_logged_traceback(
    http_server: RunningServer, era: str
) -> None:
    name = f"no-such-prompt-{era}"
    with anyio.fail_after(20):
        async with Client(http_server.url, mode=MODES[era]) as client:
            with pytest.raises(MCPError) as caught:
                await client.get_prompt(name)
    assert caught.value.error.code == -32602
    assert caught.value.error.message == f"Unknown prompt: {name}"
    assert name not in http_server.stderr


@pytest.mark.parametrize("era", MODES)
async def test_an_unknown_tool_is_an_invalid_params_error_naming_the_served_tools(
    http_server: RunningServer, era: str
) -> None:
    with anyio.fail_after(20):
        async with Client(http_server.url, mode=MODES[era]) as client:
            with pytest.raises(MCPError) as caught:
                await client.call_tool("hms-delete-everything", {})
    assert caught.value.error.code == -32602
    assert caught.value.error.message == "Unknown tool: hms-delete-everything"
    assert "hms-list-recordings" in caught.value.error.data["available"]


@pytest.mark.parametrize("era", MODES)
async def test_progress_increases_with_every_notification_while_waiting_for_a_recording(
    http_server: RunningServer, era: str
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    with anyio.fail_after(30):
        async with Client(http_server.url, mode=MODES[era]) as client:
            started = await client.call_tool("hms-start-recording", {"room_id": ROOMS[era], "meeting_url": MEETING})
            assert started.is_error is False, started.content
            recording_id = started.structured_content["id"]
            waited = await client.call_tool(
                "hms-wait-for-recording",
                {"recording_id": recording_id, "until": "running", "timeout_seconds": 20},
                progress_callback=on_progress,
            )
            await client.call_tool("hms-stop-recording", {"room_id": ROOMS[era]})
    assert waited.is_error is False, waited.content
    assert waited.structured_content["reached"] is True
    values = [progress for progress, _, _ in seen]
    assert len(values) >= 2, seen  # "starting" then "running": the emulator starts a recording after ~1 s
    assert all(later > earlier for earlier, later in pairwise(values)), seen
    assert seen[-1][0] == seen[-1][1]
