"""The analyses API and the upload/result pages, in process."""

from __future__ import annotations

import io
import json
import socket
import sqlite3
import time

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image
from starlette.testclient import TestClient

from app.settings import Settings
from tests.pages.support import Server, drawing_png


def post(client: TestClient, data: bytes, age_group: str | None = "6-8", ctype: str = "image/png"):
    form = {} if age_group is None else {"age_group": age_group}
    return client.post("/api/analyses", data=form, files={"file": ("d.png", data, ctype)})


def stored_files(settings: Settings) -> list[str]:
    root = settings.local_storage_dir
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not str(p.relative_to(root)).startswith("models/")
    )


def analysis_rows(settings: Settings) -> int:
    with sqlite3.connect(settings.database_path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM analyses").fetchone()[0])


def test_upload_answers_201_with_the_documented_fields(client: TestClient) -> None:
    response = post(client, drawing_png())
    assert response.status_code == 201, response.text
    body = response.json()
    for key in (
        "id",
        "score",
        "verdict",
        "threshold",
        "meaning",
        "top_features",
        "heatmap_url",
        "drawing_url",
        "processing_ms",
        "model_version",
    ):
        assert key in body, key
    assert 0.0 <= body["score"] <= 1.0
    assert body["verdict"] in ("typical", "anomalous")
    assert (body["score"] >= body["threshold"]) == (body["verdict"] == "anomalous")
    assert body["top_features"] and all(f["text"] for f in body["top_features"])
    assert response.headers["location"] == f"/api/analyses/{body['id']}"

    again = client.get(f"/api/analyses/{body['id']}")
    assert again.status_code == 200
    assert again.json()["score"] == body["score"]

    heatmap = client.get(body["heatmap_url"])
    assert heatmap.status_code == 200 and heatmap.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(heatmap.content)).format == "PNG"
    drawing = client.get(body["drawing_url"])
    assert drawing.status_code == 200
    assert not Image.open(io.BytesIO(drawing.content)).info.get("exif")

    page = client.get(body["result_url"])
    assert page.status_code == 200
    for text in (f"{body['score']:.2f}", body["verdict"], body["heatmap_url"], "not a medical"):
        assert text.lower() in page.text.lower()


def test_the_same_image_gives_the_same_result(client: TestClient) -> None:
    png = drawing_png(3)
    a, b = post(client, png).json(), post(client, png).json()
    assert a["id"] != b["id"]
    for key in ("score", "verdict", "top_features", "model_version"):
        assert a[key] == b[key]


