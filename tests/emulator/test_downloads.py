"""Presigned downloads: exactly ``size`` bytes, a real MP4 for video, HTTP ranges, bounded memory (issue 18).

Sizes and types: https://www.100ms.live/docs/server-side/v2/api-reference/recording-assets/overview (``size`` is the
asset's size in bytes; room-composite is an mp4). Ranges: the presigned URLs point at object storage (S3/GCS), which
serve RFC 9110 range requests; a resumed download depends on them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest

from hms_recordings.emulator import EmulatorConfig, ManualClock, serve_in_background
from hms_recordings.hms.tokens import mint_management_token

from .conftest import FULL_TRANSCRIPTION, ROOM, assets_of, download, record

FFPROBE_TIMEOUT = 60


@asynccontextmanager
async def socket_emulator(seed: int) -> AsyncIterator[tuple[httpx2.AsyncClient, ManualClock]]:
    """An emulator on a free loopback port (manual clock, no delays) and a client holding a management token."""
    config = EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=seed)
    async with serve_in_background(config) as running:
        clock = running.app.emulator.clock
        assert isinstance(clock, ManualClock)
        token = mint_management_token(config.credentials, now=clock.now())
        async with httpx2.AsyncClient(base_url=running.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
            yield c, clock


async def composite_and_url(client: httpx2.AsyncClient, recording_id: str) -> tuple[dict[str, Any], str]:
    composite = next(a for a in await assets_of(client, recording_id) if a["type"] == "room-composite")
    url: str = (await client.get(f"/v2/recording-assets/{composite['id']}/presigned-url")).json()["url"]
    return composite, url


async def read_into(response: httpx2.Response, into: bytearray) -> None:
    async for chunk in response.aiter_bytes():
        into += chunk


@pytest.mark.requirement("DOWNLOAD-SIZE")
@pytest.mark.anyio
async def test_every_download_is_exactly_size_bytes_with_a_matching_content_length(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """recording-assets/overview: ``size`` is the asset's size in bytes; the download is that file."""
    rec = await record(client, clock, 45, transcription=FULL_TRANSCRIPTION)
    assets = await assets_of(client, rec["id"])
    assert len(assets) == 6
    for asset in assets:
        response = await download(client, asset["id"])
        assert response.status_code == 200
        assert len(response.content) == asset["size"] > 0
        assert response.headers["content-length"] == str(asset["size"])
        assert response.headers["accept-ranges"] == "bytes"
    composite = next(a for a in assets if a["type"] == "room-composite")
    assert composite["size"] > 1_000_000  # a realistic 45 s at 720p, not a placeholder


def ffprobe(target: str) -> dict[str, object]:
    # The check script installs Debian's ffmpeg; a missing ffprobe is a failure of the setup, not a reason to skip.
    binary = shutil.which("ffprobe")
    assert binary is not None, "ffprobe is missing: install Debian's ffmpeg (scripts/check does)"
    result = subprocess.run(
        [binary, "-v", "error", "-show_format", "-show_streams", "-of", "json", target],
        capture_output=True,
        text=True,
        timeout=FFPROBE_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    probed: dict[str, object] = json.loads(result.stdout)
    return probed


@pytest.mark.requirement("DOWNLOAD-MP4")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "stream"),
    [
        ({"resolution": {"width": 1920, "height": 1080}}, {"codec_type": "video", "width": 1920, "height": 1080}),
        ({"resolution": {"width": 720, "height": 1280}}, {"codec_type": "video", "width": 720, "height": 1280}),
        ({"audio_only": True}, {"codec_type": "audio"}),
    ],
)
async def test_composite_download_is_an_mp4_that_ffprobe_reads_without_error(
    client: httpx2.AsyncClient, clock: ManualClock, tmp_path: object, body: dict[str, object], stream: dict[str, object]
) -> None:
    """recording-assets/get-asset (room-composite: an mp4 with ``metadata.resolution``): ISO BMFF that ffprobe reads
    with no error, the stream at the recorded resolution, the duration the asset's, the size the asset's."""
    rec = await record(client, clock, 90, **body)
    composite = next(a for a in await assets_of(client, rec["id"]) if a["type"] == "room-composite")
    data = (await download(client, composite["id"])).content
    assert data[4:8] == b"ftyp"
    path = anyio.Path(str(tmp_path)) / "composite.mp4"
    await path.write_bytes(data)
    probed = ffprobe(str(path))
    fmt = probed["format"]
    assert isinstance(fmt, dict)
    assert int(fmt["size"]) == composite["size"]
    assert abs(float(fmt["duration"]) - composite["duration"]) < 1
    (only,) = probed["streams"]  # type: ignore[misc]
    assert {key: only[key] for key in stream} == stream


