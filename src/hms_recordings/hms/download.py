"""``hms-recordings download RECORDING_ID``: every completed asset of a recording, onto disk, safely.

- The links come from ``hms-get-recording-download-links`` (one presign per completed asset, each with its ``type``
  and ``size``), so the download goes through the same runtime, credentials and errors as every tool.
- Files download in parallel (``parallel``, default 4), each into ``.<name>.part`` in the target folder. An
  interrupted transfer (the connection closed mid-body) is resumed with ``Range: bytes=<have>-``, up to ``attempts``
  requests per file (default 5); a ``.part`` left by an earlier run is resumed the same way. A server that ignores
  the range (``200`` instead of ``206``) is read from the start again.
- The size is checked against the asset's ``size`` before the ``.part`` is renamed over the final name
  (``os.replace``: atomic on one file system), so a file with the final name is always whole.
- File names are the storage path's last segment reduced to ``[A-Za-z0-9._-]``, never hidden, never a path; two
  assets with the same name are told apart by their asset id.
- Presigned URLs are never printed (they are the credential to the file): progress and the summary name files.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx2

__all__ = ["DownloadOptions", "FileResult", "Progress", "download_links", "render_summary", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class DownloadOptions:
    folder: Path
    types: frozenset[str] = frozenset()  # empty: every type
    parallel: int = 4  # files at once
    attempts: int = 5  # requests per file, the first included; each one after an interruption resumes
    timeout: float = 60.0  # seconds without a byte before a request counts as interrupted


@dataclass
class FileResult:
    name: str
    asset_id: str
    type: str
    size: int
    status: str = "pending"  # downloaded | resumed | present | failed
    received: int = 0
    interruptions: int = 0
    resumed_from: int = 0
    error: str = ""


def safe_name(path: str | None, asset_id: str, kind: str) -> str:
    """A file name from a storage path: its last segment, only ``[A-Za-z0-9._-]``, not hidden, at most 200 chars."""
    last = (path or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", last).strip("._")[:200]
    return cleaned or f"{_UNSAFE.sub('_', kind) or 'asset'}-{asset_id}"


def _names(links: Sequence[dict[str, Any]]) -> list[str]:
    names = [safe_name(link.get("path"), str(link.get("asset_id")), str(link.get("type"))) for link in links]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{link.get('asset_id')}-{n}" if seen[n] > 1 else n for link, n in zip(links, names, strict=True)]


class Progress:
    """One bar per file on a terminal (redrawn in place), else one line when a file starts, resumes and ends."""

    def __init__(self, files: list[FileResult], out: TextIO | None = None) -> None:
        self.files = files
        self.out = out or sys.stderr
        self.tty = self.out.isatty()
        self.drawn = False
        self.shown: dict[str, int] = {}  # the percentage last drawn per file: redraw only when one moves

    def _bar(self, f: FileResult) -> str:
        share = min(f.received / f.size, 1.0) if f.size else 1.0
        filled = int(24 * share)
        tail = f" ({f.status})" if f.status not in ("pending", "running") else ""
        return f"{f.name[:40]:<40} [{'#' * filled}{'.' * (24 - filled)}] {100 * share:3.0f}% {_human(f.size)}{tail}"

    def update(self, f: FileResult, event: str = "") -> None:
        percent = int(100 * f.received / f.size) if f.size else 100
        if not event and self.shown.get(f.asset_id) == percent:
            return
        self.shown[f.asset_id] = percent
        if self.tty:
            if self.drawn:
                self.out.write(f"\x1b[{len(self.files)}F")  # back to the first bar
            self.out.write("".join(f"\x1b[2K{self._bar(x)}\n" for x in self.files))
            self.drawn = True
        elif event:
            self.out.write(f"{f.name}: {event}\n")
        self.out.flush()


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


class _Interrupted(Exception):
    """The body ended (or stalled) before the announced length: resume with Range."""


async def _size(path: anyio.Path) -> int | None:
    return (await path.stat()).st_size if await path.exists() else None


async def _one_request(
    client: httpx2.AsyncClient, url: str, part: anyio.Path, f: FileResult, on_bytes: Callable[[], None]
) -> None:
    have = await _size(part) or 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and have:
                return  # the .part already holds every byte: the size check decides
            if response.status_code >= 400:
                raise _Failed(f"the download link answered {response.status_code}")
            append = False
            if response.status_code == 206:
                match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
                if match is None or int(match.group(1)) != have:
                    raise _Failed("the server answered a range other than the one asked for")
                append = True
            async with await anyio.open_file(part, "ab" if append else "wb") as sink:
                f.received = have if append else 0
                async for chunk in response.aiter_bytes():
                    await sink.write(chunk)
                    f.received += len(chunk)
                    on_bytes()
                await sink.flush()
                await anyio.to_thread.run_sync(os.fsync, sink.wrapped.fileno())  # whole on disk before the rename
    except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.ReadTimeout, httpx2.WriteError) as exc:
        raise _Interrupted(exc.__class__.__name__) from None
    except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
        raise _Interrupted(f"cannot connect ({exc.__class__.__name__})") from None
    if f.received < f.size:
        raise _Interrupted(f"the body ended after {f.received} of {f.size} bytes")


class _Failed(Exception):
    pass


async def _download(
    client: httpx2.AsyncClient, link: dict[str, Any], f: FileResult, options: DownloadOptions, progress: Progress
) -> None:
    final = anyio.Path(options.folder / f.name)
    part = anyio.Path(options.folder / f".{f.name}.part")
    if await _size(final) == f.size:
        f.status, f.received = "present", f.size
        progress.update(f, "already present with the right size")
        return
    if (left := await _size(part)) is not None:
        f.resumed_from = left
        progress.update(f, f"resuming from byte {f.resumed_from}")
    f.status = "running"
    progress.update(f, f"downloading {_human(f.size)}")
    url = str(link.get("url"))
    try:
        for attempt in range(1, options.attempts + 1):
            try:
                await _one_request(client, url, part, f, lambda: progress.update(f))
                break
            except _Interrupted as exc:
                if attempt == options.attempts:
                    raise _Failed(f"interrupted {attempt} times, last: {exc}; run again to resume") from None
                f.interruptions += 1
                progress.update(f, f"interrupted ({exc}) at byte {f.received}; resuming")
        size = await _size(part) or 0
        if size != f.size:
            await part.unlink(missing_ok=True)
            raise _Failed(f"got {size} bytes but the asset's size is {f.size}; the partial file was removed")
        await part.replace(final)  # os.replace: atomic within one file system
        f.status = "resumed" if f.interruptions or f.resumed_from else "downloaded"
        progress.update(f, f"done ({f.status})")
    except _Failed as exc:
        f.status, f.error = "failed", str(exc)
        progress.update(f, f"failed: {exc}")
    except OSError as exc:
        f.status, f.error = "failed", f"cannot write {final}: {exc.strerror or exc}"
        progress.update(f, f"failed: {f.error}")


async def download_links(
    links: Sequence[dict[str, Any]],
    options: DownloadOptions,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    progress_out: TextIO | None = None,
) -> list[FileResult]:
    """Download ``links`` (``{asset_id, type, url, size, path}``) into ``options.folder``; one result per link."""
    chosen = [link for link in links if not options.types or link.get("type") in options.types]
    await anyio.Path(options.folder).mkdir(parents=True, exist_ok=True)
    files = [
        FileResult(name, str(link.get("asset_id")), str(link.get("type")), int(link.get("size") or 0))
        for link, name in zip(chosen, _names(chosen), strict=True)
    ]
    progress = Progress(files, progress_out)
    limiter = anyio.CapacityLimiter(max(1, options.parallel))
    timeout = httpx2.Timeout(options.timeout, connect=min(options.timeout, 10.0))
    # No credential and no environment proxies: a presigned URL is its own authorisation.
    async with httpx2.AsyncClient(timeout=timeout, transport=transport, trust_env=False) as client:

        async def run(link: dict[str, Any], f: FileResult) -> None:
            async with limiter:
                await _download(client, link, f, options, progress)

        async with anyio.create_task_group() as tg:
            for link, f in zip(chosen, files, strict=True):
                tg.start_soon(run, link, f)
    return files


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)

    def render(self) -> str:
        widths = [max(len(row[i]) for row in self.rows) for i in range(len(self.rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in self.rows
        )


def render_summary(files: Sequence[FileResult], folder: Path) -> str:
    """The table printed at the end: one row per file, then the folder and the totals."""
    table = _Table([["file", "type", "size", "result"]])
    for f in files:
        if f.status == "failed":
            result = f"failed: {f.error}"
        elif f.status == "resumed":
            parts = [f"{f.interruptions} interruption(s)"] if f.interruptions else []
            parts += [f"resumed from byte {f.resumed_from}"] if f.resumed_from else []
            result = "downloaded, " + ", ".join(parts)
        elif f.status == "present":
            result = "already present"
        else:
            result = f.status
        table.rows.append([f.name, f.type, _human(f.size), result])
    ok = sum(1 for f in files if f.status != "failed")
    return f"{table.render()}\n{ok} of {len(files)} file(s) in {folder}"
