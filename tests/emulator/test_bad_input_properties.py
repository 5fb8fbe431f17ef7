"""Property-based bad input: no request, however malformed, gets a 500 or changes state (issue 2)."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hms_recordings.emulator import EmulatorConfig, create_app
from hms_recordings.hms.tokens import mint_management_token

from .conftest import BASE_URL, ROOM

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
start_fields = st.fixed_dictionaries(
    {},
    optional={
        "meeting_url": json_values,
        "resolution": st.dictionaries(st.sampled_from(["width", "height"]), json_values) | json_values,
        "audio_only": json_values,
        "destination": json_values,
        "transcription": st.fixed_dictionaries(
            {}, optional={"enabled": json_values, "output_modes": json_values, "summary": json_values}
        )
        | json_values,
    },
)


async def send(method: str, path: str, **kwargs: object) -> tuple[int, dict[str, object], int]:
    app = create_app(EmulatorConfig(manual_clock=True, start_delay=0, processing_time=0, seed=1))
    token = mint_management_token(app.emulator.config.credentials, now=app.emulator.clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, headers=headers) as c:
        response = await c.request(method, path, **kwargs)  # type: ignore[arg-type]
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    return response.status_code, body, len(app.emulator.store.recordings)


@pytest.mark.requirement("BAD-INPUT")
@pytest.mark.anyio
@SETTINGS
@given(body=st.binary(max_size=200))
async def test_arbitrary_start_bytes_never_answer_500(body: bytes) -> None:
    """§6: arbitrary bytes as a start body answer 200 or a 4xx with the 100ms error body, never a 500."""
    status, payload, created = await send("POST", f"/v2/recordings/room/{ROOM}/start", content=body)
    assert status == 200 or (400 <= status < 500 and payload["code"] == status and payload["message"])
    assert created == (1 if status == 200 else 0)


@pytest.mark.requirement("BAD-INPUT")
@pytest.mark.anyio
@SETTINGS
@given(body=start_fields | json_values)
async def test_arbitrary_json_start_bodies_answer_200_or_400_and_only_200_creates(body: object) -> None:
    """§4.4, §6: wrongly typed or out-of-range fields are 400 and create nothing; valid ones create one recording."""
    status, payload, created = await send("POST", f"/v2/recordings/room/{ROOM}/start", content=json.dumps(body))
    assert status in (200, 400), payload
    assert created == (1 if status == 200 else 0)


@pytest.mark.requirement("BAD-INPUT")
@pytest.mark.anyio
@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(["limit", "start", "status", "type", "room_id", "session_id", "presign_duration", "x"]),
        st.text(max_size=30),
        max_size=5,
    ),
    path=st.sampled_from(["/v2/recordings", "/v2/recording-assets"]),
)
async def test_arbitrary_query_strings_never_answer_500(params: dict[str, str], path: str) -> None:
    """§3, §4.2, §4.9: any query string answers 200 or 400, never a 500."""
    status, payload, _ = await send("GET", path, params=params)
    assert status in (200, 400), payload


@pytest.mark.requirement("BAD-INPUT")
@pytest.mark.anyio
@SETTINGS
@given(segment=st.text(min_size=1, max_size=40), method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
async def test_odd_paths_answer_clean_4xx(segment: str, method: str) -> None:
    """Issue 2: odd path segments (%2F, .., newlines, unicode) are 403/404/405 with the error body, never a 500."""
    quoted = quote(segment, safe=".%~")  # keeps literal dots and stray percent signs: the odd cases
    for path in (f"/v2/recordings/{quoted}", f"/v2/recordings/room/{quoted}/start", f"/v2/recording-assets/{quoted}"):
        status, payload, created = await send(method, path, content=b"{}")
        assert status < 500
        assert created <= 1
        if status >= 400:
            assert payload["code"] == status


@pytest.mark.requirement("BAD-INPUT")
@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/v2/recordings/a%2Fb",
        "/v2/recordings/..%2F..%2Fetc",
        "/v2/recordings/%0A",
        "/v2/recordings/room/%2F/start",
        "/v2/recordings/",
        "/v2",
        "/v2/unknown",
    ],
)
async def test_encoded_slashes_and_traversal_are_rejected_cleanly(path: str) -> None:
    """Issue 2: %2F and traversal never reach a handler as a different path; answers are 403/404/405."""
    status, payload, created = await send("POST" if path.endswith("start") else "GET", path, content=b"{}")
    assert status in (403, 404, 405)
    assert payload["code"] == status
    assert created == 0
