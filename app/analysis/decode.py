"""Safe decoding of uploaded drawings.

Everything an uploader sends is hostile until proven otherwise. :func:`decode_upload` accepts
PNG, JPEG and WebP only, decided by the file's magic bytes (the declared content type must agree),
reads the pixel dimensions from the header *before* anything is decoded, refuses decompression
bombs, truncated or corrupt files, animated images and empty images, normalises every colour mode
to 8-bit RGB on white, applies the EXIF orientation, and re-encodes a clean PNG (no EXIF, no
text chunks, no ICC profile, no trailing bytes: see pngwrite.py) for storage. Every refusal is
an :class:`UploadRejected` with an HTTP status and a sentence a person understands; no other
exception escapes.

Memory and CPU are bounded whatever the file claims: a PNG's chunks are counted and checked
before Pillow walks them (pngscan.py); a large PNG is decoded in stripes straight to the stored
size (pngstripes.py); a JPEG at reduced scale (draft mode); what Pillow can only decode whole
(WebP, interlaced or 16-bit colour PNG, progressive JPEG) is limited to FULL_DECODE_MAX_PIXELS.
"""

from __future__ import annotations

import io
import struct
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import numpy as np
from PIL import Image, ImageFile, PngImagePlugin

from app.analysis.common import fit_within
from app.analysis.pngscan import PngLayout, PngRefused, scan_png
from app.analysis.pngstripes import can_stripe, decode_png_stripes
from app.analysis.pngwrite import encode_png

ImageFormat = Literal["PNG", "JPEG", "WEBP"]

#: Largest accepted upload body, in bytes. The web layer should refuse bigger bodies (413) from
#: Content-Length, or while streaming, before reading them fully.
MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024
#: Largest accepted image, in pixels (width x height).
MAX_PIXELS: Final = 25_000_000
#: The stored (clean) copy and the analysed image are scaled down to this long side.
STORED_MAX_SIDE: Final = 2048
#: Largest image decoded whole, in pixels: WebP, interlaced PNG and 16-bit colour PNG, which
#: Pillow cannot reduce while decoding (a whole RGBA buffer of this size is 17 MB). Other PNGs
#: are decoded in stripes and JPEGs at a reduced scale, up to ``MAX_PIXELS``.
FULL_DECODE_MAX_PIXELS: Final = 4_200_000
#: Most scans a JPEG may have: baseline files have 1, progressive ones about 10; each scan
#: costs a pass over the whole image, so thousands of them are a CPU bomb.
MAX_JPEG_SCANS: Final = 100

ACCEPTED_CONTENT_TYPES: Final[dict[ImageFormat, frozenset[str]]] = {
    "PNG": frozenset({"image/png", "image/x-png"}),
    "JPEG": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "WEBP": frozenset({"image/webp"}),
}
#: Content types that declare nothing: the magic bytes decide alone.
UNDECLARED_CONTENT_TYPES: Final = frozenset({"", "application/octet-stream"})
_HUMAN: Final[dict[ImageFormat, str]] = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}

# Pillow's own bomb guard, tightened to our limit and made an error instead of a warning. These are
# process-wide settings on purpose: nothing in this app should decode more than 25 megapixels.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)
# A cut-short file is refused, never half-decoded; text chunks are inflated only so far (a
# zTXt chunk is a zlib bomb like any other).
ImageFile.LOAD_TRUNCATED_IMAGES = False
PngImagePlugin.MAX_TEXT_CHUNK = 256 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 1024 * 1024


class UploadRejected(Exception):
    """An upload the app refuses; ``message`` is meant for the person who sent it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class DecodedImage:
    """A safely decoded upload.

    ``image`` is 8-bit RGB, upright, at most ``STORED_MAX_SIDE`` on its long side. ``png`` is the
    same pixels as a clean PNG for storage (content type ``image/png``; only IHDR, IDAT and
    IEND chunks), encoded on first use and then kept.
    """

    image: Image.Image
    format: ImageFormat
    original_width: int
    original_height: int
    decode_ms: float = 0.0
    _png: list[bytes] = field(default_factory=list, repr=False, compare=False)

    @property
    def png(self) -> bytes:
        if not self._png:
            self._png.append(encode_png(np.asarray(self.image, dtype=np.uint8)))
        return self._png[0]

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def sniff_format(data: bytes) -> ImageFormat | None:
    """The format announced by the magic bytes, or None when it is not PNG, JPEG or WebP."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def header_size(data: bytes, fmt: ImageFormat) -> tuple[int, int] | None:
    """Width and height read from the file header without decoding, or None if unreadable."""
    try:
        if fmt == "PNG":
            return _png_size(data)
        if fmt == "JPEG":
            return _jpeg_size(data)
        return _webp_size(data)
    except (struct.error, IndexError):
        return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Progressive frames: libjpeg keeps every DCT coefficient of the whole image in memory.
