"""``hms-recordings download`` end to end over a real socket: the emulator on a free port, the command as a user runs
it (``main([...])`` in a worker thread), interrupted transfers (the emulator's ``cut`` fault: status, headers and the
first ``after_bytes`` bytes, then the connection closes) resumed with HTTP Range, sizes checked, files renamed into
place only when whole (docs/emulator.md, "Admin API": the fault modes)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest

from hms_recordings.cli import main
from hms_recordings.emulator import EmulatorConfig, RunningEmulator, serve_in_background
from hms_recordings.hms.download import safe_name
from hms_recordings.hms.tokens import mint_management_token
from tests.rig import ROOM

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


@dataclass
class Recorded:
    running: RunningEmulator
    recording_id: str
    assets: dict[str, dict[str, object]]  # by type
    token: str

    def cut_downloads(self, after_bytes: int) -> dict[str, object]:
        return {
            "rules": [
                {"method": "GET", "path_prefix": "/_emulator/download/", "mode": "cut", "after_bytes": after_bytes}
            ]
        }

    async def admin(self, method: str, path: str, body: object = None) -> None:
        async with httpx2.AsyncClient(base_url=self.running.base_url) as client:
            response = await client.request(method, path, json=body)
            assert response.status_code < 300, response.text

    async def clean_copy(self, asset_id: str) -> bytes:
        """The asset's bytes downloaded in one piece, with no fault in the way."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx2.AsyncClient(base_url=self.running.api_url, headers=headers) as client:
            url = (await client.get(f"/recording-assets/{asset_id}/presigned-url")).json()["url"]
            return (await client.get(url, headers={"Authorization": ""})).content


@asynccontextmanager
async def recorded(monkeypatch: pytest.MonkeyPatch, seconds: float = 20) -> AsyncIterator[Recorded]:
    config = EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=5)
    async with serve_in_background(config) as running:
        token = mint_management_token(config.credentials, now=running.app.emulator.clock.now())
        monkeypatch.setenv("HMS_MANAGEMENT_TOKEN", token)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(base_url=running.api_url, headers=headers) as client:
            started = (await client.post(f"/recordings/room/{ROOM}/start", json={})).json()
            await client.get("/recordings")  # running
            await client.post(f"{running.base_url}/_emulator/clock", json={"advance_seconds": seconds})
            await client.post(f"/recordings/room/{ROOM}/stop")
            recording = (await client.get(f"/recordings/{started['id']}")).json()
        assert recording["status"] == "completed"
        assets = {a["type"]: a for a in recording["recording_assets"]}
        yield Recorded(running, started["id"], assets, token)


async def download(r: Recorded, *args: str) -> tuple[int, str, str]:
    argv = ["download", r.recording_id, "--upstream", f"recordings={r.running.api_url}", *args]
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(argv)

    with anyio.fail_after(60):
        code = await anyio.to_thread.run_sync(run)
    return code, out.getvalue(), err.getvalue()


