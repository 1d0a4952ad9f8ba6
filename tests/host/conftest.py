"""Fixtures for the host drills: the base image, the real build, a moto server of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.host import hostkit
from tests.support.moto_server import MotoServer


@pytest.fixture(scope="session")
def host_tools() -> dict[str, str]:
    reason = hostkit.tools_available()
    if reason:
        pytest.skip(reason)
    return hostkit.ensure_image()


@pytest.fixture(scope="session")
def built_pyz() -> Path:
    return hostkit.ensure_pyz()


@pytest.fixture
def drill_moto(tmp_path: Path) -> Iterator[MotoServer]:
    """A moto server of this drill's own (the session one is reset by other tests)."""
    moto = hostkit.start_moto(tmp_path / "moto.log")
    try:
        yield moto
    finally:
        moto.stop()
