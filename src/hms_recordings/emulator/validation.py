"""Parsing of request bodies and query strings, with the real API's status codes and messages.

The 100ms backend is written in Go and its body errors follow the Go ``encoding/json`` helper idiom (reference §6),
so the messages below mirror it: ``request body must not be empty``, ``request body contains badly-formed JSON (at
position N)`` where N is the byte offset Go reports (the offending byte, 1-based), ``request body contains incorrect
JSON type for field "x"``. Values that decode but break a rule get 400 ``invalid input`` with the reason in
``details`` (observed for ``meeting_url: ""``). As with Go's decoder, unknown fields are ignored and ``null`` counts as
absent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .content import DEFAULT_SUMMARY_SECTIONS
from .responses import ApiError

__all__ = [
    "ASSET_STATUSES",
    "ASSET_TYPES",
    "RECORDING_STATUSES",
    "parse_cursor",
    "parse_json_body",
    "parse_limit",
    "parse_start_options",
]

RECORDING_STATUSES = ("starting", "running", "stopping", "post_processing", "completed", "failed")
ASSET_STATUSES = ("completed", "failed", "processing")
ASSET_TYPES = (
    "room-composite",
    "room-composite-legacy",
    "room-vod",
    "chat",
    "transcript",
    "summary",
    "track",
    "stream",
)
OUTPUT_MODES = ("txt", "srt", "json")
_INT = re.compile(r"[+-]?[0-9]{1,18}")
_ID = re.compile(r"[0-9a-f]{24}")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # Go's decoder has no NaN/Infinity literals


def parse_json_body(raw: bytes) -> Any:
    """Decode a JSON body like Go's ``json.Decoder`` helper does, raising 400s with its messages."""
    if not raw.strip():
        raise ApiError(400, "request body must not be empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body contains badly-formed JSON (at position {exc.start + 1})") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            raise ApiError(400, "request body must only contain a single JSON value") from exc
        offset = len(text[: exc.pos].encode())
        if offset >= len(raw.rstrip()):
            # Go reports a truncated document as io.ErrUnexpectedEOF, without a position.
            raise ApiError(400, "request body contains badly-formed JSON") from exc
        raise ApiError(400, f"request body contains badly-formed JSON (at position {offset + 1})") from exc
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "request body contains badly-formed JSON") from exc


def _type_error(field: str) -> ApiError:
    return ApiError(400, f'request body contains incorrect JSON type for field "{field}"')


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], field: str) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int in Python but not in Go; a float such as 1280.0 does not decode into a Go int either.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise _type_error(field)
    if not isinstance(value, kind):
        raise _type_error(field)
    return value


def _invalid(reason: str) -> ApiError:
    return ApiError(400, "invalid input", [reason])


def _resolution(raw: dict[str, Any] | None) -> tuple[int, int]:
    if raw is None:
        return 1280, 720
    width = _get(raw, "width", int, "resolution.width")
    height = _get(raw, "height", int, "resolution.height")
    width, height = width or 1280, height or 720
    # Bounds documented for the sibling streaming APIs (reference §4.4 [I]): 500..1920 x 480..1920, the long side
    # above 1080 only when the short side is at most 1080.
    ok = 500 <= width <= 1920 and 480 <= height <= 1920 and (height <= 1080 or width <= 1080)
    ok = ok and (width <= 1080 or height <= 1080) and (height <= width or height >= 500)
    if not ok:
        raise _invalid(f"resolution {width}x{height} not supported: width 500-1920, height 480-1920, one side <= 1080")
    return width, height


