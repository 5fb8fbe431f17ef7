"""Pagination and filters of the list endpoints (reference §3, §4.2, §4.9)."""

from __future__ import annotations

import httpx2
import pytest

from .conftest import OTHER_ROOM, ROOM


async def make_recordings(client: httpx2.AsyncClient, count: int, room: str = ROOM) -> list[str]:
    ids = []
    for _ in range(count):
        rec = (await client.post(f"/v2/recordings/room/{room}/start", json={})).json()
        await client.post(f"/v2/recordings/room/{room}/stop")
        ids.append(rec["id"])
    return ids


@pytest.mark.requirement("PAGE-ENVELOPE")
@pytest.mark.anyio
async def test_list_pages_newest_first_with_limit_data_last_and_an_exclusive_cursor(
    client: httpx2.AsyncClient,
) -> None:
    """§3: {limit, data, last}; default limit 10; ``start`` = previous ``last`` gives the next page without repeats."""
    ids = await make_recordings(client, 13)
    first = (await client.get("/v2/recordings")).json()
    assert first["limit"] == 10
    assert len(first["data"]) == 10
    assert [r["id"] for r in first["data"]] == ids[::-1][:10]
    assert first["last"] == first["data"][-1]["id"]
    second = (await client.get("/v2/recordings", params={"start": first["last"]})).json()
    assert [r["id"] for r in second["data"]] == ids[::-1][10:]
    empty = (await client.get("/v2/recordings", params={"start": second["last"]})).json()
    assert empty == {"limit": 10, "data": [], "last": ""}


@pytest.mark.requirement("PAGE-STABLE")
@pytest.mark.anyio
async def test_cursor_is_stable_when_recordings_are_inserted_between_pages(client: httpx2.AsyncClient) -> None:
    """§3 [I]: new items sort before the cursor, so a walk in progress neither repeats nor skips anything."""
    ids = await make_recordings(client, 12)
    first = (await client.get("/v2/recordings")).json()
    await make_recordings(client, 5, OTHER_ROOM)
    second = (await client.get("/v2/recordings", params={"start": first["last"]})).json()
    assert [r["id"] for r in first["data"] + second["data"]] == ids[::-1]


@pytest.mark.requirement("PAGE-LIMIT")
@pytest.mark.anyio
@pytest.mark.parametrize(("raw", "expected"), [("1", 10), ("0", 10), ("-5", 10), ("55", 55), ("1000", 100)])
async def test_limit_outside_10_to_100_is_clamped(client: httpx2.AsyncClient, raw: str, expected: int) -> None:
    """§3 [I]: limit is clamped into 10..100 rather than refused."""
    assert (await client.get("/v2/recordings", params={"limit": raw})).json()["limit"] == expected


@pytest.mark.requirement("PAGE-LIMIT")
@pytest.mark.anyio
@pytest.mark.parametrize("raw", ["ten", "1.5", "1e3", "99999999999999999999"])
async def test_non_integer_limit_answers_400_invalid_input(client: httpx2.AsyncClient, raw: str) -> None:
    """§3 [I]: a limit that is not an integer is 400 ``invalid input``."""
    response = await client.get("/v2/recordings", params={"limit": raw})
    assert response.status_code == 400
    assert response.json()["message"] == "invalid input"


@pytest.mark.requirement("PAGE-FILTERS")
@pytest.mark.anyio
async def test_recordings_filter_by_room_session_and_status(client: httpx2.AsyncClient) -> None:
    """§4.2: room_id, session_id and status filters; unknown query parameters are ignored."""
    done = await make_recordings(client, 2)
    live = (await client.post(f"/v2/recordings/room/{OTHER_ROOM}/start", json={})).json()
    by_room = (await client.get("/v2/recordings", params={"room_id": OTHER_ROOM, "colour": "red"})).json()
    assert [r["id"] for r in by_room["data"]] == [live["id"]]
    by_status = (await client.get("/v2/recordings", params={"status": "completed"})).json()
    assert [r["id"] for r in by_status["data"]] == done[::-1]
    by_session = (await client.get("/v2/recordings", params={"session_id": live["session_id"]})).json()
    assert [r["id"] for r in by_session["data"]] == [live["id"]]
    bad = await client.get("/v2/recordings", params={"status": "paused"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "invalid input"


@pytest.mark.requirement("PAGE-FILTERS")
@pytest.mark.anyio
async def test_assets_filter_by_type_status_and_room(client: httpx2.AsyncClient) -> None:
    """§4.9: asset lists filter on room_id, session_id, status and type (the guide's type filter [I])."""
    await make_recordings(client, 2)
    await make_recordings(client, 1, OTHER_ROOM)
    chats = (await client.get("/v2/recording-assets", params={"type": "chat", "room_id": ROOM})).json()["data"]
    assert len(chats) == 2
    assert {a["type"] for a in chats} == {"chat"}
    assert {a["room_id"] for a in chats} == {ROOM}
    failed = (await client.get("/v2/recording-assets", params={"status": "failed"})).json()["data"]
    assert failed == []
    bad = await client.get("/v2/recording-assets", params={"type": "video"})
    assert bad.status_code == 400


@pytest.mark.requirement("PAGE-LIMIT")
@pytest.mark.anyio
async def test_malformed_start_cursor_answers_400(client: httpx2.AsyncClient) -> None:
    """§3 [I]: ``start`` must be a ``last`` value (a 24-hex id); anything else is 400 ``invalid input``."""
    response = await client.get("/v2/recording-assets", params={"start": "../etc"})
    assert response.status_code == 400
    assert response.json()["message"] == "invalid input"
