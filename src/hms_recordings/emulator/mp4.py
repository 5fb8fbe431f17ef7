"""A structurally valid MP4 (ISO BMFF) of any requested size, generated on the fly and readable by range.

A ``room-composite`` asset reports a realistic ``size`` (tens or hundreds of MB); its download must be exactly that
many bytes and a file that ``ffprobe`` reads without error (issue 18). Real H.264 would need an encoder, so the one
track uses codecs that need no codec configuration and decode any bytes: uncompressed video (``raw ``, 24-bit RGB)
at the recording's resolution, or 16-bit PCM (``sowt``) for audio-only recordings. The file is::

    ftyp | moov (mvhd, trak (tkhd, mdia (mdhd, hdlr, minf (vmhd|smhd, dinf, stbl)))) | mdat (samples, then padding)

``mdat`` holds as many whole samples as fit, then filler bytes no sample table points at (ISO BMFF allows unreferenced
bytes in ``mdat``). Only the header (well under 1 KB) is ever built in memory; the body is a repeating block sliced
by offset, so a download streams in bounded chunks and any byte range costs the same as a sequential read.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Mp4Layout", "mp4_layout"]

_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
_TIMESCALE = 1_000
_BLOCK = 65_536
#: Audio-only composites carry mono 16-bit PCM; 16 000 bytes/s is the emulator's audio bitrate (8 kHz).
_PCM_RATE = 8_000


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def _sample_tables(entry: bytes, count: int, sample_size: int, delta: int, chunk_offset: int) -> bytes:
    stsd = _full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry)
    if count == 0:
        empty = struct.pack(">I", 0)
        return _box(
            b"stbl",
            stsd,
            _full_box(b"stts", 0, 0, empty),
            _full_box(b"stsc", 0, 0, empty),
            _full_box(b"stsz", 0, 0, struct.pack(">II", sample_size, 0)),
            _full_box(b"stco", 0, 0, empty),
        )
    return _box(
        b"stbl",
        stsd,
        _full_box(b"stts", 0, 0, struct.pack(">III", 1, count, delta)),
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
        _full_box(b"stsz", 0, 0, struct.pack(">II", sample_size, count)),
        _full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
    )


def _video_entry(width: int, height: int) -> bytes:
    name = b"\x0bhms emulator".ljust(32, b"\x00")
    return _box(
        b"raw ",
        bytes(6),
        struct.pack(">H", 1),
        bytes(16),
        struct.pack(">HHIIIH", width, height, 0x00480000, 0x00480000, 0, 1),
        name,
        struct.pack(">Hh", 24, -1),
    )


def _audio_entry(rate: int) -> bytes:
    return _box(b"sowt", bytes(6), struct.pack(">H", 1), bytes(8), struct.pack(">HHHHI", 1, 16, 0, 0, rate << 16))


def _moov(*, audio_only: bool, width: int, height: int, duration_ms: int, count: int, chunk_offset: int) -> bytes:
    if audio_only:
        # The sample rate is chosen so that the PCM samples last the recording's duration (the size has jitter).
        rate = min(65_535, max(1, round(count * 1000 / duration_ms))) if count else _PCM_RATE
        timescale, sample_size, delta = rate, 2, 1
        media_duration = count
        entry, handler, name = _audio_entry(rate), b"soun", b"SoundHandler\x00"
        header = _full_box(b"smhd", 0, 0, bytes(4))
        track_size = struct.pack(">II", 0, 0)
        volume = 0x0100
    else:
        timescale, sample_size = _TIMESCALE, width * height * 3
        delta = max(1, duration_ms // count) if count else 0
        media_duration = delta * count if count else duration_ms
        entry, handler, name = _video_entry(width, height), b"vide", b"VideoHandler\x00"
        header = _full_box(b"vmhd", 0, 1, bytes(8))
        track_size = struct.pack(">II", width << 16, height << 16)
        volume = 0
    movie_duration = media_duration * _TIMESCALE // timescale
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, _TIMESCALE, movie_duration),
        struct.pack(">IH", 0x00010000, 0x0100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, 1, 0, movie_duration),
        bytes(8),
        struct.pack(">hhHH", 0, 0, volume, 0),
        _MATRIX,
        track_size,
    )
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, media_duration, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), handler, bytes(12), name)
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stbl = _sample_tables(entry, count, sample_size, delta, chunk_offset)
    minf = _box(b"minf", header, dinf, stbl)
    return _box(b"moov", mvhd, _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf)))


@dataclass(frozen=True)
class Mp4Layout:
    """The bytes of one generated MP4: a small ``header`` then ``size - len(header)`` body bytes from ``seed``."""

    header: bytes
    size: int
    seed: bytes

    def iter_range(self, start: int, end: int, chunk: int = _BLOCK) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive, in pieces of at most ``chunk`` bytes."""
        block = hashlib.shake_256(self.seed).digest(_BLOCK)
        position = start
        head = len(self.header)
        while position <= end:
            if position < head:
                stop = min(head, end + 1, position + chunk)
                yield self.header[position:stop]
            else:
                offset = (position - head) % _BLOCK
                stop = min(end + 1, position + chunk, position + (_BLOCK - offset))
                yield block[offset : offset + (stop - position)]
            position = stop


def mp4_layout(*, size: int, width: int, height: int, duration: float, audio_only: bool, seed: bytes) -> Mp4Layout:
    """The layout of an MP4 of exactly ``size`` bytes (raised to the smallest valid file when smaller)."""
    duration_ms = max(1, round(duration * 1000))
    head = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2mp41")
    # The moov size does not depend on the sample count (fixed-width fields), so measure it once with count 1.
    moov_len = len(
        _moov(audio_only=audio_only, width=width, height=height, duration_ms=duration_ms, count=1, chunk_offset=0)
    )
    fixed = len(head) + moov_len
    large = size - fixed - 8 > 0xFFFFFFFF
    mdat_head_len = 16 if large else 8
    size = max(size, fixed + mdat_head_len)
    payload = size - fixed - mdat_head_len
    sample_size = 2 if audio_only else width * height * 3
    count = payload // sample_size
    moov = _moov(
        audio_only=audio_only,
        width=width,
        height=height,
        duration_ms=duration_ms,
        count=count,
        chunk_offset=fixed + mdat_head_len,
    )
    if len(moov) != moov_len:  # an empty sample table is shorter than a filled one
        fixed = len(head) + len(moov)
        payload = size - fixed - mdat_head_len
    if large:
        mdat_head = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", payload + 16)
    else:
        mdat_head = struct.pack(">I", payload + 8) + b"mdat"
    return Mp4Layout(head + moov + mdat_head, size, seed)
