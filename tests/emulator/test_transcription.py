"""Transcripts and summaries go through ``processing`` on the emulator clock (issue 18).

https://www.100ms.live/docs/server-side/v2/api-reference/recordings/start-recording-for-room: transcript/summary assets
"will be made available in the ``processing`` state immediately after the recording is completed" and take "around 20
percent of recording duration"; https://www.100ms.live/docs/server-side/v2/how-to-guides/enable-transcription-and-summary
("Limitations"): "a minimum of 5 minutes and 20% of the recording duration". The emulator scales that real time by
``processing_time / 60`` (``processing_time`` seconds stand for one real minute).
"""

from __future__ import annotations

import json

import httpx2
import pytest

from hms_recordings.emulator import EmulatorConfig, ManualClock

from .conftest import FULL_TRANSCRIPTION, assets_of, download, record


def statuses(assets: list[dict[str, object]]) -> dict[str, str]:
    return {f"{a['type']}/{a['metadata'].get('output_mode', '')}": str(a["status"]) for a in assets}  # type: ignore[attr-defined]


@pytest.mark.requirement("TRANSCRIPTION-PROCESSING")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("seconds", "processing_time", "delay"),
    [
        (100, 60, 300),  # short recording: the 5-minute floor, unscaled (60 s = one real minute)
        (3_000, 60, 600),  # long recording: 20 % of its duration
        (100, 6, 30),  # the floor scaled by 6/60
    ],
)
async def test_transcripts_and_summary_stay_processing_for_20_percent_of_the_duration_or_5_minutes_scaled(
    emulator_config: EmulatorConfig,
    client: httpx2.AsyncClient,
    clock: ManualClock,
    seconds: int,
    processing_time: float,
    delay: float,
) -> None:
    """start-recording page + enable-transcription-and-summary "Limitations" (URLs in the module docstring)."""
    emulator_config.processing_time = processing_time
    rec = await record(client, clock, seconds, transcription=FULL_TRANSCRIPTION)
    clock.advance(processing_time)
    assets = await assets_of(client, rec["id"])
    assert (await client.get(f"/v2/recordings/{rec['id']}")).json()["status"] == "completed"
    assert statuses(assets) == {
        "room-composite/": "completed",
        "chat/": "completed",
        "transcript/txt": "processing",
        "transcript/srt": "processing",
        "transcript/json": "processing",
        "summary/json": "processing",
    }
    processing = [a for a in assets if a["status"] == "processing"]
    assert all(a["size"] == 0 for a in processing)
    refused = await client.get(f"/v2/recording-assets/{processing[0]['id']}/presigned-url")
    assert refused.status_code == 400
    listed = (await client.get("/v2/recording-assets", params={"status": "processing"})).json()["data"]
    assert {a["id"] for a in listed} == {a["id"] for a in processing}
    clock.advance(delay - 0.5)
    assert set(statuses(await assets_of(client, rec["id"])).values()) == {"completed", "processing"}
    clock.advance(0.5)
    done = await assets_of(client, rec["id"])
    assert set(statuses(done).values()) == {"completed"}
    assert all(a["size"] > 0 for a in done)
    assert (await download(client, processing[0]["id"])).status_code == 200


@pytest.mark.requirement("SUMMARY-SECTIONS")
@pytest.mark.anyio
async def test_summary_has_exactly_the_requested_sections_in_the_documented_shape(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """enable-transcription-and-summary, "Example Output Files" > summary.json:
    ``{summary: {sections: [{title, format, bullets, paragraph}]}}``; bullets sections have ``paragraph: ""`` and
    paragraph sections ``bullets: []``; the sections are the ones requested at start (start-recording page)."""
    sections = [{"title": "Decisions", "format": "bullets"}, {"title": "In one paragraph", "format": "paragraph"}]
    transcription = {"enabled": True, "output_modes": ["json"], "summary": {"enabled": True, "sections": sections}}
    rec = await record(client, clock, 300, transcription=transcription)
    summary = next(a for a in await assets_of(client, rec["id"]) if a["type"] == "summary")
    body = json.loads((await download(client, summary["id"])).content)
    assert list(body) == ["summary"]
    got = body["summary"]["sections"]
    assert [(s["title"], s["format"]) for s in got] == [("Decisions", "bullets"), ("In one paragraph", "paragraph")]
    assert all(set(s) == {"title", "format", "bullets", "paragraph"} for s in got)
    assert got[0]["bullets"] and got[0]["paragraph"] == ""
    assert got[1]["bullets"] == [] and got[1]["paragraph"]


@pytest.mark.requirement("SUMMARY-SECTIONS")
@pytest.mark.anyio
async def test_summary_without_sections_uses_the_documented_template_defaults(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """enable-transcription-and-summary, "Dashboard Implementation Default Values": Agenda, Key Points Discussed,
    Follow Up Action Items (bullets) and Short Summary (paragraph)."""
    rec = await record(client, clock, 120, transcription=FULL_TRANSCRIPTION)
    summary = next(a for a in await assets_of(client, rec["id"]) if a["type"] == "summary")
    sections = json.loads((await download(client, summary["id"])).content)["summary"]["sections"]
    assert [(s["title"], s["format"]) for s in sections] == [
        ("Agenda", "bullets"),
        ("Key Points Discussed", "bullets"),
        ("Follow Up Action Items", "bullets"),
        ("Short Summary", "paragraph"),
    ]
