"""Fixtures for the analysis tests: one reference model per session, real local storage."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from app.analysis.model import ReferenceModel
from app.analysis.training import train_generated
from app.storage.local import LocalStorage


@pytest.fixture(scope="session")
def model() -> ReferenceModel:
    # The built-in model's recipe (same seeds), a little smaller to keep the suite quick.
    return train_generated(n_per_group=40)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def png_chunks(data: bytes) -> list[bytes]:
    """Chunk types of a PNG file, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds = []
    i = 8
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kinds.append(data[i + 4 : i + 8])
        i += 12 + length
    return kinds
