"""Issue 13: decoding is bounded in memory and CPU, whatever an upload claims or contains."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.analysis import UploadRejected, decode_upload
from app.analysis.decode import FULL_DECODE_MAX_PIXELS
from app.analysis.pngscan import MAX_ANCILLARY_CHUNKS, MAX_PNG_CHUNKS
from tests.analysis.conftest import encode

ROOT = Path(__file__).resolve().parents[2]
#: Peak memory the 5000 x 5000 RGBA PNG may add while decoding (whole decode: ~250 MB).
DECODE_PEAK_MB = 64


def chunk(kind: bytes, body: bytes = b"") -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind))
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def raw_png(width: int, height: int, depth: int, colour: int, rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND")
    )


def big_rgba_png() -> bytes:
    """5000 x 5000 RGBA, transparent paper with red strokes: ~400 KB, 100 MB decoded whole."""
    image = Image.new("RGBA", (5000, 5000), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    for i in range(40):
        draw.line((i * 120, 0, 5000 - i * 100, 5000), fill=(200, 30, 30, 255), width=9)
    return encode(image, "PNG")


_PEAK_SCRIPT = """
import json, sys
from pathlib import Path
def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
from app.analysis import decode_upload
data = Path(sys.argv[1]).read_bytes()
before = hwm()
decoded = decode_upload(data, "image/png")
print(json.dumps({"peak_mb": hwm() - before, "size": decoded.image.size,
                  "original": [decoded.original_width, decoded.original_height]}))
