"""Serving an asset's bytes behind a presigned URL: exactly ``size`` bytes, streamed, with HTTP range requests.

The real URLs point at S3/GCS, which answer ``Range: bytes=a-b`` with ``206 Partial Content`` and ``Content-Range``
(RFC 9110 §14), so a client can resume an interrupted download. The emulator does the same for one range:
``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``; a range starting at or beyond the end is ``416`` with
``Content-Range: bytes */size``; a malformed or multi-range header is ignored (the whole file, ``200``), as RFC 9110
allows. ``If-Range`` with another validator than the asset's ``ETag`` also gets the whole file. ``HEAD`` answers the
headers only. The body is generated in chunks of at most 64 KiB, never held whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .assets import Asset, asset_body
from .responses import ApiError

__all__ = ["byte_range", "download_response"]

_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` that ``header`` asks for, ``None`` for the whole file; 416 if unsatisfiable."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if match[1]:
        start = int(match[1])
        end = int(match[2]) if match[2] else None
        if end is not None and end < start:
            return None  # syntactically invalid: ignored
        if start >= size:
            raise _unsatisfiable(size)
        return start, size - 1 if end is None else min(end, size - 1)
    suffix = int(match[2])
    if suffix == 0 or size == 0:
        raise _unsatisfiable(size)
    return max(0, size - suffix), size - 1


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(416, "requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # An async generator keeps Starlette from hopping to a thread for every chunk of a cheap computation.
    for chunk in chunks:
        yield chunk


def download_response(request: Request, asset: Asset) -> Response:
    body = asset_body(asset)
    size = body.size
    etag = f'"{asset.id}-{size}"'
    headers = {
        "Content-Disposition": f'attachment; filename="{asset.filename}"',
        "Cache-Control": "private, max-age=0",
        "Accept-Ranges": "bytes",
        "ETag": etag,
    }
    if_range = request.headers.get("if-range")
    wanted = byte_range(request.headers.get("range"), size) if if_range in (None, etag) else None
    start, end = wanted if wanted is not None else (0, size - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD" or end < start:
        return Response(b"", status, headers, media_type=asset.content_type)
    return StreamingResponse(_stream(body.iter_range(start, end)), status, headers, media_type=asset.content_type)
