"""End to end over a real socket: uvicorn on 127.0.0.1 with a free port (issue 2)."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from hms_recordings.emulator import EmulatorConfig, serve_in_background
from hms_recordings.hms.tokens import mint_management_token

from .conftest import ROOM

pytestmark = pytest.mark.e2e


@pytest.mark.requirement("E2E-SOCKET")
@pytest.mark.anyio
async def test_recording_round_trip_and_download_over_a_real_socket() -> None:
    """§4, §4.11: start, stop, list assets and download the composite through uvicorn on a free port."""
    config = EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=5)
    with anyio.fail_after(10):
        async with serve_in_background(config) as running:
            assert running.base_url.startswith("http://127.0.0.1:")
            assert not running.base_url.endswith(":0")
            token = mint_management_token(config.credentials, now=running.app.emulator.clock.now())
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx2.AsyncClient(base_url=running.api_url, headers=headers) as client:
                assert (
                    await client.post(f"/v2/recordings/room/{ROOM}/start".removeprefix("/v2"), json={})
                ).status_code == 200
                await client.get("/recordings")
                await client.post(f"/recordings/room/{ROOM}/stop")
                asset = (await client.get("/recording-assets", params={"type": "room-composite"})).json()["data"][0]
                url = (await client.get(f"/recording-assets/{asset['id']}/presigned-url")).json()["url"]
                assert url.startswith(running.base_url)
                download = await client.get(url, headers={"Authorization": ""})
                assert download.status_code == 200
                assert download.content[4:8] == b"ftyp"


@pytest.mark.requirement("FAULT-DROP")
@pytest.mark.anyio
async def test_drop_fault_closes_the_socket_without_a_response() -> None:
    """product.md: over a socket, mode drop closes the connection; the client sees RemoteProtocolError."""
    config = EmulatorConfig(manual_clock=True, seed=5)
    with anyio.fail_after(10):
        async with serve_in_background(config) as running, httpx2.AsyncClient(base_url=running.base_url) as client:
            rules = {"rules": [{"method": "GET", "path_prefix": "/v2/recordings", "mode": "drop"}]}
            assert (await client.put("/_emulator/faults", json=rules)).status_code == 200
            with pytest.raises(httpx2.RemoteProtocolError):
                await client.get("/v2/recordings")
            assert (await client.get("/_emulator/requests")).json()[0]["status"] is None
