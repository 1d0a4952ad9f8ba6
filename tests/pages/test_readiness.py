"""Issue 13: /readyz is 200 only when an analysis can be served; fresh installs are ready."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app import migrate
from app.analysis import builtin
from app.analysis.budget import ANALYSIS_PEAK_MB, BASELINE_MB
from app.analysis.builtin import BUILTIN_MODEL_FILE, load_builtin_model
from app.analysis.shipmodel import main as shipmodel
from app.main import create_app
from app.settings import Settings
from app.storage.local import LocalStorage
from app.web import analysis_service
from app.web.analysis_service import MODEL_NOT_READY
from tests.pages.support import ADMIN_PASSWORD, TEST_HOSTS, drawing_png, login


def fresh_settings(tmp_path: Path, **extra: object) -> Settings:
    """A migrated database and an empty storage: no model stored yet."""
    extra.setdefault("allowed_hosts", TEST_HOSTS)
    settings = Settings(data_dir=tmp_path / "data", admin_password=ADMIN_PASSWORD, **extra)  # type: ignore[arg-type]
    migrate.upgrade(settings.database_path)
    return settings


def upload(client: TestClient) -> tuple[int, dict[str, object]]:
    r = client.post(
        "/api/analyses",
        data={"age_group": "6-8"},
        files={"file": ("d.png", drawing_png(), "image/png")},
    )
    return r.status_code, r.json()


def test_the_shipped_model_is_current_and_in_the_package() -> None:
    assert BUILTIN_MODEL_FILE.is_file() and BUILTIN_MODEL_FILE.stat().st_size < 200_000
    assert shipmodel(["check"]) == 0  # what the build scripts run


def test_a_fresh_data_dir_is_ready_at_once_with_the_shipped_model(tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path)
    shipped = load_builtin_model()
    assert shipped is not None
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")  # the first request, straight after start
        assert ready.status_code == 200, ready.text
        status, body = upload(client)
        assert status == 201, body
        assert body["model_version"] == shipped.version
    stored = LocalStorage(settings.local_storage_dir).list("models/")
    assert stored == [f"models/{shipped.version}.json"]


def test_readyz_is_503_until_the_model_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A build without the shipped file: the model is trained on start, held here by a gate.
    monkeypatch.setattr(builtin, "BUILTIN_MODEL_FILE", tmp_path / "missing.json")
    gate = threading.Event()
    real_ensure = analysis_service.ensure_model

    def gated(storage: object) -> object:
        gate.wait(60)
        return real_ensure(storage, n_per_group=10)  # type: ignore[arg-type]

    monkeypatch.setattr(analysis_service, "ensure_model", gated)
    with TestClient(create_app(fresh_settings(tmp_path))) as client:
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json() == {"status": "not ready", "reason": "model"}
        login(client)
        detail = client.get("/readyz/detail")
        assert detail.status_code == 503
        assert detail.json()["checks"]["model"]["error"] == MODEL_NOT_READY
        status, body = upload(client)
        assert status == 503 and "still being prepared" in str(body)
        gate.set()
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "never became ready"
            time.sleep(0.1)
        assert upload(client)[0] == 201


def test_the_service_runs_as_many_analyses_as_the_budget_allows(tmp_path: Path) -> None:
    budget = BASELINE_MB + 3 * ANALYSIS_PEAK_MB + ANALYSIS_PEAK_MB // 2
    with TestClient(create_app(fresh_settings(tmp_path, memory_budget_mb=budget))) as client:
        analyses = client.app.state.services.analyses  # type: ignore[attr-defined]
        assert analyses.slots == 3
        assert analyses._slots._value == 3  # the semaphore every upload passes
