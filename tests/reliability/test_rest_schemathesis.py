"""Schemathesis over the REST face's OpenAPI document (issue 5): no 5xx, no crash, no hang.

Runs only when schemathesis is installed (it is not a test dependency yet). The server is a real
``hms-recordings serve --emulator --rest-port`` process, so schemathesis drives it over HTTP like any client.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest

from .conftest import free_port

schemathesis = pytest.importorskip("schemathesis")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rest_schema() -> Iterator[object]:
    mcp_port, rest_port = free_port(), free_port()
    command = [
        sys.executable,
        "-m",
        "hms_recordings.cli",
        "serve",
        "--emulator",
        "--port",
        str(mcp_port),
        "--rest-port",
        str(rest_port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{rest_port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded readiness polling
            assert process.poll() is None, "the server exited"
            try:
                if httpx2.get(f"{base}/openapi.json").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    finally:
        process.terminate()
        process.wait(timeout=10)


schema = schemathesis.pytest.from_fixture("rest_schema")


@schema.parametrize()
def test_no_generated_request_gets_a_5xx_or_hangs(case: object) -> None:
    response = case.call(timeout=15)  # type: ignore[attr-defined]
    assert response.status_code < 500, (case, response.text[:300])  # type: ignore[attr-defined]
