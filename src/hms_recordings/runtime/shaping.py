"""Shaping a result for a model: pagination said in words, and shortening that keeps the cursor honest.

``x-pagination`` adds ``next_start`` and ``next_page`` ("call again with start=<cursor>") when the page was full.
When a result is over the size limit, its longest list is cut from the end until it fits, and the result says so
(``truncated``). If the cut list is the paginated one, ``next_start`` becomes the cursor of the last item *kept*
(``itemCursor``, default ``id``), so following "call again with start=..." continues right after what the caller saw
instead of skipping every item that was cut.
"""

from __future__ import annotations

import json
from typing import Any

from hms_recordings.runtime.compiled import CompiledTool

__all__ = ["fit", "paginate", "result_text"]

#: Room left for the ``truncated`` note and the rewritten pagination fields when a result is cut to fit.
_NOTE_ROOM = 400


def result_text(data: Any) -> str:
    """The JSON text every face shows next to structured results: compact, which is what a model reads best, and
    which the C encoder writes (an indented dump runs in pure Python and was the largest cost of a call)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def _filters(tool: CompiledTool, args: dict[str, Any]) -> str:
    page = tool.tool.pagination
    assert page is not None
    filters = [k for k in args if k not in (page.cursor_argument, page.limit_argument)]
    return f" and the same {', '.join(filters)}" if filters else ""


def _next(tool: CompiledTool, args: dict[str, Any], cursor: str) -> str:
    page = tool.tool.pagination
    assert page is not None
    return f"more results may exist: call {tool.name} again with {page.cursor_argument}={cursor}{_filters(tool, args)}"


def paginate(tool: CompiledTool, args: dict[str, Any], raw: Any, data: dict[str, Any]) -> None:
    """x-pagination: say in words how to get the next page, when there may be one."""
    page = tool.tool.pagination
    assert page is not None
    items = tool.page_items(raw) if tool.page_items else None
    cursor = tool.page_cursor(raw) if tool.page_cursor else None
    limit = args.get(page.limit_argument, page.default_limit)
    if isinstance(items, list) and isinstance(cursor, str) and cursor and len(items) >= int(limit):
        data["next_start"] = cursor
        data["next_page"] = _next(tool, args, cursor)
    else:
        data["next_start"] = None
        data["next_page"] = "this is the last page"


def fit(tool: CompiledTool, args: dict[str, Any], data: Any, limit: int, notes: list[str]) -> tuple[Any, str]:
    """Cut the longest list of an oversized result so that it fits, and say so in the result itself.

    Returns the result and its JSON text: serialising once here serves both the size check and every face."""
    text = result_text(data)
    if len(text) <= limit or not isinstance(data, dict):
        return data, text
    lists = [k for k, v in data.items() if isinstance(v, list) and v]
    if not lists:
        return data, text
    key = max(lists, key=lambda k: len(result_text(data[k])))
    items = list(data[key])
    total = len(items)
    # Items are cut from the end, by size: the sum of each item's text plus separators bounds the list's text.
    sizes = [len(result_text(item)) + 1 for item in items]
    rest = len(result_text({**data, key: []}))
    budget = max(0, limit - rest - _NOTE_ROOM)
    kept = 0
    used = 0
    for size in sizes:
        if used + size > budget:
            break
        used += size
        kept += 1
    shortened = {**data, key: items[:kept]}
    page = tool.tool.pagination
    advice = "narrow the filters or lower `limit`"
    if page is not None and "next_start" in data and kept < total:
        last = items[kept - 1] if kept else None
        cursor = last.get(page.item_cursor) if isinstance(last, dict) else None
        if isinstance(cursor, str) and cursor:
            shortened["next_start"] = cursor
            shortened["next_page"] = _next(tool, args, cursor)
            advice = f"call {tool.name} again with {page.cursor_argument}={cursor} for the rest"
        else:
            # No cursor for the last item kept: a cursor from the full page would skip what was cut.
            shortened["next_start"] = None
            shortened["next_page"] = f"lower `{page.limit_argument}` to see the items that were cut"
    note = f"result shortened: showing {kept} of {total} {key} to stay under {limit} characters; {advice}"
    shortened["truncated"] = note
    notes.append(note)
    return shortened, result_text(shortened)
