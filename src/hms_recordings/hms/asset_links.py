"""Download links and asset text that a model can use at once.

``hms.presign-asset`` and ``hms.recording-links`` put the asset's ``type`` next to every URL and call the expiry
``expires_in_seconds`` in both tools (100ms's presign answer says ``expiry``), so that "link the video" needs no join
of two lists by id.

``hms.read-asset`` returns the *text* of a chat, transcript or summary asset: it asks 100ms for a presigned URL,
fetches it here (without the management token, and bounded in bytes), parses the documented format and returns one
page of rows, speaker-labelled lines or sections. The URL never leaves the server. Formats:

- chat CSV, https://www.100ms.live/docs/get-started/v2/get-started/features/recordings/chat-recording
  (``SenderPeerID,SenderName,SenderUserID,Roles,SentAt,Type,Message``);
- transcripts (txt ``Name: sentence`` paragraphs, srt cues, json ``sentences``) and the summary JSON
  (``{"summary": {"sections": [...]}}``),
  https://www.100ms.live/docs/server-side/v2/how-to-guides/enable-transcription-and-summary.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from hms_recordings.errors import DomainError
from hms_recordings.hms.lifecycle import failure_reason
from hms_recordings.runtime.invoker import Invocation
from hms_recordings.runtime.shaping import result_text

__all__ = ["parse_asset_text", "presign_asset", "read_asset", "recording_links"]

NAMESPACE = "recordings"
GET_ASSET = "recordings.getrecordingasset"
GET_RECORDING = "recordings.getrecording"
PRESIGN = "recordings.getpresignedurl"
READABLE = ("chat", "transcript", "summary")
#: Defaults of the read tool's x-options: the largest file fetched, and the characters of items in one page.
DEFAULT_MAX_BYTES, DEFAULT_PAGE_CHARS = 5_000_000, 20_000
_SRT_TIME = re.compile(r"^(\d\d:\d\d:\d\d)[,.]\d{3} -->")


def _link(asset: dict[str, Any], signed: Any) -> dict[str, Any]:
    signed = signed if isinstance(signed, dict) else {}
    return {
        "asset_id": asset.get("id"),
        "type": asset.get("type"),
        "url": signed.get("url"),
        "expires_in_seconds": signed.get("expiry"),
        "size": asset.get("size"),
        "path": signed.get("path", asset.get("path")),
    }


async def _presign(invocation: Invocation, asset_id: str) -> Any:
    params: dict[str, Any] = {"asset_id": asset_id}
    if invocation.args.get("presign_duration") is not None:
        params["presign_duration"] = invocation.args["presign_duration"]
    return await invocation.operation(PRESIGN, params, safe_to_retry=True)


async def presign_asset(invocation: Invocation) -> Any:
    asset_id = invocation.args["asset_id"]
    asset = await invocation.operation(GET_ASSET, {"asset_id": asset_id}, safe_to_retry=True)
    return _link(asset if isinstance(asset, dict) else {"id": asset_id}, await _presign(invocation, asset_id))


async def recording_links(invocation: Invocation) -> Any:
    recording_id = invocation.args["recording_id"]
    recording = await invocation.operation(GET_RECORDING, {"recording_id": recording_id}, safe_to_retry=True)
    recording = recording if isinstance(recording, dict) else {}
    assets = [a for a in recording.get("recording_assets") or [] if isinstance(a, dict)]
    links = [_link(a, await _presign(invocation, str(a.get("id")))) for a in assets if a.get("status") == "completed"]
    pending = [{"asset_id": a.get("id"), "type": a.get("type"), "status": a.get("status")} for a in assets]
    result: dict[str, Any] = {
        "recording_id": recording.get("id", recording_id),
        "status": recording.get("status"),
        "links": links,
        "not_ready": [p for p in pending if p["status"] != "completed"],
    }
    reason = failure_reason(recording)
    if reason:
        result["failure_reason"] = reason
    elif not assets:
        result["message"] = (
            f"no assets yet (status {recording.get('status')}): call hms-wait-for-recording until=completed first"
        )
    return result


# -------------------------------------------------------------------------------------------------- asset text


def _chat(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    return [
        {
            "sent_at": row.get("SentAt"),
            "sender": row.get("SenderName"),
            "sender_user_id": row.get("SenderUserID"),
            "roles": row.get("Roles"),
            "type": row.get("Type"),
            "message": row.get("Message"),
        }
        for row in reader
    ]


def _line(label: str) -> dict[str, Any]:
    speaker, sep, said = label.partition(": ")
    return {"speaker": speaker, "text": said} if sep else {"speaker": None, "text": label}


def _transcript_txt(text: str) -> list[dict[str, Any]]:
    return [_line(" ".join(block.split())) for block in re.split(r"\n\s*\n", text) if block.strip()]


def _transcript_srt(text: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        rows = block.strip().splitlines()
        at = next((m.group(1) for r in rows if (m := _SRT_TIME.match(r))), None)
        said = " ".join(r for r in rows[1:] if not _SRT_TIME.match(r)).strip()
        if said:
            lines.append({"at": at, **_line(said)})
    return lines


def _transcript_json(text: str) -> list[dict[str, Any]]:
    sentences = json.loads(text).get("sentences") or []
    return [
        {"at_ms": s.get("start_time"), "speaker": s.get("name"), "text": s.get("sentence")}
        for s in sentences
        if isinstance(s, dict)
    ]


def _summary(text: str) -> list[dict[str, Any]]:
    sections = (json.loads(text).get("summary") or {}).get("sections") or []
    return [s for s in sections if isinstance(s, dict)]


def parse_asset_text(kind: str, path: str, body: bytes) -> tuple[str, list[dict[str, Any]]]:
    """``(format, items)`` of a chat, transcript or summary file, by the asset type and the path's extension."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    try:
        if kind == "chat":
            return "rows", _chat(text)
        if kind == "summary":
            return "sections", _summary(text)
        if ext == "srt":
            return "lines", _transcript_srt(text)
        if ext == "json":
            return "lines", _transcript_json(text)
        return "lines", _transcript_txt(text)
    except (ValueError, AttributeError, csv.Error) as exc:
        raise DomainError(f"the {kind} file ({ext or 'no extension'}) could not be read: {exc}", kind="error") from None


