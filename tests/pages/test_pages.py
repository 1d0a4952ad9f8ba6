"""The demo, history (filters, pagination, CSV export) and configuration pages."""

from __future__ import annotations

import csv
import io
import sqlite3
import time

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.demo_content import SAMPLES, ensure_demo
from app.web.history import safe_cell, to_csv
from tests.pages.support import drawing_png, login


def test_demo_ensure_is_idempotent_and_the_page_shows_everything(settings: Settings) -> None:
    lines: list[str] = []
    assert ensure_demo(settings, out=lines.append) == len(SAMPLES)
    assert ensure_demo(settings, out=lines.append) == 0  # nothing to redo
    with TestClient(create_app(settings)) as client:
        page = client.get("/demo")
        assert page.status_code == 200  # public
        login(client)
        assert page.status_code == 200
        text = page.text
        assert "not a medical diagnosis" in text.lower()
        assert 'id="demo-warning"' in text and 'role="alert"' in text
        assert settings.source_url in text
        assert "anomaly detect" in text.lower()  # the project description
        for sample in SAMPLES:
            assert f'id="{sample.id}"' in text
            assert f"/files/{sample.id}/heatmap.png" in text
            image = client.get(f"/files/{sample.id}/heatmap.png")
            assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert text.count("synthetic") >= len(SAMPLES)
        assert "Why this score" in text
        verdicts = {s["verdict"] for s in client.get("/history?source=demo").context["rows"]}  # type: ignore[attr-defined]
        assert verdicts == {"typical", "anomalous"}  # the demo shows both kinds
        # demo samples are not usage
        assert client.get("/api/metrics").json()["total_analyses"] == 0


def _upload(client: TestClient, age: str = "6-8") -> str:
    r = client.post(
        "/api/analyses",
        data={"age_group": age},
        files={"file": ("d.png", drawing_png(), "image/png")},
    )
    assert r.status_code == 201
    return str(r.json()["id"])


def test_history_paginates_filters_and_exports(admin: TestClient, settings: Settings) -> None:
    client = admin
    ids = [_upload(client) for _ in range(3)]
    # backdate rows to exercise pages and the date filter without 30 uploads
    with sqlite3.connect(settings.database_path) as conn:
        conn.executemany(
            "UPDATE analyses SET verdict = 'typical' WHERE id = ?", [(i,) for i in ids]
        )
        base = time.time() - 10 * 86400
        for i in range(27):
            conn.execute(
                "INSERT INTO analyses (id, created_at, source, age_group, score, verdict, "
                "threshold, model_version, processing_ms, width, height, drawing_key, "
                "heatmap_key, result_json) SELECT ?, ?, source, age_group, score, ?, threshold, "
                "model_version, processing_ms, width, height, drawing_key, heatmap_key, "
                "result_json FROM analyses WHERE id = ?",
                (f"old{i:02d}", base + i, "anomalous" if i % 3 == 0 else "typical", ids[0]),
            )
    page1 = client.get("/history")
    assert page1.status_code == 200
    assert "30 analyses match" in page1.text and "page 1 of 2" in page1.text
    assert 'rel="next"' in page1.text
    page2 = client.get("/history?page=2")
    assert "page 2 of 2" in page2.text and 'rel="prev"' in page2.text
    assert client.get("/history?page=999").status_code == 200

    today = time.strftime("%Y-%m-%d", time.gmtime())
    recent = client.get(f"/history?from={today}&to={today}")
    assert "3 analyses match" in recent.text
    anomalous = client.get(
        "/history?verdict=anomalous&to=" + time.strftime("%Y-%m-%d", time.gmtime(base + 100))
    )
    assert "9 analyses match" in anomalous.text
    bad = client.get("/history?from=yesterday&verdict=evil")
    assert bad.status_code == 200 and "not a date" in bad.text and "unknown" in bad.text

    export = client.get("/history/export.csv?verdict=anomalous")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 9 and all(r["verdict"] == "anomalous" for r in rows)


