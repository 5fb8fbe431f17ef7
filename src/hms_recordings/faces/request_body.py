"""Reading an inbound HTTP request body within a limit, for every face that reads one (REST operations, forwards).

The declared ``Content-Length`` is refused before anything is read, and the body is read as it arrives and dropped at
the limit, so an oversized or endless body costs at most the limit in memory.
"""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["BodyTooLarge", "read_capped"]


class BodyTooLarge(Exception):
    """The body (declared or read) is over the limit."""


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
