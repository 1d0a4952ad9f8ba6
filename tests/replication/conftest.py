"""Fixtures for the replication drills: a moto server of their own (the drills stop and restart
it, which must not disturb the session's shared one) and a replicated app factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.replication.harness import ReplicatedApp, make_bucket
from tests.support.moto_server import MotoServer, require_loopback


@pytest.fixture
def own_moto(tmp_path: Path) -> Iterator[MotoServer]:
    moto = MotoServer(log_path=tmp_path / "moto.log").start()
    require_loopback(moto.url)
    make_bucket(moto)
    try:
        yield moto
    finally:
        moto.stop()


@pytest.fixture
def replicated(tmp_path: Path, own_moto: MotoServer) -> Iterator[Callable[..., ReplicatedApp]]:
    apps: list[ReplicatedApp] = []

    def make(**kwargs: Any) -> ReplicatedApp:
        app = ReplicatedApp(tmp_path / "data", own_moto, **kwargs)
        app.prepare()
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            if app.proc is not None:
                app.kill9()
