"""The generator: deterministic, labelled as synthetic, every kind drawable."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.analysis import AGE_GROUPS, ANOMALY_KINDS, generate_drawing


@pytest.mark.parametrize("group", AGE_GROUPS)
def test_same_seed_same_pixels(group: str) -> None:
    a = generate_drawing(42, group, long_side=400)  # type: ignore[arg-type]
    b = generate_drawing(42, group, long_side=400)  # type: ignore[arg-type]
    assert a.to_png() == b.to_png()
    assert a.description == b.description and a.subject == b.subject
    c = generate_drawing(43, group, long_side=400)  # type: ignore[arg-type]
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_anomalies_are_labelled(kind: str) -> None:
    d = generate_drawing(7, "6-8", anomalous=kind, long_side=300)  # type: ignore[arg-type]
    assert d.anomalous and d.kind == kind
    assert "synthetic" in d.description and "not by a child" in d.description
    again = generate_drawing(7, "6-8", anomalous=kind, long_side=300)  # type: ignore[arg-type]
    assert d.to_png() == again.to_png()


def test_png_says_it_is_synthetic() -> None:
    d = generate_drawing(1, "3-5", long_side=256)
    info = Image.open(io.BytesIO(d.to_png())).info
    assert info["Source"] == "synthetic"
    assert info["Software"] == "Crayon synthetic drawing generator"
    assert info["crayon:seed"] == "1" and info["crayon:kind"] == "normal"
    assert "not by a child" in info["Description"]


def test_normal_drawings_show_their_subjects() -> None:
    d = generate_drawing(3, "9-12")
    assert not d.anomalous and d.kind == "normal"
    assert any(word in d.subject for word in ("house", "tree", "person", "sun"))
    assert max(d.image.size) == 1024 and d.image.mode == "RGB"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate_drawing(-1, "6-8")
    with pytest.raises(ValueError):
        generate_drawing(1, "2-3")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        generate_drawing(1, "6-8", anomalous="lava")  # type: ignore[arg-type]