"""


def test_a_large_rgba_png_decodes_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(big_rgba_png())
    # A fresh process: VmHWM sees Pillow's and numpy's C buffers, which tracemalloc does not.
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["original"] == [5000, 5000]
    assert figures["size"] == [2048, 2048]
    assert figures["peak_mb"] < DECODE_PEAK_MB, figures


def test_the_large_png_is_the_drawing_it_shows() -> None:
    decoded = decode_upload(big_rgba_png(), "image/png")
    arr = np.asarray(decoded.image)
    red = (arr[..., 0] > 150) & (arr[..., 1] < 100)
    white = (arr > 240).all(axis=2)
    assert 0.02 < red.mean() < 0.2  # the strokes survive scaling
    assert white.mean() > 0.7  # transparent paper is white, not black


def _png_with_chunks(count: int, kind: bytes) -> bytes:
    small = encode(Image.new("RGB", (64, 64), "white"), "PNG")
    after_ihdr = 8 + 25
    return small[:after_ihdr] + chunk(kind) * count + small[after_ihdr:]


def test_a_png_of_800000_empty_chunks_is_refused_for_its_chunk_count() -> None:
    data = _png_with_chunks(800_000, b"bOMb")
    assert len(data) > 9_000_000
    with pytest.raises(UploadRejected) as caught:
        decode_upload(data, "image/png")
    assert caught.value.status == 413
    assert f"more than {MAX_ANCILLARY_CHUNKS} extra chunks" in caught.value.message


def test_a_png_of_many_empty_data_chunks_is_refused_for_its_chunk_count() -> None:
    small = encode(Image.new("RGB", (64, 64), "white"), "PNG")
    iend = small.rindex(b"IEND") - 4
    data = small[:iend] + chunk(b"IDAT") * (MAX_PNG_CHUNKS + 10) + small[iend:]
    with pytest.raises(UploadRejected) as caught:
        decode_upload(data, "image/png")
    assert caught.value.status == 413
    assert f"more than {MAX_PNG_CHUNKS} chunks" in caught.value.message


def _reference(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """What the stripes should give: whole decode, onto white, box-scaled (Pillow)."""
    rgba = image.convert("RGBA")
    paper = Image.new("RGB", rgba.size, (255, 255, 255))
    paper.paste(rgba, mask=rgba)
    return np.asarray(paper.resize(size, Image.Resampling.BOX), dtype=np.float64)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "P-trns", "1", "I;16", "P4"])
def test_large_pngs_decoded_in_stripes_match_a_whole_decode(mode: str) -> None:
    rng = np.random.default_rng(3)
    base = np.full((1500, 2100, 3), 255, dtype=np.uint8)
    for _ in range(60):  # coloured blocks and strokes
        y, x = rng.integers(0, 1400), rng.integers(0, 2000)
        base[y : y + rng.integers(3, 100), x : x + rng.integers(3, 100)] = rng.integers(0, 255, 3)
    rgb = Image.fromarray(base)
    params: dict[str, object] = {}
    if mode == "RGBA":
        alpha = np.tile(np.linspace(0, 255, 2100).astype(np.uint8), (1500, 1))
        image = Image.fromarray(np.dstack([base, alpha]))
    elif mode == "P-trns":
        image = rgb.convert("P")
        params["transparency"] = 0
    elif mode == "P4":
        image = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        params["bits"] = 4
    elif mode == "I;16":
        image = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    else:
        image = rgb.convert(mode)
    data = encode(image, "PNG", **params)
    decoded = decode_upload(data, "image/png")
    assert decoded.image.size == (2048, 1463)
    whole = Image.open(io.BytesIO(data))
    if mode == "I;16":
        whole = Image.fromarray((np.asarray(whole) / 257).round().astype(np.uint8))
    if mode == "P-trns":
        whole = whole.convert("RGBA")
    diff = np.abs(np.asarray(decoded.image, dtype=np.float64) - _reference(whole, (2048, 1463)))
    assert diff.mean() < 0.5, (mode, diff.mean())


def test_a_large_png_cut_short_is_refused_as_incomplete() -> None:
    rows = b"".join(b"\x00" + bytes([y % 256]) * 3000 for y in range(500))
    data = raw_png(3000, 900, 8, 0, rows)  # 900 rows declared, 500 present
    with pytest.raises(UploadRejected) as caught:
        decode_upload(data, "image/png")
    assert caught.value.status == 400
    assert "missing" in caught.value.message


def test_a_large_png_with_a_bad_filter_is_refused() -> None:
    rows = b"".join(b"\x09" + bytes(3000) for _ in range(900))  # filter type 9 does not exist
    with pytest.raises(UploadRejected) as caught:
        decode_upload(raw_png(3000, 900, 8, 0, rows), "image/png")
    assert caught.value.status == 400


def _over_whole_limit() -> tuple[int, int]:
    side = int(FULL_DECODE_MAX_PIXELS**0.5) + 20
    return side, side


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("webp", lambda im: encode(im, "WEBP"), "WebP images"),
        ("progressive jpeg", lambda im: encode(im, "JPEG", progressive=True), "Progressive JPEG"),
    ],
)
def test_images_pillow_must_decode_whole_have_a_lower_limit(
    name: str, make: Callable[[Image.Image], bytes], words: str
) -> None:
    image = Image.new("RGB", _over_whole_limit(), (250, 250, 250))
    with pytest.raises(UploadRejected) as caught:
        decode_upload(make(image), None)
    assert caught.value.status == 413
    assert words in caught.value.message and "megapixels" in caught.value.message


def test_sixteen_bit_colour_png_has_the_lower_limit_too() -> None:
    width, height = _over_whole_limit()
    rows = b"".join(b"\x00" + bytes(width * 8) for _ in range(height))
    with pytest.raises(UploadRejected) as caught:
        decode_upload(raw_png(width, height, 16, 6, rows), "image/png")
    assert caught.value.status == 413 and "16-bit colour PNG" in caught.value.message


def test_a_large_baseline_jpeg_is_still_accepted() -> None:
    image = Image.new("RGB", _over_whole_limit(), (250, 250, 250))
    decoded = decode_upload(encode(image, "JPEG"), "image/jpeg")
    assert max(decoded.image.size) <= 2048


def test_a_large_png_in_stripes_is_turned_upright_like_a_small_one() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    image = Image.new("RGB", (3000, 1000), "white")
    image.paste((255, 0, 0), (0, 0, 300, 1000))  # a red band on the left edge
    large = decode_upload(encode(image, "PNG", exif=exif.tobytes()), "image/png")
    small = decode_upload(
        encode(image.resize((1500, 500)), "PNG", exif=exif.tobytes()), "image/png"
    )
    assert large.image.size == (683, 2048) and small.image.size == (500, 1500)
    for decoded in (large, small):  # the left edge is now the top
        assert decoded.image.getpixel((decoded.width // 2, 5)) == (255, 0, 0)
        assert decoded.image.getpixel((decoded.width // 2, decoded.height - 5)) == (255, 255, 255)
