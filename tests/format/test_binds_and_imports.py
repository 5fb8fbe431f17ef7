"""Binds from files and the environment (files/binds.yaml), consumes imported from another file (files/imports.yaml)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hms_recordings.capability.loader import load_file
from hms_recordings.emulator import EmulatorApp
from hms_recordings.errors import BindingError, CapabilityError
from tests.rig import open_service

from .conftest import FILES, ROOM, UPSTREAM, MakeEngine

Record = Callable[..., Awaitable[dict[str, Any]]]


def binds_dir(tmp_path: Path, token: str, *, secrets: dict[str, str] | None = None) -> Path:
    shutil.copy(FILES / "binds.yaml", tmp_path / "binds.yaml")
    (tmp_path / "secrets.yaml").write_text(json.dumps(secrets if secrets is not None else {"hms-token": token}))
    (tmp_path / "settings.json").write_text(json.dumps({"page_size": 25}))
    return tmp_path / "binds.yaml"


@pytest.mark.anyio
async def test_variables_bound_from_yaml_json_and_the_environment_reach_the_request(
    tmp_path: Path, token: str, emulator: EmulatorApp, record: Record
) -> None:
    recording = await record()
    capability = load_file(binds_dir(tmp_path, token))
    service = open_service(
        capability, transport=httpx2.ASGITransport(app=emulator), upstream=UPSTREAM, env={"HMS_DEFAULT_ROOM": ROOM}
    )

    async with service as engine:
        outcome = await engine.call("default-room-recordings", {})

    assert outcome.error is None, outcome.error  # the token came from secrets.yaml
    assert [r["id"] for r in outcome.data["data"]] == [recording["id"]]
    sent = [e for e in emulator.emulator.request_log if e["path"] == "/v2/recordings"][-1]
    assert sent["query"] == {"room_id": ROOM, "limit": "25"}  # from the environment and from settings.json


def test_a_key_missing_from_a_bound_file_stops_start_up_naming_key_and_file(tmp_path: Path, token: str) -> None:
    capability = load_file(binds_dir(tmp_path, token, secrets={"other": "x"}))

    with pytest.raises(BindingError, match=r"hms-token \(in file:///\./secrets\.yaml\)"):
        open_service(capability, env={"HMS_DEFAULT_ROOM": ROOM})


@pytest.mark.anyio
async def test_an_imported_consumed_api_serves_under_its_as_name(make_engine: MakeEngine, record: Record) -> None:
    recording = await record()
    engine = make_engine("imports.yaml")

    outcome = await engine.call("recording-status", {"recording_id": recording["id"]})

    assert sorted(engine.inventory.capability.consumes) == ["hms"]
    assert engine.inventory.capability.consumes["hms"].operations["get-recording"].key == "hms.get-recording"
    assert outcome.data == "completed"


def test_an_import_of_a_namespace_the_file_lacks_names_the_ones_it_has(tmp_path: Path) -> None:
    shutil.copytree(FILES / "shared", tmp_path / "shared")
    text = (FILES / "imports.yaml").read_text().replace("import: recordings", "import: nope")
    (tmp_path / "imports.yaml").write_text(text)

    with pytest.raises(CapabilityError) as raised:
        load_file(tmp_path / "imports.yaml")

    assert "has no inline consumed API named `nope`" in raised.value.message
    assert "use one of: recordings, other" in raised.value.message


def test_an_import_from_a_missing_file_is_a_finding_at_its_location(tmp_path: Path) -> None:
    (tmp_path / "imports.yaml").write_text((FILES / "imports.yaml").read_text())

    with pytest.raises(CapabilityError) as raised:
        load_file(tmp_path / "imports.yaml")

    first = raised.value.findings[0]
    assert (first.path, first.line) == ("capability.consumes[0].location", 12)
    assert "cannot import consumes" in first.message
