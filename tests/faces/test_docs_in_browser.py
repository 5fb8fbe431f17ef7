"""``serve`` over real sockets, and the ``/docs`` page in headless Chromium (Debian's ``chromium`` package).

The page must render every operation from ``/openapi.json`` with its own JavaScript and run a call against the
emulator from the page. A screenshot is saved as ``test-artifacts/docs-page.png`` (git-ignored). Chromium missing is
a failure, never a skip: ``scripts/check`` installs it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from tests.clients.harness import console_script, free_port, start_server

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_TIMEOUT = 120.0
PORT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Served:
    mcp: str
    rest: str


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + PORT_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"nothing listens on {port} after {PORT_TIMEOUT:g}s")
            time.sleep(0.05)  # bounded readiness polling


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    port, rest_port = free_port(), free_port()
    args = [str(console_script()), "serve", "--emulator", "--port", str(port), "--rest-port", str(rest_port)]
    running, stop = start_server(args, port=port)
    try:
        _wait_for_port(rest_port)
        assert f"REST on http://127.0.0.1:{rest_port}, docs at http://127.0.0.1:{rest_port}/docs" in running.stderr
        yield Served(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{rest_port}")
    finally:
        stop()


def chromium(url: str, profile: Path, *options: str) -> str:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).exists():
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (scripts/check does it)")
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,900", "--virtual-time-budget=5000", *options, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_docs_page_shows_every_recordings_operation_in_chromium(served: Served, tmp_path: Path) -> None:
    dom = chromium(f"{served.rest}/docs", tmp_path / "profile", "--dump-dom")
    spec = httpx2.get(f"{served.rest}/openapi.json").json()
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert "hms-list-recordings" in ids
    for operation_id in ids:
        assert f'id="op-{operation_id}"' in dom, operation_id  # cards are built by the page's script
    for path in ("/recordings", "/rooms/{room_id}/recording/start", "/recording-assets/{asset_id}/presigned-url"):
        assert f'<span class="path">{path}</span>' in dom
    assert "<title>100ms Recordings - REST API</title>" in dom


def test_a_call_tried_from_the_docs_page_answers_from_the_emulator(served: Served, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "docs-page.png"
    screenshot.unlink(missing_ok=True)
    url = f"{served.rest}/docs#try=hms-list-recordings"
    dom = chromium(url, tmp_path / "profile", "--dump-dom")
    assert 'class="status ok">GET /recordings -&gt; 200' in dom
    assert "this is the last page" in dom  # the emulator's answer, shown in the page
    chromium(url, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000


def test_serve_runs_the_mcp_and_rest_faces_in_one_process(served: Served) -> None:
    with httpx2.Client(timeout=30) as client:
        initialize = client.post(
            f"{served.mcp}/mcp",
            headers={"Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            },
        )
        assert initialize.status_code == 200
        assert "recordings-mcp" in initialize.text
        listed = client.get(f"{served.rest}/recordings")
        assert listed.status_code == 200
        assert listed.headers["x-request-id"]
        for base in (served.mcp, served.rest):
            assert client.get(f"{base}/health/ready").json()["status"] == "ready"
            assert "hms_tool_calls_total" in client.get(f"{base}/metrics").text
        # Both faces share one service: the REST call shows in the metrics of the MCP port, as the REST face's.
        rest_calls = 'hms_tool_calls_total{face="rest",outcome="ok",tool="hms-list-recordings"} '
        [count] = [
            line for line in client.get(f"{served.mcp}/metrics").text.splitlines() if line.startswith(rest_calls)
        ]
        assert float(count.removeprefix(rest_calls)) >= 1  # the page's own calls (other tests) count too
