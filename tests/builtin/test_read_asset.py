"""hms-read-recording-asset: the text of chat, transcript and summary assets, paginated, fetched server-side.

Formats followed: chat CSV (https://www.100ms.live/docs/get-started/v2/get-started/features/recordings/chat-recording)
and transcripts/summary (https://www.100ms.live/docs/server-side/v2/how-to-guides/enable-transcription-and-summary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hms_recordings.capability.loader import BUILTIN_CAPABILITY
from hms_recordings.emulator import EmulatorConfig
from tests.builtin.rig import MEETING, ROOM, Rig, make_rig
from tests.rig import HeaderSpy

pytestmark = pytest.mark.anyio

SECTIONS = [{"title": "Decisions", "format": "bullets"}, {"title": "Recap", "format": "paragraph"}]


async def _recorded(rig: Rig) -> dict[str, str]:
    """A completed recording with every text asset; returns asset ids by type (transcripts by output mode)."""
    transcription = {
        "enabled": True,
        "output_modes": ["txt", "srt", "json"],
        "summary": {"enabled": True, "sections": SECTIONS},
    }
    started = await rig.call_ok(
        "hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING, "transcription": transcription}
    )
    await rig.advance(1)
    await rig.advance(600)  # a ten-minute meeting
    await rig.call_ok("hms-stop-recording", {"room_id": ROOM})
    await rig.advance(1)
    listed = await rig.call_ok("hms-list-recording-assets", {"room_id": ROOM, "limit": 10})
    ids: dict[str, str] = {}
    for asset in listed["assets"]:
        key = asset["type"] if asset["type"] != "transcript" else f"transcript-{asset['metadata']['output_mode']}"
        ids[key] = asset["id"]
        assert asset["recording_id"] == started["id"]
    return ids


async def _read_all(rig: Rig, asset_id: str, limit: int) -> tuple[list[Any], dict[str, Any]]:
    items: list[Any] = []
    start: int | None = 0
    first: dict[str, Any] = {}
    while start is not None:
        page = await rig.call_ok("hms-read-recording-asset", {"asset_id": asset_id, "start": start, "limit": limit})
        first = first or page
        assert len(page["items"]) <= limit
        items += page["items"]
        start = page["next_start"]
    assert len(items) == first["total"]
    return items, first


async def test_a_chat_reads_as_rows_with_sender_time_and_message_across_pages() -> None:
    spy: list[HeaderSpy] = []  # the presigned downloads' headers: the management token is never sent with them
    async with make_rig(wrap=lambda app: spy.append(HeaderSpy(app, "/_emulator/download/")) or spy[-1]) as rig:
        ids = await _recorded(rig)
        rows, first = await _read_all(rig, ids["chat"], limit=7)
        again, _ = await _read_all(rig, ids["chat"], limit=200)
    assert first["type"] == "chat" and first["format"] == "rows" and first["total"] > 7
    assert rows == again  # pages join up with nothing skipped or repeated
    assert set(rows[0]) == {"sent_at", "sender", "sender_user_id", "roles", "type", "message"}
    assert all(row["message"] and row["sender"] and row["sent_at"] for row in rows)
    assert spy[0].seen and all("authorization" not in headers for headers in spy[0].seen)
    assert "signature" not in json.dumps(first)


@pytest.mark.parametrize("mode", ["txt", "srt", "json"])
async def test_every_transcript_form_reads_as_speaker_labelled_lines(mode: str) -> None:
    async with make_rig() as rig:
        ids = await _recorded(rig)
        lines, first = await _read_all(rig, ids[f"transcript-{mode}"], limit=50)
    assert first["format"] == "lines" and len(lines) > 3
    speakers = {line["speaker"] for line in lines}
    assert None not in speakers and 2 <= len(speakers) <= 3
    assert all(line["text"] and not line["text"].startswith(tuple(f"{s}:" for s in speakers)) for line in lines)


async def test_the_three_transcript_forms_say_the_same_words() -> None:
    async with make_rig() as rig:
        ids = await _recorded(rig)
        forms = {m: (await _read_all(rig, ids[f"transcript-{m}"], limit=200))[0] for m in ("txt", "srt", "json")}
    said = {m: [(line["speaker"], line["text"]) for line in lines] for m, lines in forms.items()}
    assert said["json"] == said["txt"]
    assert " ".join(t for _, t in said["srt"]).split() == " ".join(t for _, t in said["txt"]).split()


async def test_a_summary_reads_as_the_requested_sections() -> None:
    async with make_rig() as rig:
        ids = await _recorded(rig)
        page = await rig.call_ok("hms-read-recording-asset", {"asset_id": ids["summary"]})
    assert page["format"] == "sections" and page["next_start"] is None
    assert [(s["title"], s["format"]) for s in page["items"]] == [(s["title"], s["format"]) for s in SECTIONS]
    assert page["items"][0]["bullets"] and page["items"][1]["paragraph"]


async def test_a_video_asset_is_refused_with_the_tool_that_links_it() -> None:
    async with make_rig() as rig:
        ids = await _recorded(rig)
        outcome = await rig.call("hms-read-recording-asset", {"asset_id": ids["room-composite"]})
    assert outcome.error is not None and outcome.error.kind == "invalid_request"
    assert "hms-get-recording-presigned-url" in outcome.error.message


async def test_a_transcript_still_processing_is_not_ready_and_nothing_is_downloaded() -> None:
    config = EmulatorConfig(manual_clock=True, start_delay=0, processing_time=2, seed=3)
    async with make_rig(emulator=config) as rig:
        transcription = {"enabled": True, "output_modes": ["txt"]}
        await rig.call_ok(
            "hms-start-recording", {"room_id": ROOM, "meeting_url": MEETING, "transcription": transcription}
        )
        await rig.advance(30)
        await rig.call_ok("hms-stop-recording", {"room_id": ROOM})
        await rig.advance(3)
        listed = await rig.call_ok("hms-list-recording-assets", {"room_id": ROOM, "type": "transcript"})
        outcome = await rig.call("hms-read-recording-asset", {"asset_id": listed["assets"][0]["id"]})
        log = await rig.requests()
    assert outcome.error is not None and outcome.error.kind == "not_ready" and "processing" in outcome.error.message
    assert not any(entry["path"].endswith("/presigned-url") for entry in log)


async def test_an_unknown_asset_names_the_tools_that_list_assets() -> None:
    async with make_rig() as rig:
        outcome = await rig.call("hms-read-recording-asset", {"asset_id": "6a10bb2d3e4f5a6b7c8d9e0f"})
    assert outcome.error is not None and outcome.error.kind == "not_found"
    assert "hms-list-recording-assets" in outcome.error.message


async def test_a_page_stops_at_its_character_budget_and_the_next_page_goes_on_from_there(tmp_path: Path) -> None:
    """x-options page_chars bounds a page whatever `limit` says; next_start continues right after the last item."""
    text = BUILTIN_CAPABILITY.read_text(encoding="utf-8").replace("page_chars: 20000", "page_chars: 400")
    assert "page_chars: 400" in text
    small = tmp_path / "recordings.yaml"
    small.write_text(text, encoding="utf-8")
    async with make_rig(small) as rig:
        ids = await _recorded(rig)
        page = await rig.call_ok("hms-read-recording-asset", {"asset_id": ids["chat"], "limit": 200})
        rows, _ = await _read_all(rig, ids["chat"], limit=200)
    assert 1 <= len(page["items"]) < page["total"] and page["next_start"] == len(page["items"])
    assert sum(len(json.dumps(item, separators=(",", ":"))) + 1 for item in page["items"]) <= 400
    assert rows[: len(page["items"])] == page["items"] and len(rows) == page["total"]
