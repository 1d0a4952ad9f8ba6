"""Decoding a large PNG straight to its stored size, one stripe of rows at a time.

Pillow decodes a PNG whole: a 5000 x 5000 RGBA file (400 KB on the wire) becomes a 100 MB
buffer before it can be scaled down. Here the IDAT stream is inflated a few hundred rows at a
time; each stripe is un-filtered by Pillow's own PNG decoder (zlib plus the PNG row filters, in
C), turned into 8-bit RGB on white with numpy, and box-scaled into the output at once, so memory
stays near the size of the *output* whatever the input's size.

The trick that lets Pillow un-filter a stripe on its own: PNG row filters refer to the row above
and to the byte ``bpp`` places to the left. Each stripe is given to Pillow's "zip" decoder
preceded by the previous stripe's last row, already un-filtered and marked "no filter", under a
raw mode whose pixel is exactly ``bpp`` bytes wide (L, LA, RGB or RGBA); Pillow then returns the
un-filtered bytes, which numpy interprets for the real colour type and bit depth. That covers
every non-interlaced PNG whose pixel is at most 4 bytes: all but 16-bit RGB/RGBA (6 and 8
bytes), which, like interlaced files, decode.py decodes whole under a lower pixel limit.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Iterator
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.analysis.pngscan import CHANNELS, PngLayout, PngRefused

#: Output rows produced per step (input rows per step: this times the scale factor).
BLOCK_ROWS: Final = 32
#: CPU seconds one decode may use (a 25-megapixel PNG needs well under one).
DECODE_CPU_SECONDS: Final = 5.0
_RAW_MODES: Final[dict[int, str]] = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}

U8 = NDArray[np.uint8]


def can_stripe(layout: PngLayout) -> bool:
    """Whether :func:`decode_png_stripes` can decode this PNG (non-interlaced, <= 4 bytes/px)."""
    return not layout.interlaced and layout.bits_per_pixel <= 32


class _Inflater:
    """The IDAT stream, inflated on demand, never more than asked for."""

    def __init__(self, data: bytes, spans: list[tuple[int, int]]) -> None:
        self._view = memoryview(data)
        self._spans: Iterator[tuple[int, int]] = iter(spans)
        self._zlib = zlib.decompressobj()
        self._tail: bytes | memoryview = b""

    def read(self, size: int) -> bytes:
        parts: list[bytes] = []
        need = size
        while need > 0 and not self._zlib.eof:
            if not self._tail:
                span = next(self._spans, None)
                if span is None:
                    break
                self._tail = self._view[span[0] : span[1]]
                continue
            out = self._zlib.decompress(self._tail, need)
            self._tail = self._zlib.unconsumed_tail
            parts.append(out)
            need -= len(out)
        return b"".join(parts)


def decode_png_stripes(data: bytes, layout: PngLayout, size: tuple[int, int]) -> Image.Image:
    """The PNG ``data`` (laid out as ``layout``) as 8-bit RGB on white, box-scaled to ``size``.

    Raises :class:`PngRefused` when the data is damaged or the CPU budget is spent; zlib or
    Pillow errors on a hostile file propagate (decode.py turns them into a refusal).
    """
    width, height = layout.width, layout.height
    out_w, out_h = size
    scale = height / out_h
    row_bytes = layout.row_bytes
    bpp = max(1, layout.bits_per_pixel // 8)
    raw_mode = _RAW_MODES[bpp]
    inflater = _Inflater(data, layout.idat)
    lut = _palette_lut(layout) if layout.colour_type == 3 else None
    previous = bytes(row_bytes)  # the row above the first one is all zeros (PNG spec)
    pending: U8 = np.empty((0, width, 3), dtype=np.uint8)
    base = 0  # input row index of pending[0]
    decoded = 0  # input rows decoded so far
    output = Image.new("RGB", size)
    started = time.thread_time()
    for top in range(0, out_h, BLOCK_ROWS):
        bottom = min(out_h, top + BLOCK_ROWS)
        needed = min(height, math.ceil(bottom * scale))
        if needed > decoded:
            rows = needed - decoded
            filtered = inflater.read(rows * (row_bytes + 1))
            if len(filtered) != rows * (row_bytes + 1):
                raise PngRefused("This PNG file is damaged or incomplete: image data is missing")
            stream = zlib.compress(b"\x00" + previous + filtered, 0)
            del filtered
            stripe = Image.frombytes(
                raw_mode, (row_bytes // bpp, rows + 1), stream, "zip", raw_mode
            )
            del stream
            raw = np.asarray(stripe, dtype=np.uint8).reshape(rows + 1, row_bytes)[1:]
            previous = raw[-1].tobytes()
            rgb = _pillow_rgb(stripe, layout)  # the common 8-bit cases, all in C
            pending = np.concatenate(
                [pending, _to_rgb(raw, layout, lut) if rgb is None else rgb[1:]]
            )
            del stripe, raw, rgb
            decoded = needed
        region = Image.fromarray(pending)
        # Clamped: bottom * scale may pass the last row by a rounding error.
        box = (0.0, top * scale - base, float(width), min(bottom * scale, decoded) - base)
        output.paste(region.resize((out_w, bottom - top), Image.Resampling.BOX, box=box), (0, top))
        drop = min(int(bottom * scale), decoded) - base
        pending = pending[drop:]
        base += drop
        if time.thread_time() - started > DECODE_CPU_SECONDS:
            raise PngRefused(
                f"This PNG file takes more than {DECODE_CPU_SECONDS:.0f} s to decode; "
                "save it again as an ordinary PNG or JPEG",
                413,
            )
    return output


def _pillow_rgb(stripe: Image.Image, layout: PngLayout) -> U8 | None:
    """RGB on white straight from Pillow for 8-bit grey, RGB and RGBA without a colour key."""
    if layout.bit_depth != 8 or layout.transparency is not None:
        return None
    if layout.colour_type in (0, 2):
        return np.asarray(stripe.convert("RGB"), dtype=np.uint8)
    if layout.colour_type == 6:
        paper = Image.new("RGB", stripe.size, (255, 255, 255))
        paper.paste(stripe, mask=stripe)
        return np.asarray(paper, dtype=np.uint8)
    return None


def _samples(raw: U8, layout: PngLayout) -> NDArray[np.uint16] | U8:
    """Per pixel and channel: the sample values at their bit depth (n, width, channels)."""
    n = raw.shape[0]
    depth, channels, width = layout.bit_depth, CHANNELS[layout.colour_type], layout.width
    if depth < 8:
        per_byte = 8 // depth
        shifts = (np.arange(per_byte - 1, -1, -1, dtype=np.uint8) * depth).astype(np.uint8)
        values = (raw[:, :, None] >> shifts) & np.uint8((1 << depth) - 1)
        out: U8 = values.reshape(n, -1)[:, :width].reshape(n, width, 1)
        return out
    if depth == 8:
        return raw.reshape(n, width, channels)
    pairs = raw.reshape(n, width, channels, 2).astype(np.uint16)
    wide: NDArray[np.uint16] = (pairs[..., 0] * np.uint16(256)) | pairs[..., 1]
    return wide


def _to_8bit(values: NDArray[np.uint16] | U8, depth: int) -> U8:
    if depth == 8:
        return values.astype(np.uint8, copy=False)
    if depth == 16:
        return np.rint(values / 257.0).astype(np.uint8)
    return (values * (255 // ((1 << depth) - 1))).astype(np.uint8)


def _on_white(colour: U8, alpha: U8) -> U8:
    """Colour (n, w, 3) over white paper through alpha (n, w); Pillow's paste blends in C."""
    n, w = alpha.shape
    paper = Image.new("RGB", (w, n), (255, 255, 255))
    paper.paste(Image.fromarray(np.ascontiguousarray(colour)), mask=Image.fromarray(alpha))
    return np.asarray(paper, dtype=np.uint8)