def _transcription(raw: dict[str, Any] | None) -> tuple[list[str], tuple[tuple[str, str], ...] | None]:
    """Output modes and the summary sections (``None`` when the summary is off)."""
    if raw is None or not _get(raw, "enabled", bool, "transcription.enabled"):
        return [], None
    modes = _get(raw, "output_modes", list, "transcription.output_modes")
    if modes is None:
        modes = list(OUTPUT_MODES)
    for mode in modes:
        if not isinstance(mode, str):
            raise _type_error("transcription.output_modes")
        if mode not in OUTPUT_MODES:
            raise _invalid(f"transcription.output_modes: {mode[:40]!r} is not one of txt, srt, json")
    modes = [m for m in OUTPUT_MODES if m in modes]  # de-duplicated, canonical order
    vocabulary = _get(raw, "custom_vocabulary", list, "transcription.custom_vocabulary") or []
    if not all(isinstance(word, str) for word in vocabulary):
        raise _type_error("transcription.custom_vocabulary")
    summary = _get(raw, "summary", dict, "transcription.summary")
    if summary is None or not _get(summary, "enabled", bool, "transcription.summary.enabled"):
        return modes, None
    context = _get(summary, "context", str, "transcription.summary.context") or ""
    if len(context) > 300:
        raise _invalid("transcription.summary.context must be at most 300 characters")
    temperature = _get(summary, "temperature", (int, float), "transcription.summary.temperature")
    if temperature is not None and not (math.isfinite(temperature) and 0.1 <= temperature <= 1.0):
        raise _invalid("transcription.summary.temperature must be between 0.1 and 1.0")
    sections = _get(summary, "sections", list, "transcription.summary.sections") or []
    if len(sections) > 6:
        raise _invalid("transcription.summary.sections must have at most 6 entries")
    chosen: list[tuple[str, str]] = []
    for index, section in enumerate(sections):
        where = f"transcription.summary.sections[{index}]"
        if not isinstance(section, dict):
            raise _type_error(where)
        title = _get(section, "title", str, f"{where}.title")
        fmt = _get(section, "format", str, f"{where}.format")
        if not title or len(title) > 100:
            raise _invalid(f"{where}.title is required and must be at most 100 characters")
        if fmt not in ("bullets", "paragraph"):
            raise _invalid(f"{where}.format is required and must be bullets or paragraph")
        chosen.append((title, fmt))
    # Without sections, the template's defaults apply (enable-transcription-and-summary page, dashboard defaults).
    return modes, tuple(chosen) or DEFAULT_SUMMARY_SECTIONS


def parse_start_options(body: Any, room_id: str) -> dict[str, Any]:
    """Validate a start body (reference §4.4); returns the options the state machine needs."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body contains incorrect JSON type")
    meeting_url = _get(body, "meeting_url", str, "meeting_url")
    if meeting_url is not None and not meeting_url.strip():
        raise _invalid("meeting_url must not be empty")
    if meeting_url is None:
        # The emulated template has composite recording enabled, so meeting_url is optional (reference §4.4).
        meeting_url = f"https://emulator.app.100ms.live/preview/{room_id}?skip_preview=true"
    destination = _get(body, "destination", str, "destination") or ""
    audio_only = bool(_get(body, "audio_only", bool, "audio_only"))
    width, height = _resolution(_get(body, "resolution", dict, "resolution"))
    modes, sections = _transcription(_get(body, "transcription", dict, "transcription"))
    return {
        "meeting_url": meeting_url,
        "destination": destination,
        "audio_only": audio_only,
        "width": width,
        "height": height,
        "transcript_modes": modes,
        "summary": sections is not None,
        "summary_sections": sections or (),
    }


def parse_limit(raw: str | None) -> int:
    """``limit``: default 10; integers outside 10..100 are clamped (reference §3 [I]); non-integers are a 400."""
    if raw is None or raw == "":
        return 10
    if not _INT.fullmatch(raw):
        raise _invalid("limit must be an integer between 10 and 100")
    return min(100, max(10, int(raw)))


def parse_cursor(raw: str | None) -> str | None:
    """``start``: the ``last`` id of the previous page; an empty value means the first page."""
    if raw is None or raw == "":
        return None
    if not _ID.fullmatch(raw):
        raise _invalid("start must be the 'last' value of a previous page (a 24-hex id)")
    return raw


def parse_enum(raw: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise _invalid(f"{name} must be one of {', '.join(allowed)}")
    return raw
