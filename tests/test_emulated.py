"""``--emulator`` wiring (hms/emulated.py) and the skill's 100ms setup text (hms/skill_text.py)."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from hms_recordings.capability.loader import load_file
from hms_recordings.hms.emulated import emulated_upstreams, start_emulator
from hms_recordings.hms.skill_text import setup_text
from hms_recordings.hms.tokens import AppCredentials, verify_management_token

OTHER_API = Path(__file__).parent / "faces" / "files" / "cloudflare-dns-dnssec.yaml"


def test_the_emulator_stands_in_for_every_api_on_a_100ms_host_and_keeps_its_path() -> None:
    assert emulated_upstreams(load_file(), "http://127.0.0.1:1/") == {"recordings": "http://127.0.0.1:1/v2"}
    assert emulated_upstreams(load_file(OTHER_API), "http://127.0.0.1:1") == {}


def test_the_skill_setup_text_starts_the_emulator_only_for_files_it_can_serve() -> None:
    text = setup_text(load_file())
    assert text is not None
    assert text.splitlines()[1:] == [
        "hms-recordings emulator --port 8765 &",
        'export HMS_MANAGEMENT_TOKEN="$(hms-recordings token)"',
        'UPSTREAM="--upstream recordings=http://127.0.0.1:8765/v2"',
    ]
    assert setup_text(load_file(OTHER_API)) is None


@pytest.mark.anyio
async def test_an_in_process_emulator_brings_its_transport_and_credentials_that_it_accepts() -> None:
    creds = AppCredentials("key-for-test", "secret-for-test-that-is-long-enough-for-hs256")
    env = {"HMS_ACCESS_KEY": creds.access_key, "HMS_APP_SECRET": creds.app_secret}
    async with start_emulator("inprocess", env) as emulated:
        assert emulated.transport is not None
        assert set(emulated.transports_for(load_file())) == {"recordings"}
        assert verify_management_token(emulated.env["HMS_MANAGEMENT_TOKEN"], creds)["access_key"] == "key-for-test"
        async with httpx2.AsyncClient(transport=emulated.transport, base_url=emulated.base_url) as client:
            headers = {"Authorization": f"Bearer {emulated.env['HMS_MANAGEMENT_TOKEN']}"}
            assert (await client.get("/v2/recordings", headers=headers)).status_code == 200