def _page(items: list[dict[str, Any]], start: int, limit: int, max_chars: int) -> list[dict[str, Any]]:
    """Items from ``start``: at most ``limit``, and only as many as fit ``max_chars`` (at least one)."""
    page: list[dict[str, Any]] = []
    used = 0
    for item in items[start : start + limit]:
        used += len(result_text(item)) + 1
        if page and used > max_chars:
            break
        page.append(item)
    return page


async def read_asset(invocation: Invocation) -> Any:
    asset_id = invocation.args["asset_id"]
    start = int(invocation.args.get("start", 0))
    limit = int(invocation.args.get("limit", 50))
    options = invocation.tool.tool.options
    max_bytes = int(options.get("max_bytes", DEFAULT_MAX_BYTES))
    max_chars = int(options.get("page_chars", DEFAULT_PAGE_CHARS))
    asset = await invocation.operation(GET_ASSET, {"asset_id": asset_id}, safe_to_retry=True)
    asset = asset if isinstance(asset, dict) else {}
    kind, status, path = asset.get("type"), asset.get("status"), str(asset.get("path") or "")
    if kind not in READABLE:
        raise DomainError(
            f"asset {asset_id} is a {kind} asset, which has no text to read (only chat, transcript and summary "
            "do); get a download link with hms-get-recording-presigned-url instead",
            kind="invalid_request",
            status=400,
        )
    if status != "completed":
        raise DomainError(
            f"asset {asset_id} ({kind}) is {status}, not completed yet: transcripts and summaries take a while after "
            "the recording completes; call again later",
            kind="not_ready",
            status=409,
        )
    signed = await invocation.operation(PRESIGN, {"asset_id": asset_id, "presign_duration": 60}, safe_to_retry=True)
    url = signed.get("url") if isinstance(signed, dict) else None
    if not isinstance(url, str):
        raise DomainError(f"100ms gave no download link for asset {asset_id}", kind="upstream_error", status=502)
    body = await invocation.fetch_link(NAMESPACE, url, max_bytes=max_bytes)
    form, items = parse_asset_text(str(kind), path, body)
    page = _page(items, start, limit, max_chars)
    after = start + len(page)
    more = after < len(items)
    return {
        "asset_id": asset_id,
        "recording_id": asset.get("job_id"),
        "type": kind,
        "format": form,
        "total": len(items),
        "items": page,
        "next_start": after if more else None,
        "next_page": f"call {invocation.tool.name} again with start={after}" if more else "this is the last page",
    }