async def test_every_asset_downloads_through_interruptions_resumed_with_range(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with recorded(monkeypatch) as r:
        composite, chat = r.assets["room-composite"], r.assets["chat"]
        size = int(composite["size"])  # type: ignore[call-overload]
        # Every request is cut a third of the way: only a client that resumes where it stopped can finish.
        await r.admin("PUT", "/_emulator/faults", r.cut_downloads(size // 3 + 1))
        code, out, err = await download(r, "--dir", str(tmp_path))
        await r.admin("DELETE", "/_emulator/faults")
        expected = {a["id"]: await r.clean_copy(str(a["id"])) for a in (composite, chat)}
    assert code == 0, err
    check_files(tmp_path, composite, chat, expected, out, err)


def check_files(
    tmp_path: Path,
    composite: dict[str, object],
    chat: dict[str, object],
    expected: dict[object, bytes],
    out: str,
    err: str,
) -> None:
    size = int(composite["size"])  # type: ignore[call-overload]
    video = tmp_path / safe_name(str(composite["path"]), str(composite["id"]), "room-composite")
    chat_file = tmp_path / safe_name(str(chat["path"]), str(chat["id"]), "chat")
    assert video.name.startswith(f"Rec-{ROOM}-") and video.suffix == ".mp4" and chat_file.suffix == ".csv"
    assert video.stat().st_size == size and video.read_bytes() == expected[composite["id"]]
    assert hashlib.sha256(chat_file.read_bytes()).digest() == hashlib.sha256(expected[chat["id"]]).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([video.name, chat_file.name])  # no .part left
    assert "2 interruption(s)" in out, err
    assert f"2 of 2 file(s) in {tmp_path}" in out
    assert "signature=" not in out + err  # presigned URLs are never printed
    probe = shutil.which("ffprobe")
    assert probe is not None, "ffprobe is missing: install Debian's ffmpeg (scripts/check does)"
    shown = subprocess.run([probe, "-v", "error", "-of", "json", "-show_format", str(video)], capture_output=True)
    assert shown.returncode == 0 and shown.stderr == b"" and json.loads(shown.stdout)["format"]["format_name"]


async def test_an_interrupted_run_leaves_only_a_part_file_and_the_next_run_resumes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with recorded(monkeypatch) as r:
        composite = r.assets["room-composite"]
        size, cut = int(composite["size"]), 100_000  # type: ignore[call-overload]
        await r.admin("PUT", "/_emulator/faults", r.cut_downloads(cut))
        failed, out1, _ = await download(r, "--dir", str(tmp_path), "--types", "room-composite", "--attempts", "1")
        name = safe_name(str(composite["path"]), str(composite["id"]), "room-composite")
        part = tmp_path / f".{name}.part"
        left, part_size = listing(tmp_path), await anyio.Path(part).stat()
        await r.admin("DELETE", "/_emulator/faults")
        code, out2, err2 = await download(r, "--dir", str(tmp_path), "--types", "room-composite")
        expected = await r.clean_copy(str(composite["id"]))
    assert failed == 1 and "failed: interrupted 1 times" in out1 and "run again to resume" in out1
    assert left == [part.name] and part_size.st_size == cut  # never a file under the final name until it is whole
    assert code == 0, err2
    assert f"resumed from byte {cut}" in out2
    assert (tmp_path / name).read_bytes() == expected and len(expected) == size


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_types_choose_the_assets_and_a_present_file_is_not_downloaded_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with recorded(monkeypatch) as r:
        first = await download(r, "--dir", str(tmp_path), "--types", "chat")
        second = await download(r, "--dir", str(tmp_path), "--types", "chat")
        wrong = await download(r, "--dir", str(tmp_path), "--types", "summary")
    assert first[0] == 0 and [Path(name).suffix for name in listing(tmp_path)] == [".csv"]
    assert second[0] == 0 and "already present" in second[1]
    assert wrong[0] == 1 and "no completed asset of type summary" in wrong[2] and "room-composite" in wrong[2]


async def test_a_recording_that_is_still_running_downloads_nothing_and_says_to_wait(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=5)
    async with serve_in_background(config) as running:
        token = mint_management_token(config.credentials, now=running.app.emulator.clock.now())
        monkeypatch.setenv("HMS_MANAGEMENT_TOKEN", token)
        async with httpx2.AsyncClient(base_url=running.api_url, headers={"Authorization": f"Bearer {token}"}) as c:
            started = (await c.post(f"/recordings/room/{ROOM}/start", json={})).json()
        r = Recorded(running, started["id"], {}, token)
        code, _, err = await download(r, "--dir", str(tmp_path / "out"))
    assert code == 1 and "nothing to download" in err and "hms-wait-for-recording" in err
    assert not await anyio.Path(tmp_path / "out").exists()


def test_file_names_are_safe_whatever_the_storage_path_says() -> None:
    assert safe_name("s3://b/x/Rec-room-1.mp4", "a1", "room-composite") == "Rec-room-1.mp4"
    assert safe_name("../../etc/passwd", "a1", "chat") == "passwd"
    assert safe_name("s3://b/..", "a1", "chat") == "chat-a1"
    assert safe_name("s3://b/.hidden", "a1", "chat") == "hidden"
    assert safe_name("s3://b/a b?c;d.csv", "a1", "chat") == "a_b_c_d.csv"
    assert safe_name(None, "a1", "room/composite") == "room_composite-a1"
    assert len(safe_name("x" * 500 + ".mp4", "a1", "t")) == 200