_PROGRESSIVE_SOF: Final = frozenset({0xC2, 0xC6, 0xCA, 0xCE})


def jpeg_is_progressive(data: bytes) -> bool:
    """Whether the first frame header of a JPEG is progressive (damaged files: False)."""
    i = 2
    n = len(data)
    while i + 4 <= n and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in _SOF_MARKERS:
            return marker in _PROGRESSIVE_SOF
        if marker in (0xD9, 0xDA):
            return False
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return False


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i < n:
        if data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        if i + 2 > n:
            return None
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[i + 3 : i + 7])
            return int(width), int(height)
        i += length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return (width, height) if len(data) >= 30 else None
    if chunk == b"VP8L":
        if len(data) < 25 or data[20] != 0x2F:
            return None
        (bits,) = struct.unpack("<I", data[21:25])
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        if len(data) < 30 or data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _check_dimensions(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise UploadRejected("The image has no pixels (its width or height is zero)", 400)
    pixels = width * height
    if pixels > MAX_PIXELS:
        raise UploadRejected(
            f"The image is {_megapixels(pixels)} megapixels ({width} x {height}); "
            f"the limit is {MAX_PIXELS // 1_000_000}",
            413,
        )


def _check_frames(im: Image.Image) -> None:
    frames = getattr(im, "n_frames", 1)
    if getattr(im, "is_animated", False) or (isinstance(frames, int) and frames > 1):
        raise UploadRejected(
            "Animated images are not supported; upload a single still picture", 415
        )


def decode_upload(data: bytes, content_type: str | None = None) -> DecodedImage:
    """Decode an uploaded drawing or raise :class:`UploadRejected` (400, 413 or 415).

    ``content_type`` is the type the client declared; when it names a type, it must agree with
    the file's magic bytes ("" and application/octet-stream declare nothing).
    """
    if not data:
        raise UploadRejected("The file is empty", 400)
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"The file is {len(data) / 1_048_576:.1f} MB; the limit is "
            f"{MAX_UPLOAD_BYTES // 1_048_576} MB",
            413,
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise UploadRejected("This file is not a PNG, JPEG or WebP image", 415)
    declared = _media_type(content_type)
    if declared not in UNDECLARED_CONTENT_TYPES and declared not in ACCEPTED_CONTENT_TYPES[fmt]:
        raise UploadRejected(
            f"The file is a {_HUMAN[fmt]} image but was sent as {declared[:60]!r}; "
            "the two must agree",
            415,
        )
    size = header_size(data, fmt)
    if size is None:
        raise UploadRejected(
            f"This {_HUMAN[fmt]} file is damaged: its picture size cannot be read", 400
        )
    _check_dimensions(*size)
    started = time.perf_counter()
    try:
        layout = _scan(data) if fmt == "PNG" else None
        if layout is not None and max(size) > STORED_MAX_SIDE and can_stripe(layout):
            decoded = _decode_stripes(data, layout)
        else:
            _check_whole_decode(data, fmt, layout, *size)
            decoded = _decode(data, fmt)
    except UploadRejected:
        raise
    except PngRefused as exc:
        raise UploadRejected(exc.message, exc.status) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected(
            f"The image is larger than {MAX_PIXELS // 1_000_000} megapixels", 413
        ) from None
    except MemoryError:
        raise UploadRejected("The image is too large to process", 413) from None
    except Exception:  # anything Pillow raises on a hostile file: a refusal, never a crash
        raise UploadRejected(
            f"This {_HUMAN[fmt]} file is damaged or incomplete and cannot be read", 400
        ) from None
    return replace(decoded, decode_ms=(time.perf_counter() - started) * 1000.0)


def _scan(data: bytes) -> PngLayout:
    """The PNG's chunks, checked before Pillow walks them (see pngscan.py)."""
    layout = scan_png(data)
    if layout.frames > 1:
        raise UploadRejected(
            "Animated images are not supported; upload a single still picture", 415
        )
    return layout


def _check_whole_decode(
    data: bytes, fmt: ImageFormat, layout: PngLayout | None, width: int, height: int
) -> None:
    """Refuse what would cost more than FULL_DECODE_MAX_PIXELS of memory, or a JPEG CPU bomb."""
    pixels = width * height
    if fmt == "JPEG" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise UploadRejected(
            f"This JPEG file has more than {MAX_JPEG_SCANS} scans (passes over the picture); "
            "save it again as an ordinary JPEG",
            413,
        )
    if pixels <= FULL_DECODE_MAX_PIXELS or (fmt == "JPEG" and not jpeg_is_progressive(data)):
        return
    if fmt == "WEBP":
        kind = "WebP images"
    elif fmt == "JPEG":
        kind = "Progressive JPEG images"
    elif layout is not None and layout.interlaced:
        kind = "Interlaced PNG images"
    else:
        kind = "16-bit colour PNG images"
    raise UploadRejected(
        f"The image is {_megapixels(pixels)} megapixels ({width} x {height}); {kind} are "
        f"accepted up to {FULL_DECODE_MAX_PIXELS // 1_000_000} megapixels (ordinary PNG and "
        f"JPEG up to {MAX_PIXELS // 1_000_000}). Save it smaller, or as an ordinary PNG or JPEG",
        413,
    )


def _decode_stripes(data: bytes, layout: PngLayout) -> DecodedImage:
    """A large PNG decoded stripe by stripe straight to the stored size (pngstripes.py)."""
    size = fit_within(layout.width, layout.height, STORED_MAX_SIDE)
    rgb = decode_png_stripes(data, layout, size)
    orientation = _exif_orientation(layout.exif)
    return DecodedImage(
        image=_apply_orientation(rgb, orientation),
        format="PNG",
        original_width=layout.width,
        original_height=layout.height,
    )


def _exif_orientation(exif: bytes | None) -> int:
    if not exif:
        return 1
    try:
        parsed = Image.Exif()
        parsed.load(exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif)
        value = parsed.get(0x0112, 1)
    except Exception:  # a broken EXIF block only loses the orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _decode(data: bytes, fmt: ImageFormat) -> DecodedImage:
    # First pass: structure and checksums (verify() leaves the image unusable, so reopen after).
    with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
        _check_dimensions(*probe.size)
        _check_frames(probe)
        probe.verify()
    with Image.open(io.BytesIO(data), formats=[fmt]) as im:
        _check_dimensions(*im.size)
        _check_frames(im)
        original_width, original_height = im.size
        orientation = _orientation(im)
        if fmt == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the stored size.
            im.draft("RGB", (STORED_MAX_SIDE, STORED_MAX_SIDE))
        im.load()
        rgb = _to_rgb(im)
    rgb = _apply_orientation(rgb, orientation)
    rgb.info = {}
    return DecodedImage(
        image=rgb,
        format=fmt,
        original_width=original_width,
        original_height=original_height,
    )


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block only loses the orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


_TRANSPOSE: Final[dict[int, tuple[Image.Transpose, ...]]] = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    for method in _TRANSPOSE.get(orientation, ()):
        image = image.transpose(method)
    return image


def _shrink(im: Image.Image) -> Image.Image:
    size = fit_within(im.width, im.height, STORED_MAX_SIDE)
    if size == im.size:
        return im
    return im.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def _on_white(rgba: Image.Image) -> Image.Image:
    """Composite a transparent image onto white paper (pasting through its alpha: no copies)."""
    paper = Image.new("RGB", rgba.size, (255, 255, 255))
    paper.paste(rgba, mask=rgba)
    return paper


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB on white from any mode Pillow can produce for PNG, JPEG or WebP."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(_shrink(im), dtype=np.float32)
        if mode.startswith("I;16") or (mode == "I" and arr.size and float(arr.max()) > 255.0):
            arr = arr / 257.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    elif mode == "1":
        im = im.convert("L")
        mode = "L"
    if mode in ("RGB", "L"):
        return _shrink(im).convert("RGB")
    if mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        if mode not in ("RGBA", "LA"):
            im = im.convert("RGBA")
        shrunk = _shrink(im)
        return _on_white(shrunk if shrunk.mode == "RGBA" else shrunk.convert("RGBA"))
    # CMYK, YCbCr and other exotic modes: let Pillow convert, then scale.
    return _shrink(im.convert("RGB"))
