"""Start-body validation with the observed messages (reference §4.4, §6)."""

from __future__ import annotations

import httpx2
import pytest

from hms_recordings.emulator import EmulatorApp, EmulatorConfig

from .conftest import ROOM

START = f"/v2/recordings/room/{ROOM}/start"


@pytest.mark.requirement("START-EMPTY")
@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"", b"  \n"])
async def test_start_with_empty_body_answers_400_request_body_must_not_be_empty(
    client: httpx2.AsyncClient, body: bytes
) -> None:
    """§6 [O QA1]: 400 ``request body must not be empty``."""
    response = await client.post(START, content=body)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "request body must not be empty"}


@pytest.mark.requirement("START-BAD-JSON")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"meeting_url": }', "request body contains badly-formed JSON (at position 17)"),
        (b'{"meeting_url": "x",}', "request body contains badly-formed JSON (at position 21)"),
        (b'{"meeting_url": "x"', "request body contains badly-formed JSON"),
        (b'{"a": NaN}', "request body contains badly-formed JSON"),
        (b'{"a": 1} {"b": 2}', "request body must only contain a single JSON value"),
        (b'{"a": "\xff"}', "request body contains badly-formed JSON (at position 8)"),
    ],
)
async def test_start_with_malformed_json_answers_400_with_the_position(
    client: httpx2.AsyncClient, body: bytes, message: str
) -> None:
    """§6 [O QA1]: 400 ``request body contains badly-formed JSON (at position N)``, N as Go's byte offset."""
    response = await client.post(START, content=body)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": message}


@pytest.mark.requirement("START-INVALID")
@pytest.mark.anyio
async def test_start_with_empty_meeting_url_answers_400_invalid_input(client: httpx2.AsyncClient) -> None:
    """§6 [O QA1]: ``meeting_url: ""`` is 400 ``invalid input``."""
    response = await client.post(START, json={"meeting_url": ""})
    assert response.status_code == 400
    assert response.json()["message"] == "invalid input"


@pytest.mark.requirement("START-TYPES")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"meeting_url": 5}, "meeting_url"),
        ({"audio_only": "yes"}, "audio_only"),
        ({"resolution": {"width": 1280.5, "height": 720}}, "resolution.width"),
        ({"resolution": {"width": True, "height": 720}}, "resolution.width"),
        ({"transcription": {"enabled": 1}}, "transcription.enabled"),
        ({"transcription": {"enabled": True, "output_modes": "txt"}}, "transcription.output_modes"),
    ],
)
async def test_start_with_a_wrong_json_type_answers_400_naming_the_field(
    client: httpx2.AsyncClient, body: dict[str, object], field: str
) -> None:
    """§6 [I, Go json idiom]: 400 ``request body contains incorrect JSON type for field "x"``."""
    response = await client.post(START, json=body)
    assert response.status_code == 400
    assert response.json()["message"] == f'request body contains incorrect JSON type for field "{field}"'


@pytest.mark.requirement("START-RESOLUTION")
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("width", "height", "ok"),
    [
        (1280, 720, True),
        (720, 1280, True),
        (1920, 1080, True),
        (1080, 1920, True),
        (500, 480, True),
        (499, 720, False),
        (1280, 479, False),
        (1921, 1080, False),
        (1920, 1920, False),
        (500, 499, True),
    ],
)
async def test_start_resolution_bounds(client: httpx2.AsyncClient, width: int, height: int, ok: bool) -> None:
    """§4.4 [C sibling APIs, I]: width 500-1920, height 480-1920, one side at most 1080; others are 400."""
    response = await client.post(START, json={"resolution": {"width": width, "height": height}})
    assert (response.status_code == 200) is ok, response.text
    if not ok:
        assert response.json()["message"] == "invalid input"


@pytest.mark.requirement("START-TRANSCRIPTION")
@pytest.mark.anyio
@pytest.mark.parametrize(
    "transcription",
    [
        {"enabled": True, "output_modes": ["pdf"]},
        {"enabled": True, "summary": {"enabled": True, "context": "x" * 301}},
        {"enabled": True, "summary": {"enabled": True, "temperature": 1.5}},
        {"enabled": True, "summary": {"enabled": True, "sections": [{"title": "t", "format": "bullets"}] * 7}},
        {"enabled": True, "summary": {"enabled": True, "sections": [{"title": "t"}]}},
        {"enabled": True, "summary": {"enabled": True, "sections": [{"format": "paragraph"}]}},
        {"enabled": True, "summary": {"enabled": True, "sections": [{"title": "t" * 101, "format": "bullets"}]}},
    ],
)
async def test_start_with_invalid_transcription_answers_400_invalid_input(
    client: httpx2.AsyncClient, emulator_app: EmulatorApp, transcription: dict[str, object]
) -> None:
    """§4.4: output modes txt/srt/json, context <=300, temperature 0.1-1.0, <=6 sections with title and format."""
    response = await client.post(START, json={"transcription": transcription})
    assert response.status_code == 400
    assert response.json()["message"] == "invalid input"
    assert response.json()["details"]
    assert emulator_app.emulator.store.recordings == {}


@pytest.mark.requirement("START-TRANSCRIPTION")
@pytest.mark.anyio
async def test_start_accepts_transcription_and_unknown_fields(client: httpx2.AsyncClient) -> None:
    """§4.4 [I]: a full transcription object is accepted; unknown fields are ignored as Go's decoder does."""
    body = {
        "meeting_url": "https://x.test/m",
        "unknown_field": {"a": 1},
        "transcription": {
            "enabled": True,
            "output_modes": ["srt", "txt"],
            "custom_vocabulary": ["100ms"],
            "summary": {
                "enabled": True,
                "context": "c",
                "temperature": 0.5,
                "sections": [{"title": "Agenda", "format": "bullets"}],
            },
        },
    }
    response = await client.post(START, json=body)
    assert response.status_code == 200
    assert response.json()["asset_types"] == ["room-composite", "chat", "transcript", "summary"]


@pytest.mark.requirement("START-LIMITS")
@pytest.mark.anyio
async def test_start_body_larger_than_the_limit_answers_413(
    client: httpx2.AsyncClient, emulator_config: EmulatorConfig, emulator_app: EmulatorApp
) -> None:
    """§2 [I]: bodies above max_body_bytes are 413 with the 100ms error body, and nothing is created."""
    emulator_config.max_body_bytes = 100
    response = await client.post(START, json={"meeting_url": "https://x.test/" + "a" * 200})
    assert response.status_code == 413
    assert response.json() == {"code": 413, "message": "request body must not be larger than 100 bytes"}
    assert emulator_app.emulator.store.recordings == {}