def test_exif_is_not_stored(client: TestClient, settings: Settings) -> None:
    image = Image.open(io.BytesIO(drawing_png()))
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    exif[0x013B] = "secret artist"  # Artist
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif, quality=90)
    response = post(client, buf.getvalue(), ctype="image/jpeg")
    assert response.status_code == 201, response.text
    for name in stored_files(settings):
        stored = (settings.local_storage_dir / name).read_bytes()
        assert b"secret description" not in stored and b"secret artist" not in stored


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"age_group": None}, 400, "age group"),
        ({"age_group": "13-18"}, 400, "age group"),
        ({"data": b""}, 400, "empty"),
        ({"data": b"hello, I am text"}, 415, "PNG, JPEG or WebP"),
        ({"data": b"%PDF-1.4\n" + b"0" * 100, "ctype": "application/pdf"}, 415, "PNG"),
        ({"ctype": "image/jpeg"}, 415, "agree"),
        ({"data": drawing_png()[:300]}, 400, "damaged"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(
    client: TestClient, settings: Settings, kwargs: dict, status: int, words: str
) -> None:
    data = kwargs.pop("data", drawing_png())
    response = post(client, data, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert words.lower() in body["detail"].lower()
    assert analysis_rows(settings) == 0 and stored_files(settings) == []


def test_not_multipart_and_missing_file_are_refused(client: TestClient) -> None:
    r = client.post("/api/analyses", content=drawing_png(), headers={"content-type": "image/png"})
    assert r.status_code == 415 and "multipart" in r.json()["detail"]
    r = client.post("/api/analyses", data={"age_group": "6-8"}, files={"other": ("x", b"1")})
    assert r.status_code == 400 and "'file'" in r.json()["detail"]
    r = client.post(
        "/api/analyses", data={"age_group": "6-8", "file": "not a file"}, files={"x": ("x", b"1")}
    )
    assert r.status_code == 400
    r = client.post(
        "/api/analyses",
        content=b'--zz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=zz"},
    )
    assert r.status_code == 400
    files = [
        ("file", ("a.png", drawing_png(), "image/png")),
        ("file", ("b.png", b"x", "image/png")),
    ]
    r = client.post("/api/analyses", data={"age_group": "6-8"}, files=files)
    assert r.status_code == 400


def test_unknown_ids_and_files_are_404(client: TestClient) -> None:
    assert client.get("/api/analyses/" + "0" * 32).status_code == 404
    assert client.get("/api/analyses/..%2F..%2Fetc").status_code == 404
    assert client.get("/analyses/nope").status_code == 404
    assert client.get("/files/" + "0" * 32 + "/drawing.png").status_code == 404
    body = post(client, drawing_png()).json()
    assert client.get(f"/files/{body['id']}/secret.png").status_code == 404
    assert client.get(f"/files/{body['id']}/..%2Fdrawing.png").status_code == 404


def test_upload_form_redirects_to_the_result_and_shows_errors(client: TestClient) -> None:
    page = client.get("/upload")
    assert page.status_code == 200 and 'name="age_group"' in page.text
    r = client.post(
        "/upload",
        data={"age_group": "9-12"},
        files={"file": ("d.png", drawing_png(), "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/analyses/")
    result = client.get(r.headers["location"])
    assert "heatmap" in result.text
    bad = client.post(
        "/upload", data={"age_group": "9-12"}, files={"file": ("d.txt", b"text", "text/plain")}
    )
    assert bad.status_code == 415
    assert "PNG, JPEG or WebP" in bad.text and "<form" in bad.text


def test_oversized_body_is_refused_from_content_length_before_it_is_sent(server: Server) -> None:
    """A real server answers 413 to the headers alone: the client never sends the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/analyses HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=zz\r\n"
            b"Content-Length: 52428800\r\n\r\n"
        )
        started = time.monotonic()
        answer = ""
        while "limit" not in answer and time.monotonic() - started < 3:
            chunk = sock.recv(4096).decode("latin-1")
            if not chunk:
                break
            answer += chunk
    assert answer.startswith("HTTP/1.1 413"), answer
    assert time.monotonic() - started < 3
    assert "limit" in answer


def test_oversized_body_without_content_length_is_cut_while_streaming(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/analyses HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=zz\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        head = (
            b'--zz\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
            b"Content-Type: image/png\r\n\r\n"
        )
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        chunk = b"a" * 65536
        answer = b""
        try:
            for _ in range(400):  # up to 25 MB
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        sock.settimeout(5)
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    with sqlite3.connect(server.settings.database_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM analyses").fetchone()[0] == 0


@hsettings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    w=st.integers(8, 700),
    h=st.integers(8, 700),
    group=st.sampled_from(["3-5", "6-8", "9-12"]),
    fmt=st.sampled_from(["PNG", "JPEG", "WEBP"]),
)
def test_score_is_always_within_0_and_1_through_the_api(
    client: TestClient, seed: int, w: int, h: int, group: str, fmt: str
) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    pixels = np.full((h, w, 3), 255, dtype=np.uint8)
    for _ in range(int(rng.integers(0, 12))):
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        pixels[y0 : y0 + int(rng.integers(1, h)), x0 : x0 + int(rng.integers(1, 6))] = rng.integers(
            0, 255, 3
        )
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    ctype = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    response = client.post(
        "/api/analyses", data={"age_group": group}, files={"file": ("d", buf.getvalue(), ctype)}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert 0.0 <= body["score"] <= 1.0
    assert json.dumps(body)  # JSON-clean: no NaN/inf


def test_threshold_change_applies_to_new_analyses(admin: TestClient) -> None:
    client = admin
    before = post(client, drawing_png()).json()
    r = client.post("/config", data={"threshold": "0.01"}, follow_redirects=False)
    assert r.status_code == 303
    after = post(client, drawing_png()).json()
    assert before["threshold"] == 0.5 and after["threshold"] == 0.01
    assert after["verdict"] == "anomalous"
    assert client.post("/config", data={"threshold": "2"}).status_code == 400
    assert client.post("/config", data={"threshold": "nan"}).status_code == 400
    assert client.post("/config", data={"threshold": "abc"}).status_code == 400
    assert "0.01" in client.get("/config").text
