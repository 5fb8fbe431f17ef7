"""The emulator's OpenAPI 3.1 description, written by hand as data (served at ``GET /openapi.json``).

Paths are relative to ``servers: [{url: "/v2"}]``. It documents the emulated API only (not the admin routes), with the
real field names, nullability and enums of reference §4, so that OpenAPI-driven tools (e.g. FastMCP) can be pointed
at the emulator.
"""

from __future__ import annotations

import copy
from typing import Any

from .validation import ASSET_STATUSES, ASSET_TYPES, RECORDING_STATUSES

__all__ = ["openapi_document"]

_ID = {"type": "string", "pattern": "^[0-9a-f]{24}$", "examples": ["642531cf94091a5af841456d"]}
_TS = {"type": "string", "format": "date-time"}
_NULL_TS = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Invalid input (bad JSON, wrong types, out-of-range values)",
        401: "Token validation error",
        403: "Permission denied (malformed room id)",
        404: "Not found (`beam not found`, `recording not found`, `recording asset not found`)",
        409: "A recording is already active in the room (`beam already started`)",
        413: "Request body too large",
    }
    return {str(code): _json(_ref("Error"), text[code]) for code in (401, *codes)}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": _ID}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_PAGING = [
    _query("limit", "Page size, 10-100 (clamped); default 10.", {"type": "integer", "default": 10}),
    _query("start", "Cursor: the `last` value of the previous page (exclusive).", _ID),
]
_ROOM = _path_param("room_id", "Room id (24 hex characters).")
_RECORDING = _path_param("recording_id", "Recording id.")
_ASSET = _path_param("asset_id", "Recording asset id.")

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Resolution": {
        "type": "object",
        "properties": {
            "width": {"type": "integer", "minimum": 500, "maximum": 1920},
            "height": {"type": "integer", "minimum": 480, "maximum": 1920},
        },
    },
    "SummarySection": {
        "type": "object",
        "required": ["title", "format"],
        "properties": {
            "title": {"type": "string", "maxLength": 100},
            "format": {"type": "string", "enum": ["bullets", "paragraph"]},
        },
    },
    "Transcription": {
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean"},
            "output_modes": {"type": "array", "items": {"type": "string", "enum": ["txt", "srt", "json"]}},
            "custom_vocabulary": {"type": "array", "items": {"type": "string"}},
            "summary": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "context": {"type": "string", "maxLength": 300},
                    "temperature": {"type": "number", "minimum": 0.1, "maximum": 1.0, "default": 0.5},
                    "sections": {"type": "array", "maxItems": 6, "items": _ref("SummarySection")},
                },
            },
        },
    },
    "StartRecordingRequest": {
        "type": "object",
        "properties": {
            "meeting_url": {"type": "string", "minLength": 1, "description": "URL the recorder opens."},
            "resolution": _ref("Resolution"),
            "destination": {"type": "string"},
            "audio_only": {"type": "boolean"},
            "transcription": _ref("Transcription"),
        },
    },
    "EmbeddedRecordingAsset": {
        "type": "object",
        "required": ["id", "created_at", "status", "type", "path", "size", "duration", "metadata", "thumbnails"],
        "properties": {
            "id": _ID,
            "created_at": _TS,
            "status": {
                "type": "string",
                "enum": list(ASSET_STATUSES),
                "description": "Transcripts and summaries are processing until the transcription completes.",
            },
            "type": {"type": "string", "enum": list(ASSET_TYPES)},
            "path": {"type": "string"},
            "size": {"type": "integer", "description": "Bytes."},
            "duration": {"type": "integer", "description": "Seconds (0 for chat)."},
            "metadata": {"type": "object", "additionalProperties": True},
            "thumbnails": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "Thumbnail paths; only room-vod has them, so null here.",
            },
        },
    },
    "RecordingAsset": {
        "allOf": [
            _ref("EmbeddedRecordingAsset"),
            {
                "type": "object",
                "required": ["job_id", "room_id", "session_id"],
                "properties": {"job_id": _ID, "room_id": _ID, "session_id": _ID},
            },
        ]
    },
    "Recording": {
        "type": "object",
        "required": ["id", "room_id", "session_id", "status", "meeting_url", "created_at", "updated_at"],
        "properties": {
            "id": _ID,
            "room_id": _ID,
            "session_id": _ID,
            "status": {"type": "string", "enum": list(RECORDING_STATUSES)},
            "meeting_url": {"type": "string"},
            "destination": {"type": "string", "description": "Only in start/pause/resume responses."},
            "asset_types": {"type": ["array", "null"], "items": {"type": "string", "enum": list(ASSET_TYPES)}},
            "recording_assets": {
                "type": ["array", "null"],
                "items": _ref("EmbeddedRecordingAsset"),
                "description": "Null until assets exist; omitted in list responses.",
            },
            "created_at": _TS,
            "started_at": _NULL_TS,
            "updated_at": _TS,
            "stopped_at": _NULL_TS,
            "started_by": {"type": "string"},
            "stopped_by": {"type": "string"},
        },
    },
    "RecordingList": {
        "type": "object",
        "required": ["limit", "data", "last"],
        "properties": {
            "limit": {"type": "integer"},
            "data": {"type": "array", "items": _ref("Recording")},
            "last": {"type": "string", "description": "Pass as `start` for the next page; empty at the end."},
        },
    },
    "RecordingAssetList": {
        "type": "object",
        "required": ["limit", "data", "last"],
        "properties": {
            "limit": {"type": "integer"},
            "data": {"type": "array", "items": _ref("RecordingAsset")},
            "last": {"type": "string"},
        },
    },
    "PresignedUrl": {
        "type": "object",
        "required": ["id", "path", "url", "expiry"],
        "properties": {
            "id": _ID,
            "path": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
            "expiry": {"type": "integer", "description": "Validity in seconds."},
        },
    },
}


