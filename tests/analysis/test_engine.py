"""The analysis result: bounded, deterministic, explained, with a usable heat map."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app.analysis import AGE_GROUPS, UploadRejected, analyse, decode_upload, parse_age_group
from app.analysis.features import ALL_FEATURES
from app.analysis.generator import generate_drawing
from app.analysis.heatmap import HEATMAP_SIDE, colour_map, render_heatmap
from app.analysis.model import ReferenceModel
from tests.analysis.conftest import encode, png_chunks

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def images(draw: st.DrawFn) -> Image.Image:
    """Random noise, flat colours, stripes and generated drawings, at odd sizes and ratios."""
    width = draw(st.one_of(st.integers(1, 8), st.integers(9, 400), st.sampled_from([1500])))
    height = draw(st.one_of(st.integers(1, 8), st.integers(9, 400), st.sampled_from([1])))
    kind = draw(st.sampled_from(["noise", "flat", "stripes", "drawing", "sparse"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    if kind == "drawing":
        return generate_drawing(seed % 1000, "6-8", long_side=160).image.resize((width, height))
    if kind == "noise":
        arr = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    elif kind == "flat":
        arr = np.full((height, width, 3), rng.integers(0, 256, size=3), dtype=np.uint8)
    elif kind == "stripes":
        arr = np.full((height, width, 3), 255, dtype=np.uint8)
        arr[:, :: max(1, int(rng.integers(1, 9)))] = 0
    else:
        arr = np.full((height, width, 3), 250, dtype=np.uint8)
        arr[rng.random((height, width)) < 0.01] = 0
    return Image.fromarray(arr, "RGB")


@FAST
@given(image=images(), group=st.sampled_from(AGE_GROUPS), threshold=st.floats(0.0, 1.0))
def test_score_is_in_unit_interval_and_verdict_follows_threshold(
    image: Image.Image, group: str, threshold: float, model: ReferenceModel
) -> None:
    result = analyse(image, parse_age_group(group), model, threshold)
    assert 0.0 <= result.score <= 1.0
    assert result.verdict == ("anomalous" if result.score >= threshold else "typical")
    assert len(result.top_features) == 3
    assert all(np.isfinite(f.z) and f.text for f in result.features)
    assert len(result.features) == len(ALL_FEATURES)
    assert len(result.region_deviation) == 8 and all(len(r) == 8 for r in result.region_deviation)


@FAST
@given(image=images(), group=st.sampled_from(AGE_GROUPS))
def test_same_bytes_give_the_same_result(
    image: Image.Image, group: str, model: ReferenceModel
) -> None:
    data = encode(image, "PNG")
    age = parse_age_group(group)
    first = analyse(decode_upload(data, "image/png"), age, model)
    second = analyse(decode_upload(data, "image/png"), age, model)
    a, b = first.to_dict(), second.to_dict()
    a.pop("processing_ms")
    b.pop("processing_ms")
    assert a == b
    assert first.heatmap_png == second.heatmap_png


def test_result_contents(model: ReferenceModel) -> None:
    decoded = decode_upload(generate_drawing(5, "9-12").to_png(), "image/png")
    result = analyse(decoded, "9-12", model, 0.4)
    assert result.model_version == model.version
    assert result.threshold == 0.4 and result.age_group == "9-12"
    assert (result.width, result.height) == (decoded.width, decoded.height)
    assert result.processing_ms >= decoded.decode_ms > 0
    assert "not a medical" in result.meaning
    assert png_chunks(result.heatmap_png) == [b"IHDR", b"IDAT", b"IEND"]
    heat = Image.open(io.BytesIO(result.heatmap_png))
    assert heat.size == (result.heatmap_width, result.heatmap_height)
    assert max(heat.size) == HEATMAP_SIDE
    payload = result.to_dict()
    assert "heatmap_png" not in payload
    assert {"name", "value", "typical", "z", "text"} <= set(payload["top_features"][0])


def test_heatmap_marks_the_region_that_departs(model: ReferenceModel) -> None:
    """A blot in the top-left corner must be the hottest part of the heat map."""
    img = Image.new("RGB", (800, 600), (252, 252, 250))
    img.paste((20, 20, 160), (0, 0, 200, 150))
    result = analyse(img, "6-8", model)
    assert result.verdict == "anomalous"
    cells = np.asarray(result.region_deviation)
    assert cells[:2, :2].max() == cells.max()
    heat = np.asarray(Image.open(io.BytesIO(result.heatmap_png)), dtype=np.float32)
    calm = render_heatmap(img, [[0.0] * 8 for _ in range(8)])
    base = np.asarray(Image.open(io.BytesIO(calm)), dtype=np.float32)
    change = np.abs(heat - base).sum(axis=2)
    h, w = change.shape
    assert change[: h // 8, : w // 8].mean() > 2 * change.mean()


def test_colour_map_runs_from_clear_to_red() -> None:
    rgba = colour_map(np.array([0.0, 1.0], dtype=np.float32))
    assert rgba[0, 3] == 0 and rgba[1, 3] > 150 and rgba[1, 0] > rgba[1, 2]


def test_bad_arguments(model: ReferenceModel) -> None:
    img = Image.new("RGB", (20, 20), "white")
    with pytest.raises(ValueError):
        analyse(img, "6-8", model, 1.5)
    with pytest.raises(ValueError):
        analyse(img, "13-15", model)  # type: ignore[arg-type]
    with pytest.raises(UploadRejected) as info:
        parse_age_group("adults")
    assert info.value.status == 400
    assert parse_age_group(" 9-12 ") == "9-12"
