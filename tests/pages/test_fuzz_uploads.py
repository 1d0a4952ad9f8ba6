"""Fuzzed and hostile uploads through the real HTTP API of a running `crayon serve`.

Whatever arrives: no 5xx, no crash (the server stays healthy), and nothing half-stored: at the
end, the analyses rows, the stored files and the accepted uploads match one for one.
"""

from __future__ import annotations

import io
import random
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from tests.pages.support import Server, drawing_png

ACCEPTED: list[str] = []


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("fuzz") / "data", {"CRAYON_HEARTBEAT_SECONDS": "5"}
    ).start()
    ACCEPTED.clear()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def http(live: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def png_bomb(width: int = 6000, height: int = 6000) -> bytes:
    """A real PNG of 36 megapixels of white: a few kB that decode to ~100 MB."""
    raw = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * (width * 3)
    body = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (160, 120), **kw: object) -> bytes:
    base = Image.open(io.BytesIO(drawing_png(size=size))).convert(mode)
    buf = io.BytesIO()
    base.save(buf, format=fmt, **kw)
    return buf.getvalue()


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (64, 64), c) for c in ("white", "red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def hostile_files() -> list[tuple[str, bytes, str]]:
    good_png, good_jpeg, good_webp = encoded("PNG"), encoded("JPEG"), encoded("WEBP")
    files = [
        ("empty", b"", "image/png"),
        ("one byte", b"\x89", "image/png"),
        ("magic only", b"\x89PNG\r\n\x1a\n", "image/png"),
        ("header claims 100000x100000", png_header_only(100_000, 100_000), "image/png"),
        ("header claims 0x0", png_header_only(0, 0), "image/png"),
        ("header claims 1x2^31", png_header_only(1, 2**31 - 1), "image/png"),
        ("header only 100x100", png_header_only(100, 100), "image/png"),
        ("decompression bomb", png_bomb(), "image/png"),
        ("wide bomb", png_bomb(30_000, 900), "image/png"),
        ("truncated png", good_png[: len(good_png) // 2], "image/png"),
        ("truncated jpeg", good_jpeg[: len(good_jpeg) // 2], "image/jpeg"),
        ("truncated webp", good_webp[: len(good_webp) // 2], "image/webp"),
        ("png sent as jpeg", good_png, "image/jpeg"),
        ("jpeg sent as png", good_jpeg, "image/png"),
        ("png sent as svg", good_png, "image/svg+xml"),
        ("animated gif", animated("GIF"), "image/gif"),
        ("animated png", animated("PNG"), "image/png"),
        ("animated webp", animated("WEBP"), "image/webp"),
        ("gif", encoded("GIF", "P"), "image/gif"),
        ("bmp", encoded("BMP"), "image/bmp"),
        ("tiff", encoded("TIFF"), "image/tiff"),
        (
            "svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        ("html", b"<html><script>alert(1)</script></html>", "text/html"),
        ("zip", b"PK\x03\x04" + bytes(200), "application/zip"),
        ("png + zip polyglot", good_png + b"PK\x03\x04" + bytes(200), "image/png"),
        ("jpeg header + garbage", good_jpeg[:20] + random.Random(1).randbytes(5000), "image/jpeg"),
        ("webp riff lie", b"RIFF\xff\xff\xff\x7fWEBPVP8 " + bytes(100), "image/webp"),
        ("ELF", b"\x7fELF" + bytes(500), "application/octet-stream"),
        ("null bytes", bytes(4096), ""),
        # valid but unusual: these must be accepted
        ("16-bit png", encoded("PNG", "I;16"), "image/png"),
        ("palette png with transparency", encoded("PNG", "P", transparency=0), "image/png"),
        ("rgba png", encoded("PNG", "RGBA"), "image/png"),
        ("greyscale jpeg", encoded("JPEG", "L"), "image/jpeg"),
        ("cmyk jpeg", encoded("JPEG", "CMYK"), "image/jpeg"),
        ("progressive jpeg", encoded("JPEG", progressive=True), "image/jpeg"),
        ("lossless webp", encoded("WEBP", lossless=True), "image/webp"),
        ("1x1 png", encoded("PNG", size=(1, 1)), "image/png"),
        ("very thin png", encoded("PNG", size=(4000, 2)), "image/png"),
        ("png declared as octet-stream", good_png, "application/octet-stream"),
        ("png with ../ filename", good_png, "image/png"),
    ]
    return files


def check(response: httpx.Response, label: str) -> None:
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
    body = response.json()
    if response.status_code == 201:
        assert 0.0 <= body["score"] <= 1.0
        ACCEPTED.append(body["id"])
    else:
        assert 400 <= response.status_code < 500
        assert isinstance(body["detail"], str) and len(body["detail"]) > 10, label


def upload(
    http: httpx.Client, data: bytes, ctype: str, age: str = "6-8", name: str = "d.png"
) -> httpx.Response:
    return http.post("/api/analyses", data={"age_group": age}, files={"file": (name, data, ctype)})


@pytest.mark.parametrize("case", hostile_files(), ids=lambda c: c[0])
def test_hostile_file(http: httpx.Client, case: tuple[str, bytes, str]) -> None:
    label, data, ctype = case
    name = "../../../etc/passwd" if "../" in label else "d.png"
    response = upload(http, data, ctype, name=name)
    check(response, label)
    must_accept = {
        "16-bit png",
        "palette png with transparency",
        "rgba png",
        "greyscale jpeg",
        "cmyk jpeg",
        "progressive jpeg",
        "lossless webp",
        "1x1 png",
        "very thin png",
        "png declared as octet-stream",
        "png with ../ filename",
    }
    if label in must_accept:
        assert response.status_code == 201, f"{label}: {response.text}"
    elif label not in {"png + zip polyglot"}:
        assert response.status_code in (400, 413, 415, 422), f"{label}: {response.text}"


_SEEDS = [encoded("PNG"), encoded("JPEG"), encoded("WEBP")]


@hsettings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    base=st.sampled_from(range(len(_SEEDS))),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=12),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
    junk=st.binary(max_size=64),
    ctype=st.sampled_from(["image/png", "image/jpeg", "image/webp", "", "text/plain"]),
    age=st.sampled_from(["3-5", "6-8", "9-12", "", "6-8\x00", "x" * 300, "é"]),
)
def test_mutated_images(
    http: httpx.Client,
    base: int,
    flips: list[tuple[int, int]],
    cut: int | None,
    junk: bytes,
    ctype: str,
    age: str,
) -> None:
    data = bytearray(_SEEDS[base])
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    check(upload(http, bytes(data) + junk, ctype, age), "mutated")


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=4096), boundary=st.sampled_from(["zz", "", "a" * 80, "--"]))
def test_malformed_multipart_bodies(http: httpx.Client, body: bytes, boundary: str) -> None:
    response = http.post(
        "/api/analyses",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code < 500, response.text
    assert response.json()["detail"]


def test_nothing_is_half_stored_and_the_server_is_healthy(live: Server, http: httpx.Client) -> None:
    """Runs last in this module: rows, files and accepted uploads match exactly."""
    good = upload(http, drawing_png(), "image/png")
    check(good, "final good upload")
    assert http.get("/healthz").status_code == 200
    settings = live.settings
    with sqlite3.connect(settings.database_path) as conn:
        rows = conn.execute(
            "SELECT id, drawing_key, heatmap_key FROM analyses WHERE source = 'upload'"
        ).fetchall()
        rolled = conn.execute("SELECT COALESCE(SUM(analyses), 0) FROM analysis_hourly").fetchone()[
            0
        ]
    assert sorted(r[0] for r in rows) == sorted(ACCEPTED)
    assert rolled == len(ACCEPTED)
    root = settings.local_storage_dir
    stored = {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not str(p.relative_to(root)).startswith("models/")
    }
    expected = {r[1] for r in rows} | {r[2] for r in rows}
    assert stored == expected
    spool = Path(settings.spool_dir)
    assert not spool.exists() or not any(spool.rglob("*.bin"))
    log = live.log.read_text()
    assert "unhandled error" not in log  # no request reached the 500 handler
    assert "analysis failed on a decoded image" not in log  # the decoder let nothing bad through
