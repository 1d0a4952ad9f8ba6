"""Safe decoding: every hostile file is an UploadRejected with a 4xx, never another exception."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from app.analysis.decode import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    UploadRejected,
    decode_upload,
    header_size,
)
from app.analysis.engine import analyse
from app.analysis.generator import generate_drawing
from app.analysis.model import ReferenceModel
from tests.analysis.conftest import encode, png_chunks


def drawing(side: int = 300) -> Image.Image:
    return generate_drawing(3, "6-8", long_side=side).image


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def real_bomb() -> bytes:
    """A real 6000 x 6000 (36 megapixel) PNG that compresses to a few kilobytes."""
    return encode(Image.new("L", (6000, 6000), 255), "PNG", optimize=False)


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("RGB", (16, 16), "white"), "JPEG"))
    i = data.index(b"\xff\xc0")
    data[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_vp8x_claiming(width: int, height: int) -> bytes:
    body = (
        bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    payload = b"WEBP" + b"VP8X" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue", "green")]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def corrupt_crc(data: bytes) -> bytes:
    out = bytearray(data)
    i = out.index(b"IDAT")
    out[i + 10] ^= 0xFF
    return bytes(out)


def png_bytes() -> bytes:
    return encode(drawing(), "PNG")


def jpeg_bytes() -> bytes:
    return encode(drawing(), "JPEG", quality=85)


# Garbage with no 0xFF byte, so no JPEG marker: random bytes once held a frame header claiming
# 180 megapixels (a 413, not the 400 this case is about).
NO_MARKERS = bytes(i * 37 % 255 for i in range(2000))

# (name, bytes factory, declared content type, expected status)
HOSTILE: list[tuple[str, Callable[[], bytes], str | None, int]] = [
    ("empty file", lambda: b"", "image/png", 400),
    ("random bytes", lambda: os.urandom(4096), None, 415),
    ("text", lambda: b"hello, this is not a picture\n" * 10, "image/png", 415),
    ("html as png", lambda: b"<html><script>alert(1)</script></html>", "image/png", 415),
    ("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "image/svg+xml", 415),
    ("gif", lambda: encode(Image.new("RGB", (10, 10)), "GIF"), "image/gif", 415),
    ("animated gif", lambda: animated("GIF"), "image/gif", 415),
    ("bmp", lambda: encode(Image.new("RGB", (10, 10)), "BMP"), "image/bmp", 415),
    ("tiff", lambda: encode(Image.new("RGB", (10, 10)), "TIFF"), "image/tiff", 415),
    ("apng", lambda: animated("PNG"), "image/png", 415),
    ("animated webp", lambda: animated("WEBP"), "image/webp", 415),
    ("png magic only", lambda: b"\x89PNG\r\n\x1a\n", "image/png", 400),
    ("jpeg magic and garbage", lambda: b"\xff\xd8\xff" + NO_MARKERS, "image/jpeg", 400),
    ("webp riff only", lambda: b"RIFF\x00\x00\x00\x00WEBP", "image/webp", 400),
    ("truncated png", lambda: png_bytes()[: len(png_bytes()) // 2], "image/png", 400),
    ("truncated jpeg", lambda: jpeg_bytes()[: len(jpeg_bytes()) // 2], "image/jpeg", 400),
    ("png with bad crc", lambda: corrupt_crc(png_bytes()), "image/png", 400),
    ("png header lies 100k x 100k", lambda: png_claiming(100_000, 100_000), "image/png", 413),
    ("png header 6000 x 5000", lambda: png_claiming(6000, 5000), "image/png", 413),
    ("real 36 MP bomb", real_bomb, "image/png", 413),
    ("png zero width", lambda: png_claiming(0, 10), "image/png", 400),
    ("png header ok, data lies", lambda: png_claiming(3000, 3000), "image/png", 400),
    ("jpeg header 60000 x 60000", lambda: jpeg_claiming(60000, 60000), "image/jpeg", 413),
    ("jpeg zero height", lambda: jpeg_claiming(16, 0), "image/jpeg", 400),
    ("webp canvas 16000 x 16000", lambda: webp_vp8x_claiming(16000, 16000), "image/webp", 413),
    ("png sent as jpeg", png_bytes, "image/jpeg", 415),
    ("jpeg sent as png", jpeg_bytes, "image/png", 415),
    ("png sent as text", png_bytes, "text/plain", 415),
    ("over 10 MB", lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_UPLOAD_BYTES, "image/png", 413),
]


@pytest.mark.parametrize(
    ("name", "make", "content_type", "status"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_files_are_refused_with_a_clear_4xx(
    name: str, make: Callable[[], bytes], content_type: str | None, status: int
) -> None:
    with pytest.raises(UploadRejected) as info:
        decode_upload(make(), content_type)
    assert info.value.status == status, info.value.message
    assert info.value.message and "Traceback" not in info.value.message


def test_megapixel_message_names_the_size_and_the_limit() -> None:
    with pytest.raises(UploadRejected) as info:
        decode_upload(png_claiming(8000, 5000), "image/png")
    assert "40 megapixels" in info.value.message
    assert "limit is 25" in info.value.message
    assert header_size(png_claiming(8000, 5000), "PNG") == (8000, 5000)
    assert MAX_PIXELS == 25_000_000


def test_not_an_image_message() -> None:
    with pytest.raises(UploadRejected) as info:
        decode_upload(b"GIF89a....", None)
    assert info.value.message == "This file is not a PNG, JPEG or WebP image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("content_type", [None, "", "application/octet-stream", "declared"])
def test_valid_images_decode(fmt: str, content_type: str | None) -> None:
    declared = {"PNG": "image/png", "JPEG": "image/jpeg; charset=binary", "WEBP": "image/webp"}
    ct = declared[fmt] if content_type == "declared" else content_type
    decoded = decode_upload(encode(drawing(), fmt), ct)
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == drawing().size
    assert png_chunks(decoded.png) == [b"IHDR", b"IDAT", b"IEND"]


def test_exif_and_text_are_stripped_and_orientation_applied() -> None:
    image = Image.new("RGB", (120, 80), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    data = encode(image, "JPEG", exif=exif.tobytes(), comment=b"private comment")
    assert b"SecretCam" in data
    decoded = decode_upload(data, "image/jpeg")
    assert (decoded.width, decoded.height) == (80, 120)
    assert png_chunks(decoded.png) == [b"IHDR", b"IDAT", b"IEND"]
    assert b"SecretCam" not in decoded.png and b"private" not in decoded.png
    assert decoded.image.info == {}
    stored = Image.open(io.BytesIO(decoded.png))
    assert stored.getexif() == {} and not stored.info.get("exif")

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Alice Example, 12 Secret Lane")
    png = encode(image, "PNG", pnginfo=info, icc_profile=b"\0" * 128)
    assert b"Secret Lane" in png
    cleaned = decode_upload(png, "image/png").png
    assert b"Secret Lane" not in cleaned
    assert png_chunks(cleaned) == [b"IHDR", b"IDAT", b"IEND"]


def test_trailing_polyglot_data_is_not_stored() -> None:
    payload = b"PK\x03\x04" + b"zip archive hiding here" * 20
    decoded = decode_upload(png_bytes() + payload, "image/png")
    assert b"zip archive" not in decoded.png


def test_modes_become_sane_rgb() -> None:
    gray16 = Image.fromarray(np.full((40, 60), 32768, dtype=np.uint16))
    out = np.asarray(decode_upload(encode(gray16, "PNG"), "image/png").image)
    assert 120 <= int(out.mean()) <= 135  # mid grey, not clipped to white

    cmyk = Image.new("CMYK", (40, 40), (0, 255, 255, 0))  # red
    out = np.asarray(decode_upload(encode(cmyk, "JPEG"), "image/jpeg").image)
    r, g, b = (int(v) for v in out.reshape(-1, 3).mean(axis=0))
    assert r > 180 and g < 80 and b < 80

    transparent = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    out = np.asarray(decode_upload(encode(transparent, "PNG"), "image/png").image)
    assert out.min() == 255  # transparent means white paper, not black

    for mode in ("P", "LA", "1", "L", "I;16", "RGBA"):
        img = Image.new("RGB", (30, 20), (200, 30, 30)).convert(mode)
        decoded = decode_upload(encode(img, "PNG"), "image/png")
        assert decoded.image.mode == "RGB" and decoded.image.size == (30, 20)

    palette = Image.new("P", (20, 20), 0)
    palette.info["transparency"] = 0
    out = np.asarray(decode_upload(encode(palette, "PNG", transparency=0), "image/png").image)
    assert out.min() == 255


@pytest.mark.parametrize("size", [(1, 1), (1, 4000), (4000, 1), (3, 2)])
def test_tiny_and_extreme_images_decode_and_analyse(
    size: tuple[int, int], model: ReferenceModel
) -> None:
    img = Image.new("RGB", size, (20, 20, 20))
    decoded = decode_upload(encode(img, "PNG"), "image/png")
    result = analyse(decoded, "6-8", model)
    assert 0.0 <= result.score <= 1.0


def test_large_images_are_scaled_for_storage() -> None:
    big = Image.new("RGB", (5000, 3000), "white")
    decoded = decode_upload(encode(big, "JPEG"), "image/jpeg")
    assert max(decoded.width, decoded.height) <= 2048
    assert (decoded.original_width, decoded.original_height) == (5000, 3000)


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, pos, value in ops:
        if not out:
            break
        i = pos % len(out)
        if kind == 0:
            out[i] ^= 1 << (value % 8)
        elif kind == 1:
            del out[i:]
        elif kind == 2:
            out[i:i] = bytes([value % 256]) * (value % 7 + 1)
        else:
            out[i] = value % 256
    return bytes(out)


SEEDS = {
    "png": encode(drawing(96), "PNG"),
    "jpeg": encode(drawing(96), "JPEG"),
    "webp": encode(drawing(96), "WEBP"),
    "webp-lossless": encode(drawing(96), "WEBP", lossless=True),
    "apng": animated("PNG"),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(sorted(SEEDS)),
    ops=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
)
def test_fuzzed_files_are_refused_or_analysed(
    seed: str, ops: list[tuple[int, int, int]], model: ReferenceModel
) -> None:
    data = _mutate(SEEDS[seed], ops)
    try:
        decoded = decode_upload(data, None)
    except UploadRejected as exc:
        assert exc.status in (400, 413, 415)
        return
    result = analyse(decoded, "9-12", model)
    assert 0.0 <= result.score <= 1.0
    assert png_chunks(decoded.png) == [b"IHDR", b"IDAT", b"IEND"]
