"""A PNG's chunk list read before anything is decoded, with hard limits.

Pillow walks a PNG's chunks in Python, one call per chunk, so a 10 MB file of 800,000 empty
chunks costs seconds of CPU before a single pixel is decoded. :func:`scan_png` walks the chunks
once with plain slicing, checks each CRC (zlib, in C), and refuses a file with more chunks or
more ancillary data than any real drawing needs, before Pillow sees it. What it collects (IHDR,
PLTE, tRNS, eXIf and where the IDAT data lies) is what :mod:`app.analysis.pngstripes` needs to
decode a large PNG in stripes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Final

#: Most chunks a PNG may hold. libpng writes 8 KB IDAT chunks: a 10 MB upload has ~1,300.
MAX_PNG_CHUNKS: Final = 4096
#: Most ancillary (not IHDR, PLTE, IDAT, IEND) chunks, and their total size.
MAX_ANCILLARY_CHUNKS: Final = 64
MAX_ANCILLARY_BYTES: Final = 1024 * 1024

_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_CRITICAL: Final = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
#: Channels per pixel for each PNG colour type.
CHANNELS: Final[dict[int, int]] = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class PngRefused(Exception):
    """The PNG breaks a limit or the format; ``message`` is for the person, ``status`` HTTP."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PngLayout:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    chunks: int
    palette: bytes = b""
    transparency: bytes | None = None
    exif: bytes | None = None
    frames: int = 1
    idat: list[tuple[int, int]] = field(default_factory=list)  # (start, end) in the file

    @property
    def bits_per_pixel(self) -> int:
        return CHANNELS[self.colour_type] * self.bit_depth

    @property
    def row_bytes(self) -> int:
        return (self.width * self.bits_per_pixel + 7) // 8


def scan_png(data: bytes) -> PngLayout:
    """The chunk layout of ``data`` (a PNG), or :class:`PngRefused`.

    Refuses more than ``MAX_PNG_CHUNKS`` chunks or too much ancillary data (413), and a file
    whose chunks are cut short, fail their CRC, or lack IHDR, IDAT or IEND (400).
    """
    if not data.startswith(_SIGNATURE):
        raise PngRefused("This PNG file is damaged: its signature is wrong")
    pos = len(_SIGNATURE)
    end = len(data)
    count = ancillary = ancillary_bytes = 0
    header: tuple[int, ...] | None = None
    palette = b""
    transparency: bytes | None = None
    exif: bytes | None = None
    frames = 1
    idat: list[tuple[int, int]] = []
    idat_closed = False
    while True:
        if pos + 12 > end:
            raise PngRefused("This PNG file is damaged or incomplete: it ends before IEND")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        start, stop = pos + 8, pos + 8 + length
        if stop + 4 > end:
            raise PngRefused("This PNG file is damaged or incomplete: a chunk is cut short")
        count += 1
        if count > MAX_PNG_CHUNKS:
            raise PngRefused(
                f"This PNG file has more than {MAX_PNG_CHUNKS} chunks (blocks of data); "
                "real drawings have far fewer. Save it again with an ordinary image editor",
                413,
            )
        (crc,) = struct.unpack(">I", data[stop : stop + 4])
        if zlib.crc32(data[start:stop], zlib.crc32(kind)) != crc:
            raise PngRefused("This PNG file is damaged: a checksum does not match")
        if kind not in _CRITICAL:
            ancillary += 1
            ancillary_bytes += length
            if ancillary > MAX_ANCILLARY_CHUNKS or ancillary_bytes > MAX_ANCILLARY_BYTES:
                raise PngRefused(
                    f"This PNG file carries more than {MAX_ANCILLARY_CHUNKS} extra chunks or "
                    f"{MAX_ANCILLARY_BYTES // 1024} KB of extra data (text, metadata); save it "
                    "again without metadata",
                    413,
                )
        if kind == b"IHDR":
            if header is not None or length != 13:
                raise PngRefused("This PNG file is damaged: its header is wrong")
            header = struct.unpack(">IIBBBBB", data[start:stop])
        elif kind == b"IDAT":
            if idat_closed:
                raise PngRefused("This PNG file is damaged: its image data is split")
            idat.append((start, stop))
        elif kind == b"PLTE":
            palette = data[start:stop]
        elif kind == b"tRNS":
            transparency = data[start:stop]
        elif kind == b"eXIf":
            exif = data[start:stop]
        elif kind == b"acTL" and length >= 4:
            (frames,) = struct.unpack(">I", data[start : start + 4])
        elif kind == b"IEND":
            break
        if idat and kind != b"IDAT":
            idat_closed = True
        pos = stop + 4
    if header is None or not idat:
        raise PngRefused("This PNG file is damaged: it has no header or no image data")
    width, height, depth, colour, _compression, _filter, interlace = header
    if colour not in CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise PngRefused("This PNG file is damaged: its colour type is unknown")
    return PngLayout(
        width=width,
        height=height,
        bit_depth=depth,
        colour_type=colour,
        interlaced=interlace != 0,
        chunks=count,
        palette=palette,
        transparency=transparency,
        exif=exif,
        frames=frames,
        idat=idat,
    )
