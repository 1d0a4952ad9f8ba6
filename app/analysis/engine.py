"""One call from a decoded drawing to a complete, explained result."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from app.analysis.common import AgeGroup, is_age_group
from app.analysis.decode import DecodedImage
from app.analysis.features import extract_features
from app.analysis.heatmap import render_heatmap
from app.analysis.model import ReferenceModel
from app.analysis.score import (
    DEFAULT_THRESHOLD,
    TOP_K,
    FeatureContribution,
    Verdict,
    meaning,
    score_features,
    verdict_for,
)


@dataclass(frozen=True)
class AnalysisResult:
    """Everything the app shows and stores about one analysed drawing.

    ``heatmap_png`` is a PNG (``image/png``) for the caller to store under saliency_maps/;
    ``to_dict()`` gives the rest as JSON-ready data. ``processing_ms`` includes the decoding
    time when ``analyse`` was given a :class:`DecodedImage`.
    """

    score: float
    verdict: Verdict
    threshold: float
    meaning: str
    top_features: list[FeatureContribution]
    features: list[FeatureContribution]
    region_deviation: list[list[float]]
    heatmap_png: bytes
    heatmap_width: int
    heatmap_height: int
    processing_ms: float
    model_version: str
    age_group: AgeGroup
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "verdict": self.verdict,
            "threshold": self.threshold,
            "meaning": self.meaning,
            "top_features": [f.to_dict() for f in self.top_features],
            "features": [f.to_dict() for f in self.features],
            "region_deviation": self.region_deviation,
            "heatmap_width": self.heatmap_width,
            "heatmap_height": self.heatmap_height,
            "processing_ms": self.processing_ms,
            "model_version": self.model_version,
            "age_group": self.age_group,
            "width": self.width,
            "height": self.height,
        }


def analyse(
    drawing: DecodedImage | Image.Image,
    age_group: AgeGroup,
    model: ReferenceModel,
    threshold: float = DEFAULT_THRESHOLD,
) -> AnalysisResult:
    """Score ``drawing`` against ``model``'s reference for ``age_group``.

    Deterministic: the same image, age group, model and threshold give the same result (all
    but ``processing_ms``). Raises ValueError for an unknown age group or a threshold outside
    [0, 1].
    """
    started = time.perf_counter()
    if not is_age_group(age_group):
        raise ValueError(f"unknown age group {age_group!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], not {threshold!r}")
    image = drawing.image if isinstance(drawing, DecodedImage) else drawing
    decode_ms = drawing.decode_ms if isinstance(drawing, DecodedImage) else 0.0
    if image.mode != "RGB":
        image = image.convert("RGB")

    features = extract_features(image)
    scored = score_features(features, model.group(age_group))
    score = round(min(max(scored.score, 0.0), 1.0), 4)
    heatmap = render_heatmap(image, scored.cell_deviation)
    hm_w, hm_h = _png_size(heatmap)
    elapsed = (time.perf_counter() - started) * 1000.0 + decode_ms
    return AnalysisResult(
        score=score,
        verdict=verdict_for(score, threshold),
        threshold=threshold,
        meaning=meaning(score, threshold, age_group),
        top_features=scored.contributions[:TOP_K],
        features=scored.contributions,
        region_deviation=scored.cell_deviation,
        heatmap_png=heatmap,
        heatmap_width=hm_w,
        heatmap_height=hm_h,
        processing_ms=round(elapsed, 2),
        model_version=model.version,
        age_group=age_group,
        width=image.width,
        height=image.height,
    )


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
