"""Over stdio, a line the SDK cannot read still gets an answer.

The SDK's stdio transport parses each line with pydantic; a line it refuses (a lone UTF-16 surrogate escape such as
``"\\ud800"``, nesting deeper than its parser's limit, a number too large to represent) becomes an exception on the
read stream, which the server only logs. The client is left waiting for an answer that never comes. Over Streamable
HTTP the same line gets ``400`` and ``-32700``; here :class:`AnsweringReadStream` answers it with a JSON-RPC
``-32700`` parse error, addressed to the request's ``id`` when that can be found at the top level of the line (so
the client's pending call ends), else ``id: null`` as JSON-RPC says.
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import mcp.types as types
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

__all__ = ["AnsweringReadStream", "top_level_id"]

#: A JSON-RPC id as it may be written: an integer, or a short string without control characters.
_ID_VALUE = re.compile(r'-?\d{1,18}(?![\d.eE])|"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]){0,256}"')
_SPACE = " \t\r\n"


def top_level_id(line: str) -> int | str | None:
    """The value of the top-level ``"id"`` key of a JSON object written on ``line``, found without parsing it.

    One pass, no recursion: strings are skipped whole (so an ``"id"`` inside one, or inside nested objects, is never
    taken), and only an ``"id"`` key at depth 1 followed by ``:`` counts. ``None`` when there is none to be found."""
    depth, i, n = 0, 0, len(line)
    while i < n:
        char = line[i]
        if char == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if depth == 1 and line[i : j + 1] == '"id"':
                k = j + 1
                while k < n and line[k] in _SPACE:
                    k += 1
                if k < n and line[k] == ":":
                    k += 1
                    while k < n and line[k] in _SPACE:
                        k += 1
                    found = _ID_VALUE.match(line, k)
                    if found is not None:
                        value: int | str = json.loads(found.group())
                        return value
            i = j + 1
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        i += 1
    return None


def _what_was_wrong(exc: Exception) -> tuple[str, str]:
    """The pydantic error's kind in words (never the content), and the raw line when pydantic kept it."""
    errors: list[Any] = exc.errors() if hasattr(exc, "errors") else []
    first = errors[0] if errors else {}
    given = first.get("input")
    line = given if isinstance(given, str) else ""
    detail = str((first.get("ctx") or {}).get("error") or first.get("msg") or type(exc).__name__)
    return detail.splitlines()[0][:200], line


class AnsweringReadStream:
    """The SDK's read stream, minus the exceptions: each is answered on ``write_stream`` instead (see above)."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], write_stream: WriteStream[SessionMessage]):
        self._inner = inner
        self._write = write_stream

    def __getattr__(self, name: str) -> Any:  # last_context and whatever else consumers look for
        return getattr(self._inner, name)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            detail, line = _what_was_wrong(item)
            reply = types.JSONRPCError(
                jsonrpc="2.0",
                id=top_level_id(line) if line else None,
                error=types.ErrorData(code=types.PARSE_ERROR, message=f"Parse error: {detail}"),
            )
            await self._write.send(SessionMessage(reply))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> AnsweringReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
