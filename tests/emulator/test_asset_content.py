"""What the assets contain and where they are stored, in the documented forms (issue 18).

Pages (under https://www.100ms.live/docs/): enable-transcription-and-summary =
server-side/v2/how-to-guides/enable-transcription-and-summary; chat-recording =
get-started/v2/get-started/features/recordings/chat-recording; storage-configuration =
get-started/v2/get-started/features/recordings/recording-assets/storage-configuration; get-asset =
server-side/v2/api-reference/recording-assets/get-asset.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import httpx2
import pytest

from hms_recordings.emulator import ManualClock

from .conftest import FULL_TRANSCRIPTION, ROOM, assets_of, download, record


async def texts(client: httpx2.AsyncClient, clock: ManualClock, seconds: int = 180) -> dict[str, str]:
    rec = await record(client, clock, seconds, transcription=FULL_TRANSCRIPTION)
    out = {}
    for asset in await assets_of(client, rec["id"]):
        if asset["type"] != "room-composite":
            key = asset["metadata"].get("output_mode", asset["type"])
            out[f"{asset['type']}/{key}"] = (await download(client, asset["id"])).text
    return out


@pytest.mark.requirement("TRANSCRIPT-FORMATS")
@pytest.mark.anyio
async def test_json_transcript_has_words_and_sentences_with_speaker_and_millisecond_times(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """enable-transcription-and-summary, "Example Output Files" > transcript.json: ``words[]`` of
    ``{word, name, peer_id, start_time, end_time}`` and ``sentences[]`` of ``{sentence, name, peer_id, ...}``, the times
    millisecond strings; no ``segments``."""
    body = json.loads((await texts(client, clock))["transcript/json"])
    assert list(body) == ["words", "sentences"]
    assert body["sentences"] and body["words"]
    for sentence in body["sentences"]:
        assert set(sentence) == {"sentence", "name", "peer_id", "start_time", "end_time"}
        assert sentence["start_time"].isdigit() and int(sentence["start_time"]) < int(sentence["end_time"]) <= 180_000
    for word in body["words"]:
        assert set(word) == {"word", "name", "peer_id", "start_time", "end_time"}
        assert " " not in word["word"]
    speakers = {(s["name"], s["peer_id"]) for s in body["sentences"]}
    assert 2 <= len(speakers) <= 3
    assert {(w["name"], w["peer_id"]) for w in body["words"]} == speakers
    assert " ".join(w["word"] for w in body["words"][:3]) in body["sentences"][0]["sentence"].replace(",", "")


@pytest.mark.requirement("TRANSCRIPT-FORMATS")
@pytest.mark.anyio
async def test_txt_and_srt_transcripts_label_every_line_with_its_speaker(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """enable-transcription-and-summary, "Example Output Files": txt is ``Name: sentence`` paragraphs; srt numbered
    cues ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` whose text is ``Name: sentence``; both say what the json says."""
    files = await texts(client, clock)
    sentences = json.loads(files["transcript/json"])["sentences"]
    labelled = [f"{s['name']}: {s['sentence']}" for s in sentences]
    assert files["transcript/txt"].endswith("\n")
    assert files["transcript/txt"].rstrip("\n").split("\n\n") == labelled
    cues = files["transcript/srt"].strip("\n").split("\n\n")
    assert len(cues) == len(sentences)
    for index, (cue, sentence) in enumerate(zip(cues, sentences, strict=True), start=1):
        number, timing, text = cue.split("\n")
        assert number == str(index)
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", timing)
        start_ms = int(sentence["start_time"])
        assert timing.startswith(f"00:{start_ms // 60_000:02d}:{start_ms // 1000 % 60:02d},{start_ms % 1000:03d}")
        assert text == f"{sentence['name']}: {sentence['sentence']}"


@pytest.mark.requirement("CHAT-CSV")
@pytest.mark.anyio
async def test_chat_csv_has_the_documented_header_and_plausible_broadcast_rows(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """https://www.100ms.live/docs/get-started/v2/get-started/features/recordings/chat-recording: header
    ``SenderPeerID,SenderName,SenderUserID,Roles,SentAt,Type,Message``; Roles ``[]`` for all roles; SentAt RFC 3339;
    Type ``chat``."""
    rec = await record(client, clock, 600)
    chat = next(a for a in await assets_of(client, rec["id"]) if a["type"] == "chat")
    text = (await download(client, chat["id"])).text
    assert text.split("\n", 1)[0] == "SenderPeerID,SenderName,SenderUserID,Roles,SentAt,Type,Message"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert 8 <= len(rows) <= 60
    running = (await client.get(f"/v2/recordings/{rec['id']}")).json()
    window = (datetime.fromisoformat(running["started_at"]), datetime.fromisoformat(running["stopped_at"]))
    for row in rows:
        assert row["Type"] == "chat"
        assert re.fullmatch(r"\[(host|guest)?\]", row["Roles"])
        assert len(row["SenderPeerID"]) == 36 and row["SenderName"] and row["Message"]
        assert window[0] <= datetime.fromisoformat(row["SentAt"]) <= window[1]
    assert any(row["Roles"] == "[]" for row in rows)


@pytest.mark.requirement("ASSET-THUMBNAILS")
@pytest.mark.anyio
async def test_every_asset_carries_thumbnails_null(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    """https://www.100ms.live/docs/server-side/v2/api-reference/recording-assets/get-asset: every example has
    ``"thumbnails": null`` (only room-vod has thumbnails, per recording-assets/overview); embedded, listed, got."""
    rec = await record(client, clock, 60, transcription=FULL_TRANSCRIPTION)
    embedded = (await client.get(f"/v2/recordings/{rec['id']}")).json()["recording_assets"]
    listed = (await client.get("/v2/recording-assets")).json()["data"]
    got = await assets_of(client, rec["id"])
    for asset in [*embedded, *listed, *got]:
        assert "thumbnails" in asset and asset["thumbnails"] is None
    assert len(embedded) == len(listed) == len(got) == 6


@pytest.mark.requirement("ASSET-PATHS")
@pytest.mark.anyio
async def test_storage_paths_follow_the_documented_beam_and_chat_forms(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """recording-assets/storage-configuration ("Path formats"): ``s3://<location>/<prefix>/beam/<room_id>/<start_date>/
    Rec-<room_id>-<epoch>.mp4``; chat-recording ("Path structure"): ``.../chat/<room_id>/<start_date>/Rec-<room_id>-
    <epoch>.csv``; transcripts and summaries (undocumented) the same under ``transcript/`` and ``summary/``."""
    rec = await record(client, clock, 60, transcription=FULL_TRANSCRIPTION)
    running = (await client.get(f"/v2/recordings/{rec['id']}")).json()
    started = datetime.fromisoformat(running["started_at"])
    date, epoch = started.strftime("%Y%m%d"), int(started.timestamp() * 1000)
    paths = {(a["type"], a["metadata"].get("output_mode")): a["path"] for a in await assets_of(client, rec["id"])}
    prefix = r"s3://[a-z0-9.-]+/[0-9a-f]{24}"
    for (kind, mode), path in paths.items():
        folder = {"room-composite": "beam"}.get(kind, kind)
        ext = {"room-composite": "mp4", "chat": "csv"}.get(kind, mode)
        assert re.fullmatch(rf"{prefix}/{folder}/{ROOM}/{date}/Rec-{ROOM}-{epoch}\.{ext}", path), path
