"""Assets created on completion and presigned downloads served by the emulator (reference §4.8-§4.11)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from hms_recordings.emulator import EmulatorApp, ManualClock

from .conftest import record

TRANSCRIPTION = {"enabled": True, "output_modes": ["txt", "srt", "json"], "summary": {"enabled": True}}


async def completed_assets(client: httpx2.AsyncClient, clock: ManualClock, **body: object) -> list[dict[str, object]]:
    rec = await record(client, clock, 120, **body)
    assets: list[dict[str, object]] = (await client.get(f"/v2/recordings/{rec['id']}")).json()["recording_assets"]
    return assets


@pytest.mark.requirement("ASSET-CREATE")
@pytest.mark.anyio
async def test_completion_creates_composite_with_resolution_and_chat(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """§4.8, §9: room-composite (metadata.resolution) and chat, completed, with realistic size/duration/path."""
    composite, chat = await completed_assets(client, clock, resolution={"width": 1920, "height": 1080})
    assert composite["type"] == "room-composite"
    assert composite["status"] == "completed"
    assert composite["metadata"] == {"resolution": {"width": 1920, "height": 1080}}
    assert composite["duration"] == 120
    assert int(str(composite["size"])) > 10_000_000
    assert str(composite["path"]).startswith("s3://")
    assert str(composite["path"]).endswith(".mp4")
    assert chat["type"] == "chat"
    assert chat["metadata"] == {}
    assert chat["duration"] == 0


@pytest.mark.requirement("ASSET-CREATE")
@pytest.mark.anyio
async def test_transcription_adds_one_transcript_per_output_mode_and_a_summary(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """§4.8: one transcript per output mode (metadata.output_mode) and a summary with output_mode json."""
    assets = await completed_assets(client, clock, transcription=TRANSCRIPTION)
    kinds = [(a["type"], a["metadata"].get("output_mode")) for a in assets]  # type: ignore[attr-defined]
    assert kinds == [
        ("room-composite", None),
        ("chat", None),
        ("transcript", "txt"),
        ("transcript", "srt"),
        ("transcript", "json"),
        ("summary", "json"),
    ]


@pytest.mark.requirement("PRESIGN")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("index", "content_type", "check"),
    [
        (0, "video/mp4", lambda data: data[4:8] == b"ftyp"),
        (1, "text/csv; charset=utf-8", lambda data: data.startswith(b"SenderPeerID,")),
        (2, "text/plain; charset=utf-8", lambda data: b": " in data.split(b"\n")[0]),
        (3, "application/x-subrip", lambda data: data.startswith(b"1\n00:00:0")),
        (4, "application/json", lambda data: set(json.loads(data)) == {"words", "sentences"}),
        (5, "application/json", lambda data: "sections" in json.loads(data)["summary"]),
    ],
)
async def test_presigned_url_downloads_the_asset_bytes_with_its_content_type(
    client: httpx2.AsyncClient, anonymous: httpx2.AsyncClient, clock: ManualClock, index: int, content_type: str, check
) -> None:
    """§4.11: {id, path, url, expiry}; a GET on url (no token) downloads a generated file of the right type."""
    asset = (await completed_assets(client, clock, transcription=TRANSCRIPTION))[index]
    presigned = (await client.get(f"/v2/recording-assets/{asset['id']}/presigned-url")).json()
    assert set(presigned) == {"id", "path", "url", "expiry"}
    assert presigned["id"] == asset["id"]
    assert presigned["path"] == asset["path"]
    assert presigned["expiry"] == 259_200
    download = await anonymous.get(presigned["url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == content_type
    assert check(download.content)


@pytest.mark.requirement("PRESIGN-EXPIRY")
@pytest.mark.anyio
async def test_presigned_url_expires_after_presign_duration_and_refuses_alterations(
    client: httpx2.AsyncClient, anonymous: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """§4.11: expiry = presign_duration; an expired, re-signed or re-targeted URL is 403."""
    composite, chat = await completed_assets(client, clock)
    url = (await client.get(f"/v2/recording-assets/{composite['id']}/presigned-url?presign_duration=60")).json()
    assert url["expiry"] == 60
    parts = urlsplit(url["url"])
    query = parse_qs(parts.query)
    forged_expiry = url["url"].replace(query["expires"][0], str(int(query["expires"][0]) + 1000))
    other_asset = url["url"].replace(str(composite["id"]), str(chat["id"]))
    assert (await anonymous.get(forged_expiry)).status_code == 403
    assert (await anonymous.get(other_asset)).status_code == 403
    assert (await anonymous.get(parts.path)).status_code == 403
    clock.advance(59)
    assert (await anonymous.get(url["url"])).status_code == 200
    clock.advance(1)
    expired = await anonymous.get(url["url"])
    assert expired.status_code == 403
    assert expired.json() == {"code": 403, "message": "request has expired"}


@pytest.mark.requirement("PRESIGN-EXPIRY")
@pytest.mark.anyio
@pytest.mark.parametrize("raw", ["0", "604801", "1.5", "abc", "-3"])
async def test_presign_duration_out_of_range_or_not_integer_answers_400(
    client: httpx2.AsyncClient, clock: ManualClock, raw: str
) -> None:
    """§4.11 [I]: presign_duration must be an integer in 1..604800 (the S3 SigV4 ceiling)."""
    composite, _ = await completed_assets(client, clock)
    response = await client.get(
        f"/v2/recording-assets/{composite['id']}/presigned-url", params={"presign_duration": raw}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "invalid input"


@pytest.mark.requirement("PRESIGN-FAILED")
@pytest.mark.anyio
async def test_presigned_url_for_a_failed_asset_answers_400(
    client: httpx2.AsyncClient, clock: ManualClock, emulator_app: EmulatorApp
) -> None:
    """§4.8 [I]: only completed assets can be downloaded; a failed one is 400 with the status in the message."""
    composite, _ = await completed_assets(client, clock)
    emulator_app.emulator.store.assets[str(composite["id"])].status = "failed"
    response = await client.get(f"/v2/recording-assets/{composite['id']}/presigned-url")
    assert response.status_code == 400
    assert response.json()["message"] == "recording asset is not available for download (status failed)"


@pytest.mark.requirement("ASSET-GET")
@pytest.mark.anyio
@pytest.mark.parametrize("asset_id", ["65f0c0ffee0000000000ffff", "nope"])
async def test_unknown_asset_answers_404_recording_asset_not_found(client: httpx2.AsyncClient, asset_id: str) -> None:
    """§4.10 [I]: unknown or malformed asset ids are 404 ``recording asset not found`` (get and presign)."""
    for path in (f"/v2/recording-assets/{asset_id}", f"/v2/recording-assets/{asset_id}/presigned-url"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == {"code": 404, "message": "recording asset not found"}