def _room_action(op_id: str, summary: str, body: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": ["recordings"], "parameters": [_ROOM]}
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref("StartRecordingRequest")}},
        }
    if op_id == "stopRecordingsForRoom":
        op["responses"] = {"200": _json(_ref("RecordingList"), "Recordings now stopping"), **_errors(403, 404)}
    else:
        op["responses"] = {"200": _json(_ref("Recording"), "The recording"), **_errors(400, 403, 404, 409, 413)}
    return {"post": op}


_PATHS: dict[str, Any] = {
    "/recordings": {
        "get": {
            "operationId": "listRecordings",
            "summary": "List recordings, newest first.",
            "tags": ["recordings"],
            "parameters": [
                _query("room_id", "Only this room.", _ID),
                _query("session_id", "Only this session.", _ID),
                _query("status", "Only this status.", {"type": "string", "enum": list(RECORDING_STATUSES)}),
                *_PAGING,
            ],
            "responses": {"200": _json(_ref("RecordingList"), "A page of recordings"), **_errors(400)},
        }
    },
    "/recordings/{recording_id}": {
        "get": {
            "operationId": "getRecording",
            "summary": "Get one recording with its assets.",
            "tags": ["recordings"],
            "parameters": [_RECORDING],
            "responses": {"200": _json(_ref("Recording"), "The recording"), **_errors(404)},
        }
    },
    "/recordings/{recording_id}/stop": {
        "post": {
            "operationId": "stopRecording",
            "summary": "Stop one recording by id.",
            "tags": ["recordings"],
            "parameters": [_RECORDING],
            "responses": {"200": _json(_ref("Recording"), "The recording, now stopping"), **_errors(404)},
        }
    },
    "/recordings/room/{room_id}/start": _room_action("startRecordingForRoom", "Start a room's recording.", True),
    "/recordings/room/{room_id}/stop": _room_action("stopRecordingsForRoom", "Stop the room's recordings."),
    "/recordings/room/{room_id}/pause": _room_action("pauseRecordingForRoom", "Pause the room's recording."),
    "/recordings/room/{room_id}/resume": _room_action("resumeRecordingForRoom", "Resume the room's recording."),
    "/recording-assets": {
        "get": {
            "operationId": "listRecordingAssets",
            "summary": "List recording assets, newest first.",
            "tags": ["recording-assets"],
            "parameters": [
                _query("room_id", "Only this room.", _ID),
                _query("session_id", "Only this session.", _ID),
                _query("status", "Only this status.", {"type": "string", "enum": list(ASSET_STATUSES)}),
                _query("type", "Only this type.", {"type": "string", "enum": list(ASSET_TYPES)}),
                *_PAGING,
            ],
            "responses": {"200": _json(_ref("RecordingAssetList"), "A page of assets"), **_errors(400)},
        }
    },
    "/recording-assets/{asset_id}": {
        "get": {
            "operationId": "getRecordingAsset",
            "summary": "Get one recording asset.",
            "tags": ["recording-assets"],
            "parameters": [_ASSET],
            "responses": {"200": _json(_ref("RecordingAsset"), "The asset"), **_errors(404)},
        }
    },
    "/recording-assets/{asset_id}/presigned-url": {
        "get": {
            "operationId": "getRecordingAssetPresignedUrl",
            "summary": "Get a time-limited download URL for an asset.",
            "tags": ["recording-assets"],
            "parameters": [
                _ASSET,
                _query(
                    "presign_duration",
                    "Validity in seconds, 1-604800; default 259200 (3 days).",
                    {"type": "integer", "minimum": 1, "maximum": 604800},
                ),
            ],
            "responses": {"200": _json(_ref("PresignedUrl"), "The URL"), **_errors(400, 404)},
        }
    },
}

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "100ms recordings API (hms-recordings emulator)",
        "version": "2.0.0",
        "description": "Local emulator of https://api.100ms.live/v2 recordings and recording assets.",
    },
    "servers": [{"url": "/v2"}],
    "security": [{"bearerAuth": []}],
    "tags": [{"name": "recordings"}, {"name": "recording-assets"}],
    "paths": _PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "schemas": _SCHEMAS,
    },
}


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the document (callers may mutate it)."""
    return copy.deepcopy(_DOCUMENT)
