"""Secrets in shortened text, in third-party debug logs and in a binds file's error (issue 13, items 14, 15, 16)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp

from hms_recordings.runtime.redact import REDACTED, Redactor
from hms_recordings.server.logging import configure_logging
from hms_recordings.server.settings import ServeSettings
from tests.hosting import mcp_app

from .conftest import CANARY_KEY, CANARY_SECRET, CANARY_TOKEN, HarnessFactory, serve_asgi
from .test_upstream_answers import REC, Answer, answering, rest_socket

pytestmark = pytest.mark.anyio

ASSET = "6a10bb2d3e4f5a6b7c8d9e0f"
PRESIGN = "hms-get-recording-presigned-url"

#: One presigned URL per signing scheme 100ms may hand out (its storage can be AWS, GCS or Azure, fronted or not by
#: CloudFront). The values after each signed parameter are what must never reach a log.
SIGNED_URLS = {
    "aws-sigv4": (
        "https://bucket.s3.amazonaws.com/rec/a.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAEXAMPLECANARY1%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261202T000000Z"
        "&X-Amz-Expires=3600&X-Amz-Security-Token=canarySessionTokenAWS77&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=canaryawssig0123456789abcdef",
        ["AKIAEXAMPLECANARY1", "canarySessionTokenAWS77", "canaryawssig0123456789abcdef"],
    ),
    "gcs-v4": (
        "https://storage.googleapis.com/bucket/rec/a.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        "&X-Goog-Credential=canary-sa%40project.iam.gserviceaccount.com%2F20261202%2Fauto%2Fstorage%2Fgoog4_request"
        "&X-Goog-Date=20261202T000000Z&X-Goog-Expires=3600&X-Goog-SignedHeaders=host"
        "&X-Goog-Signature=canarygcssig9f8e7d6c5b4a",
        ["canary-sa%40project", "canarygcssig9f8e7d6c5b4a"],
    ),
    "azure-sas": (
        "https://acct.blob.core.windows.net/rec/a.mp4?sv=2022-11-02&se=2026-12-03T00%3A00%3A00Z&sr=b&sp=r"
        "&sig=canaryAzureSig%2Bx%2Fy%3D",
        ["canaryAzureSig", "2026-12-03T00%3A00%3A00Z"],
    ),
    "cloudfront": (
        "https://d111111abcdef8.cloudfront.net/rec/a.mp4?Expires=1764633600&Policy=canaryPolicyeyJTdGF0ZW1lbnQi"
        "&Signature=canaryCloudFrontSig~abc__&Key-Pair-Id=K2CANARYKEYPAIR",
        ["canaryPolicyeyJTdGF0ZW1lbnQi", "canaryCloudFrontSig", "K2CANARYKEYPAIR"],
    ),
}


# ------------------------------------------------------------------------------------------ item 14: redact, then cut


@pytest.mark.parametrize("secret", ["given-token", "jwt"])
async def test_a_token_echoed_across_the_cut_leaks_none_of_its_characters(
    make_harness: HarnessFactory, secret: str
) -> None:
    env = {"HMS_MANAGEMENT_TOKEN": CANARY_TOKEN, "HMS_ACCESS_KEY": CANARY_KEY, "HMS_APP_SECRET": CANARY_SECRET}
    token = CANARY_TOKEN if secret == "given-token" else "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJl"
    # The echoed token starts 12 characters before the 300-character cut.
    message = "x" * 288 + token + " was refused"
    async with answering(make_harness, env=env) as (h, answer), rest_socket(h) as client:
        h.service.redactor.add(CANARY_TOKEN)
        answer.set(400, json.dumps({"code": 400, "message": message}).encode(), content_type="application/json")
        outcome = await h.call("hms-get-recording", {"recording_id": REC})
        response = await client.get(f"/recordings/{REC}")
    assert outcome.error is not None
    for text in (outcome.error.message, response.json()["detail"]):
        assert token[:8] not in text, text[-120:]


def test_shorten_redacts_before_it_cuts() -> None:
    redactor = Redactor(["canary-secret-value-42"])
    text = "a" * 15 + "canary-secret-value-42"
    assert redactor.shorten(text, 20) == "a" * 15 + REDACTED[:4] + "…"
    assert "canary" not in redactor.shorten(text, 20)


# --------------------------------------------------------------------------- item 15: every logger, every signature


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("scheme", sorted(SIGNED_URLS))
async def test_at_debug_no_third_party_logger_writes_a_signed_url_of_any_provider(
    make_harness: HarnessFactory, capsys: pytest.CaptureFixture[str], restore_logging: None, scheme: str
) -> None:
    url, secrets = SIGNED_URLS[scheme]
    own = logging.getLogger("tests.third_party_with_its_own_handler")
    own.propagate = False
    own_handler = logging.StreamHandler(sys.stderr)
    own.addHandler(own_handler)
    try:
        assets: list[Answer] = []

        def wrap(app: ASGIApp) -> ASGIApp:
            # The presign tool reads the asset first (for its type), then asks for the link: both answered here.
            assets.append(Answer(app, f"/v2/recording-assets/{ASSET}"))
            return Answer(assets[0], f"/v2/recording-assets/{ASSET}/presigned-url")

        async with make_harness(wrap=wrap) as h:
            answer = h.upstream
            assets[0].set(
                200,
                json.dumps({"id": ASSET, "type": "room-composite", "status": "completed"}).encode(),
                content_type="application/json",
            )
            answer.set(
                200, json.dumps({"id": ASSET, "url": url, "expiry": 3600}).encode(), content_type="application/json"
            )
            configure_logging("DEBUG", h.service.redactor)
            # Stateful Streamable HTTP with SSE answers: the SDK's and sse-starlette's DEBUG lines carry each chunk.
            async with (
                serve_asgi(mcp_app(h, ServeSettings(json_response=False))) as base,
                httpx2.AsyncClient(timeout=10) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
            ):
                result = await client.call_tool(PRESIGN, {"asset_id": ASSET})
            logging.getLogger("httpcore2.http11").debug("receive_response_body %s", url)
            own.debug("a library that prints what it fetched: %s", url)
    finally:
        own.removeHandler(own_handler)
    assert not result.is_error
    assert result.structured_content is not None and result.structured_content["url"] == url  # the one place
    logged = capsys.readouterr().err
    assert "sse_starlette" in logged or "chunk" in logged or "mcp" in logged, "no third-party DEBUG line was written"
    for value in secrets:
        assert value not in logged, f"{scheme}: {value} reached the log"


# -------------------------------------------------------------------------- item 16: a binds file repeating a key


@pytest.mark.parametrize("kind", ["yaml", "json"])
def test_a_binds_file_that_repeats_a_key_names_the_key_and_line_but_never_a_value(tmp_path: Path, kind: str) -> None:
    source = Path(__file__).resolve().parents[1] / "format" / "files" / "binds.yaml"
    text = source.read_text(encoding="utf-8").replace("file:///./secrets.yaml", f"file:///./secrets.{kind}")
    (tmp_path / "binds.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "settings.json").write_text('{"page_size": 10}', encoding="utf-8")
    first, second = "canary-first-secret-value-4d1c", "canary-second-secret-value-8e2a"
    if kind == "yaml":
        secrets = f"# vault\nhms-token: {first}\nother: plain\nhms-token: {second}\n"
    else:
        secrets = f'{{\n  "hms-token": "{first}",\n  "other": "plain",\n  "hms-token": "{second}"\n}}\n'
    (tmp_path / f"secrets.{kind}").write_text(secrets, encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HMS_DEFAULT_ROOM": "6a0f1c2d3e4f5a6b7c8d9e0f",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hms_recordings.cli",
            "call",
            "--capability",
            str(tmp_path / "binds.yaml"),
            "default-room-recordings",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "hms-token" in output and "line 4" in output, output
    assert first not in output and second not in output, output
    assert "Traceback" not in output
