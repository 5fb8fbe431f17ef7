"""Schemathesis over the REST face's OpenAPI document (issue 5): no 5xx, no crash, no hang.

The server is a real
``hms-recordings serve --emulator --rest-port`` process, so schemathesis drives it over HTTP like any client.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from .conftest import free_port

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


def test_no_generated_request_gets_a_5xx_or_hangs(rest_schema: Any) -> None:
    """Every operation of the document, with schemathesis-generated requests (valid and not); driven through its
    hypothesis strategies directly, because its pytest plugin does not run on this pytest."""
    operations = [result.ok() for result in rest_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @hypothesis.settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(timeout=15)
            assert response.status_code < 500, (case.path, case.method, response.text[:300])

        check()