@pytest.mark.requirement("DOWNLOAD-RANGE")
@pytest.mark.anyio
async def test_range_requests_answer_206_with_content_range_and_416_beyond_the_end(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    """RFC 9110 §14 as object storage serves it: ``bytes=a-b``, ``bytes=a-``, ``bytes=-n`` -> 206 with
    ``Content-Range``; pieces join to the whole file; a start past the end -> 416 ``bytes */size``; malformed or
    stale ``If-Range`` -> the whole file; HEAD -> headers only."""
    rec = await record(client, clock, 30, transcription=FULL_TRANSCRIPTION)
    for asset in await assets_of(client, rec["id"]):
        size = asset["size"]
        whole = (await download(client, asset["id"])).content
        first = await download(client, asset["id"], Range="bytes=0-99")
        assert first.status_code == 206
        assert first.headers["content-range"] == f"bytes 0-99/{size}"
        assert first.headers["content-length"] == "100"
        rest = await download(client, asset["id"], Range="bytes=100-")
        assert rest.status_code == 206
        assert first.content + rest.content == whole
        tail = await download(client, asset["id"], Range="bytes=-10")
        assert (tail.status_code, tail.content) == (206, whole[-10:])
        beyond = await download(client, asset["id"], Range=f"bytes={size}-")
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"
        for ignored in ({"Range": "bytes=5-2"}, {"Range": "lines=1-2"}, {"Range": "bytes=0-1", "If-Range": '"old"'}):
            full = await download(client, asset["id"], **ignored)
            assert (full.status_code, len(full.content)) == (200, size)
        etag = first.headers["etag"]
        assert (await download(client, asset["id"], Range="bytes=0-0", **{"If-Range": etag})).status_code == 206
        url = (await client.get(f"/v2/recording-assets/{asset['id']}/presigned-url")).json()["url"]
        head = await client.head(url, headers={"Authorization": ""})
        assert (head.status_code, head.headers["content-length"], head.content) == (200, str(size), b"")


@pytest.mark.requirement("DOWNLOAD-RANGE")
@pytest.mark.e2e
@pytest.mark.anyio
async def test_an_interrupted_download_resumes_with_range_over_a_socket_to_the_same_bytes() -> None:
    """A client that hangs up mid-file asks for ``bytes=N-`` and gets the rest: the joined file is the full one."""
    with anyio.fail_after(30):
        async with socket_emulator(seed=11) as (c, clock):
            rec = await record(c, clock, 120)
            composite, url = await composite_and_url(c, rec["id"])
            received = bytearray()
            async with c.stream("GET", url) as response:
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > composite["size"] // 3:
                        break  # the connection is closed with most of the file unread
            rest = await c.get(url, headers={"Range": f"bytes={len(received)}-"})
            assert rest.status_code == 206
            whole = await c.get(url)
    assert hashlib.sha256(bytes(received) + rest.content).digest() == hashlib.sha256(whole.content).digest()
    assert len(whole.content) == composite["size"]


@pytest.mark.requirement("DOWNLOAD-BOUNDED")
@pytest.mark.e2e
@pytest.mark.anyio
async def test_a_large_composite_streams_through_a_socket_in_bounded_memory() -> None:
    """Everything bounded (common rules): a ~100 MB download never holds the file; peak traced memory stays small."""
    with anyio.fail_after(60):
        async with socket_emulator(seed=12) as (c, clock):
            rec = await record(c, clock, 420, resolution={"width": 1920, "height": 1080})
            composite, url = await composite_and_url(c, rec["id"])
            assert composite["size"] > 100_000_000
            tracemalloc.start()
            try:
                total = 0
                async with c.stream("GET", url) as response:
                    async for chunk in response.aiter_raw():
                        total += len(chunk)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert total == composite["size"]
    assert peak < 16_000_000, f"peak {peak} bytes while streaming {total}"


@pytest.mark.requirement("DOWNLOAD-MP4")
@pytest.mark.e2e
@pytest.mark.anyio
async def test_ffprobe_reads_a_multi_gigabyte_composite_straight_from_its_presigned_url() -> None:
    """A 4-hour 1080p composite (over 4 GiB: a 64-bit ``mdat``) is read by ffprobe over HTTP, seeking by range."""
    with anyio.fail_after(FFPROBE_TIMEOUT + 30):
        async with socket_emulator(seed=13) as (c, clock):
            rec = await record(c, clock, 4 * 3600, resolution={"width": 1920, "height": 1080})
            composite, url = await composite_and_url(c, rec["id"])
            assert composite["size"] > 2**32
            probed = await anyio.to_thread.run_sync(ffprobe, url)
    fmt = probed["format"]
    assert isinstance(fmt, dict)
    assert int(fmt["size"]) == composite["size"]
    assert abs(float(fmt["duration"]) - 4 * 3600) < 1
    assert ROOM in composite["path"]


@pytest.mark.requirement("FAULT-CUT")
@pytest.mark.requirement("DOWNLOAD-RANGE")
@pytest.mark.e2e
@pytest.mark.anyio
async def test_a_cut_fault_interrupts_a_download_after_n_bytes_and_a_range_request_resumes_it() -> None:
    """product.md admin API faults, mode ``cut``: status, headers and ``after_bytes`` bytes, then the socket closes
    (the client sees an incomplete body); the download resumes from there with ``Range`` to the same file."""
    with anyio.fail_after(30):
        async with socket_emulator(seed=14) as (c, clock):
            rec = await record(c, clock, 60)
            composite, url = await composite_and_url(c, rec["id"])
            rule = {"path_prefix": "/_emulator/download/", "mode": "cut", "after_bytes": 300_000}
            assert (await c.put("/_emulator/faults", json={"rules": [rule]})).status_code == 200
            received = bytearray()
            async with c.stream("GET", url) as response:
                assert response.status_code == 200
                assert response.headers["content-length"] == str(composite["size"])
                with pytest.raises(httpx2.RemoteProtocolError):
                    await read_into(response, received)
            assert len(received) == 300_000
            assert (await c.delete("/_emulator/faults")).status_code == 204
            rest = await c.get(url, headers={"Range": f"bytes={len(received)}-"})
            whole = await c.get(url)
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 300000-{composite['size'] - 1}/{composite['size']}"
    assert bytes(received) + rest.content == whole.content
