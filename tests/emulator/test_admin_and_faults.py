"""The admin API and fault injection (product.md "Emulator admin API")."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from hms_recordings.emulator import (
    ConnectionDropped,
    EmulatorApp,
    EmulatorConfig,
    add_cli_arguments,
    config_from_args,
    create_app,
)

from .conftest import ROOM


def rule(**fields: object) -> dict[str, object]:
    return {"method": "GET", "path_prefix": "/v2/recordings", "rate": 1.0, "status": 503, "mode": "error", **fields}


@pytest.mark.requirement("ADMIN-RESET")
@pytest.mark.anyio
async def test_reset_clears_recordings_log_and_faults(client: httpx2.AsyncClient, emulator_app: EmulatorApp) -> None:
    """product.md: POST /_emulator/reset clears all state."""
    await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
    await client.put("/_emulator/faults", json={"rules": [rule(path_prefix="/v2/recording-assets")]})
    assert (await client.post("/_emulator/reset")).status_code == 204
    assert (await client.get("/_emulator/requests")).json() == []
    assert (await client.get("/_emulator/faults")).json() == {"rules": []}
    assert (await client.get("/v2/recordings")).json()["data"] == []


@pytest.mark.requirement("ADMIN-LOG")
@pytest.mark.anyio
async def test_request_log_lists_api_requests_oldest_first_without_headers(client: httpx2.AsyncClient) -> None:
    """product.md: [{method, path, query, status}] for /v2 requests only, including refused ones."""
    await client.get("/v2/recordings", params={"limit": "20", "room_id": ROOM})
    await client.post(f"/v2/recordings/room/{ROOM}/start", content=b"")
    await client.get("/openapi.json")
    log = (await client.get("/_emulator/requests")).json()
    assert log == [
        {"method": "GET", "path": "/v2/recordings", "query": {"limit": "20", "room_id": ROOM}, "status": 200},
        {"method": "POST", "path": f"/v2/recordings/room/{ROOM}/start", "query": {}, "status": 400},
    ]
    assert "Bearer" not in json.dumps(log)


@pytest.mark.requirement("FAULT-ERROR")
@pytest.mark.anyio
async def test_error_fault_answers_its_status_with_retry_after_and_does_nothing(
    client: httpx2.AsyncClient, emulator_app: EmulatorApp
) -> None:
    """product.md: mode error answers ``status`` (+ Retry-After) without doing the work; DELETE clears rules."""
    await client.put("/_emulator/faults", json={"rules": [rule(method="POST", status=429, retry_after=2)]})
    response = await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json()["code"] == 429
    assert emulator_app.emulator.store.recordings == {}
    assert (await client.get("/v2/recordings")).status_code == 200
    assert (await client.delete("/_emulator/faults")).status_code == 204
    assert (await client.post(f"/v2/recordings/room/{ROOM}/start", json={})).status_code == 200


@pytest.mark.requirement("FAULT-DROP")
@pytest.mark.anyio
async def test_drop_fault_raises_a_remote_protocol_error_in_process_and_does_nothing(
    client: httpx2.AsyncClient, emulator_app: EmulatorApp
) -> None:
    """product.md: mode drop closes the connection without doing the work (in-process: RemoteProtocolError)."""
    await client.put("/_emulator/faults", json={"rules": [rule(method="POST", mode="drop")]})
    with pytest.raises(httpx2.RemoteProtocolError):
        await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
    assert emulator_app.emulator.store.recordings == {}
    assert emulator_app.emulator.request_log[-1]["status"] is None


@pytest.mark.requirement("FAULT-DROP")
@pytest.mark.anyio
async def test_drop_after_commit_does_the_work_then_drops(
    client: httpx2.AsyncClient, emulator_app: EmulatorApp
) -> None:
    """product.md: mode drop-after-commit performs the request, then closes the connection without answering."""
    await client.put("/_emulator/faults", json={"rules": [rule(method="POST", mode="drop-after-commit")]})
    with pytest.raises(ConnectionDropped):
        await client.post(f"/v2/recordings/room/{ROOM}/start", json={})
    assert len(emulator_app.emulator.store.recordings) == 1


@pytest.mark.requirement("FAULT-RATE")
@pytest.mark.anyio
async def test_fault_rate_is_drawn_from_the_seeded_generator(emulator_config: EmulatorConfig) -> None:
    """product.md: ``rate`` is a probability from a seeded generator: same seed, same faulted requests."""

    async def statuses() -> list[int]:
        app = create_app(EmulatorConfig(manual_clock=True, seed=42, faults=None))
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://e.test") as c:
            await c.put("/_emulator/faults", json={"rules": [rule(rate=0.5, path_prefix="/v2")]})
            return [(await c.get("/v2/recordings")).status_code for _ in range(40)]

    first, second = await statuses(), await statuses()
    assert first == second
    assert 503 in first
    assert 401 in first


@pytest.mark.requirement("FAULT-LATENCY")
@pytest.mark.anyio
async def test_latency_fault_only_delays(client: httpx2.AsyncClient, emulator_app: EmulatorApp) -> None:
    """product.md: mode latency only delays (anyio.sleep) and then answers normally."""
    await client.put("/_emulator/faults", json={"rules": [rule(mode="latency", latency_ms=1)]})
    assert (await client.get("/v2/recordings")).status_code == 200


@pytest.mark.requirement("FAULT-RULES")
@pytest.mark.anyio
@pytest.mark.parametrize(
    "bad",
    [
        {"rules": [{"mode": "explode"}]},
        {"rules": [{"rate": 2}]},
        {"rules": [{"status": 99}]},
        {"rules": "x"},
        {"rules": [{"path_prefix": "v2"}]},
        {"rules": [{"colour": "red"}]},
    ],
)
async def test_invalid_fault_rules_answer_400_and_keep_the_old_rules(
    client: httpx2.AsyncClient, bad: dict[str, object]
) -> None:
    """product.md: rules are validated; a bad document is 400 and changes nothing."""
    await client.put("/_emulator/faults", json={"rules": [rule()]})
    response = await client.put("/_emulator/faults", json=bad)
    assert response.status_code == 400
    assert response.json()["message"] == "invalid fault rules"
    assert len((await client.get("/_emulator/faults")).json()["rules"]) == 1


@pytest.mark.requirement("FAULT-RULES")
def test_faults_file_and_flags_build_the_config(tmp_path: Path) -> None:
    """Issue 2: ``--faults FILE`` loads the PUT /_emulator/faults JSON at start; flags map onto EmulatorConfig."""
    import argparse

    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"rules": [rule(mode="drop", method="*")]}))
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    args = parser.parse_args(["--faults", str(path), "--seed", "3", "--start-delay", "0", "--manual-clock"])
    config = config_from_args(args)
    assert config.seed == 3
    assert config.start_delay == 0
    assert config.manual_clock
    assert args.port == 8765
    assert config.faults is not None
    assert config.faults[0].mode == "drop"
    assert config.faults[0].method is None


@pytest.mark.requirement("CLOCK")
@pytest.mark.anyio
async def test_clock_advance_is_refused_on_a_real_clock_and_validated_on_a_manual_one(
    client: httpx2.AsyncClient,
) -> None:
    """Issue 2: POST /_emulator/clock advances a manual clock; 409 on a real clock; 400 for bad values."""
    before = (await client.get("/_emulator/clock")).json()["epoch"]
    after = (await client.post("/_emulator/clock", json={"advance_seconds": 90})).json()["epoch"]
    assert after == before + 90
    assert (await client.post("/_emulator/clock", json={"advance_seconds": -1})).status_code == 400
    real = create_app(EmulatorConfig())
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=real), base_url="http://e.test") as c:
        assert (await c.post("/_emulator/clock", json={"advance_seconds": 1})).status_code == 409