def _key(layout: PngLayout, channels: int) -> NDArray[np.uint16] | None:
    """The tRNS colour key of a grey or RGB PNG (pixels that are fully transparent)."""
    trns = layout.transparency
    if trns is None or len(trns) < 2 * channels:
        return None
    return np.frombuffer(trns[: 2 * channels], dtype=">u2").astype(np.uint16)


def _palette_lut(layout: PngLayout) -> U8:
    """Every palette index's colour already composited on white (unknown indices: black)."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    entries = np.frombuffer(layout.palette[: 256 * 3], dtype=np.uint8)
    entries = entries[: len(entries) // 3 * 3].reshape(-1, 3)
    lut[: len(entries)] = entries
    alpha = np.full(256, 255, dtype=np.uint8)
    if layout.transparency:
        given = np.frombuffer(layout.transparency[:256], dtype=np.uint8)
        alpha[: len(given)] = given
    out: U8 = _on_white(lut[None], alpha[None])[0]
    return out


def _to_rgb(raw: U8, layout: PngLayout, lut: U8 | None) -> U8:
    """Un-filtered rows (n, row_bytes) as 8-bit RGB on white (n, width, 3)."""
    samples = _samples(raw, layout)
    depth, colour = layout.bit_depth, layout.colour_type
    if colour == 3:
        assert lut is not None
        out: U8 = lut[samples[..., 0]]
        return out
    if colour in (0, 2):
        channels = CHANNELS[colour]
        rgb = _to_8bit(samples, depth)
        if channels == 1:
            rgb = np.repeat(rgb, 3, axis=2)
        key = _key(layout, channels)
        if key is not None:
            transparent = np.all(samples == key, axis=2)
            rgb[transparent] = 255
        return rgb
    eight = _to_8bit(samples, depth)
    if colour == 4:
        return _on_white(np.repeat(eight[..., :1], 3, axis=2), np.ascontiguousarray(eight[..., 1]))
    return _on_white(eight[..., :3], np.ascontiguousarray(eight[..., 3]))