def _stored_files(settings: Settings) -> set[str]:
    root = settings.local_storage_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_export_is_a_get_that_changes_nothing_and_streams_every_row(
    admin: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.web import history

    ids = [_upload(admin) for _ in range(2)]
    with sqlite3.connect(settings.database_path) as conn:
        base = time.time() - 86400
        for i in range(9):
            # Pairs with one timestamp: the keyset pages must neither repeat nor skip them.
            conn.execute(
                "INSERT INTO analyses (id, created_at, source, age_group, score, verdict, "
                "threshold, model_version, processing_ms, width, height, drawing_key, "
                "heatmap_key, result_json) SELECT ?, ?, source, age_group, score, verdict, "
                "threshold, model_version, processing_ms, width, height, drawing_key, "
                "heatmap_key, result_json FROM analyses WHERE id = ?",
                (f"old{i:02d}", base + i // 2, ids[0]),
            )
        before_rows = conn.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]
    files_before = _stored_files(settings)
    monkeypatch.setattr(history, "EXPORT_PAGE", 2)
    first = admin.get("/history/export.csv")
    second = admin.get("/history/export.csv")
    assert first.status_code == second.status_code == 200
    assert "x-export-key" not in first.headers
    assert first.content == second.content
    rows = list(csv.DictReader(io.StringIO(first.text)))
    assert len(rows) == before_rows == 11
    assert len({r["id"] for r in rows}) == 11
    assert [r["created"] for r in rows] == sorted((r["created"] for r in rows), reverse=True)
    assert _stored_files(settings) == files_before  # nothing written to storage
    with sqlite3.connect(settings.database_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM analyses").fetchone()[0] == before_rows


def test_csv_cells_cannot_become_formulas() -> None:
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell(0.5) == 0.5
    body = to_csv(
        [
            {
                "id": "x",
                "created": "c",
                "source": "upload",
                "age_group": "3-5",
                "score": 0.1,
                "verdict": "typical",
                "threshold": 0.5,
                "model_version": "m",
                "processing_ms": 1.0,
                "width": 1,
                "height": 1,
                "country": "+cmd",
                "top_features": ["-a"],
            }
        ]
    ).decode()
    assert ",'+cmd," in body and "'-a" in body


class _Replication:
    async def status(self) -> dict[str, object]:
        return {"ok": False, "error": "sync failed: access denied", "lag_s": 12}


def test_config_shows_what_the_instance_runs_with(admin: TestClient) -> None:
    client = admin
    page = client.get("/config")
    assert page.status_code == 200
    text = page.text
    assert 'id="cfg-env">local<' in text
    assert 'id="cfg-storage">local' in text
    assert "not configured" in text
    assert 'name="threshold"' in text and 'value="0.50"' in text
    client.app.state.services.replication = _Replication()  # type: ignore[attr-defined]
    text = client.get("/config").text
    assert "sync failed: access denied" in text and "12" in text


PROTECTED = [
    "/dashboard",
    "/history",
    "/history/export.csv",
    "/config",
    "/api/metrics",
    "/api/events",
]
PUBLIC = ["/demo", "/upload"]


def test_admin_pages_are_closed_and_public_pages_open(client: TestClient) -> None:
    for path in PROTECTED:
        r = client.get(path, follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, path
        else:
            assert r.status_code in (302, 303) and "/login" in r.headers["location"], path
    assert client.post(
        "/config", data={"threshold": "0.1"}, follow_redirects=False
    ).status_code in (302, 303, 401, 403)
    for path in PUBLIC:
        assert client.get(path).status_code == 200, path
    r = client.post(
        "/api/analyses",
        data={"age_group": "6-8"},
        files={"file": ("d.png", drawing_png(), "image/png")},
    )
    assert r.status_code == 201  # the API is public: no cookie, no CSRF token needed
    assert client.get(r.json()["result_url"]).status_code == 200
    assert client.get(r.json()["heatmap_url"]).status_code == 200


def test_logged_in_writes_need_the_csrf_token(admin: TestClient) -> None:
    token = admin.headers.pop("X-CSRF-Token")
    r = admin.post("/config", data={"threshold": "0.2"}, follow_redirects=False)
    assert r.status_code == 403
    r = admin.post(
        "/config", data={"threshold": "0.2", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
