"""The reference model: what typical drawings look like, per age group.

For every age group the model keeps, per feature, a robust centre (median) and spread (1.4826 x
the median absolute deviation, floored by the feature's ``min_scale``), both on the feature's
scale (the logarithm for ratio-like features, see ``FeatureSpec.transform``), and, per region of an
8 x 8 grid over the page, the same two figures for the share of ink and of edges. It also keeps a
calibration constant per group (see score.py). It is plain data, stored as JSON under
``models/<version>.json``; the version starts with the training time, so the newest sorts last.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
from PIL import Image

from app.analysis.common import AGE_GROUPS, AgeGroup, FloatArray, is_age_group
from app.analysis.features import (
    FEATURE_KEYS,
    GRID,
    LAYOUT,
    SPECS,
    DrawingFeatures,
    extract_features,
)

SCHEMA: Final = 1
#: Smallest spread used for a region's share of ink or edges.
CELL_MIN_SCALE: Final = 0.02
#: Fewest drawings per age group that ``train`` accepts.
MIN_SAMPLES: Final = 8
MAD_TO_SIGMA: Final = 1.4826


@dataclass(frozen=True)
class FeatureStats:
    median: float
    scale: float


@dataclass(frozen=True)
class GroupReference:
    """The reference of one age group."""

    age_group: AgeGroup
    n_samples: int
    features: dict[str, FeatureStats]  # keys of FEATURES plus "layout"
    grid_ink_median: FloatArray
    grid_ink_scale: FloatArray
    grid_edge_median: FloatArray
    grid_edge_scale: FloatArray
    calibration: float  # severity that maps to a score of 0.5

    def z(self, key: str, value: float) -> float:
        """Robust z of a raw feature value (computed on the feature's transformed scale)."""
        stats = self.features[key]
        return (SPECS[key].transform(value) - stats.median) / stats.scale

    def typical(self, key: str) -> float:
        """The reference median as a raw feature value."""
        return SPECS[key].inverse(self.features[key].median)

    def cell_deviation(self, features: DrawingFeatures) -> FloatArray:
        """Per region: the larger of |z| for the share of ink and the share of edges."""
        z_ink = np.abs(features.grid_ink - self.grid_ink_median) / self.grid_ink_scale
        z_edge = np.abs(features.grid_edge - self.grid_edge_median) / self.grid_edge_scale
        out: FloatArray = np.minimum(np.maximum(z_ink, z_edge), 8.0).astype(np.float32)
        return out


@dataclass(frozen=True)
class ReferenceModel:
    version: str
    trained_at: str  # ISO 8601, UTC
    source: str  # where the training drawings came from, in words
    groups: dict[AgeGroup, GroupReference]

    @property
    def n_samples(self) -> int:
        return sum(g.n_samples for g in self.groups.values())

    def group(self, age_group: AgeGroup) -> GroupReference:
        return self.groups[age_group]

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": self.version,
            "trained_at": self.trained_at,
            "source": self.source,
            "n_samples": self.n_samples,
            "grid": GRID,
            "groups": {
                name: {
                    "n_samples": g.n_samples,
                    "calibration": g.calibration,
                    "features": {
                        k: {"median": s.median, "scale": s.scale, "on": SPECS[k].scale_name}
                        for k, s in g.features.items()
                    },
                    "grid_ink_median": g.grid_ink_median.tolist(),
                    "grid_ink_scale": g.grid_ink_scale.tolist(),
                    "grid_edge_median": g.grid_edge_median.tolist(),
                    "grid_edge_scale": g.grid_edge_scale.tolist(),
                }
                for name, g in self.groups.items()
            },
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> ReferenceModel:
        """Parse and validate a stored model; ValueError when it is not a usable model."""
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"model is not JSON: {exc}") from None
        try:
            return _from_dict(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"model is malformed: {exc!r}") from None


def _grid(value: object, positive: bool) -> FloatArray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.shape != (GRID, GRID) or not np.all(np.isfinite(arr)):
        raise ValueError("grid has the wrong shape or non-finite values")
    if positive and not np.all(arr > 0):
        raise ValueError("grid scale must be positive")
    return arr


def _finite(value: object, positive: bool = False) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    out = float(value)
    if not np.isfinite(out) or (positive and out <= 0):
        raise ValueError(f"bad number {value!r}")
    return out


def _from_dict(raw: Any) -> ReferenceModel:
    if raw["schema"] != SCHEMA:
        raise ValueError(f"unsupported schema {raw['schema']!r}")
    if raw.get("grid", GRID) != GRID:
        raise ValueError("grid size differs from this code's")
    groups: dict[AgeGroup, GroupReference] = {}
    for name, g in raw["groups"].items():
        if not is_age_group(name):
            raise ValueError(f"unknown age group {name!r}")
        feats = {}
        for key in (*FEATURE_KEYS, LAYOUT.key):
            entry = g["features"][key]
            if entry.get("on") != SPECS[key].scale_name:
                raise ValueError(f"feature {key} was trained on another scale")
            feats[key] = FeatureStats(
                _finite(entry["median"]), _finite(entry["scale"], positive=True)
            )
        n_samples = g["n_samples"]
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError("n_samples must be a positive integer")
        groups[name] = GroupReference(
            age_group=name,
            n_samples=n_samples,
            features=feats,
            grid_ink_median=_grid(g["grid_ink_median"], positive=False),
            grid_ink_scale=_grid(g["grid_ink_scale"], positive=True),
            grid_edge_median=_grid(g["grid_edge_median"], positive=False),
            grid_edge_scale=_grid(g["grid_edge_scale"], positive=True),
            calibration=_finite(g["calibration"], positive=True),
        )
    missing = [a for a in AGE_GROUPS if a not in groups]
    if missing:
        raise ValueError(f"model lacks age groups {missing}")
    version, trained_at, source = raw["version"], raw["trained_at"], raw.get("source", "")
    if not all(isinstance(v, str) for v in (version, trained_at, source)):
        raise TypeError("version, trained_at and source must be strings")
    if not version or "/" in version or ".." in version:
        raise ValueError("bad model version")
    return ReferenceModel(version=version, trained_at=trained_at, source=source, groups=groups)


# -- training ---------------------------------------------------------------------------------
def _robust(values: Iterable[float], min_scale: float) -> FeatureStats:
    arr = np.asarray(list(values), dtype=np.float64)
    median = float(np.median(arr))
    mad = float(np.median(np.abs(arr - median)))
    return FeatureStats(median, max(MAD_TO_SIGMA * mad, min_scale))


def _robust_grid(stack: FloatArray) -> tuple[FloatArray, FloatArray]:
    median = np.median(stack, axis=0)
    mad = np.median(np.abs(stack - median), axis=0)
    return median.astype(np.float32), np.maximum(MAD_TO_SIGMA * mad, CELL_MIN_SCALE).astype(
        np.float32
    )


def fit_group(age_group: AgeGroup, measured: list[DrawingFeatures]) -> GroupReference:
    """The reference of one age group from the features of its training drawings."""
    from app.analysis.score import CALIBRATION_FLOOR, CALIBRATION_QUANTILE, severity

    if len(measured) < MIN_SAMPLES:
        raise ValueError(
            f"age group {age_group} has {len(measured)} training drawings; at least "
            f"{MIN_SAMPLES} are needed"
        )
    stats = {
        key: _robust((SPECS[key].transform(m.values[key]) for m in measured), SPECS[key].min_scale)
        for key in FEATURE_KEYS
    }
    ink_median, ink_scale = _robust_grid(np.stack([m.grid_ink for m in measured]))
    edge_median, edge_scale = _robust_grid(np.stack([m.grid_edge for m in measured]))
    partial = GroupReference(
        age_group=age_group,
        n_samples=len(measured),
        features={**stats, LAYOUT.key: FeatureStats(0.0, 1.0)},
        grid_ink_median=ink_median,
        grid_ink_scale=ink_scale,
        grid_edge_median=edge_median,
        grid_edge_scale=edge_scale,
        calibration=1.0,
    )
    layouts = [float(partial.cell_deviation(m).mean()) for m in measured]
    stats[LAYOUT.key] = _robust((LAYOUT.transform(v) for v in layouts), LAYOUT.min_scale)
    with_layout = replace(partial, features=stats)
    severities = [
        severity(
            {key: with_layout.z(key, m.values[key]) for key in FEATURE_KEYS}
            | {LAYOUT.key: with_layout.z(LAYOUT.key, layout)}
        )
        for m, layout in zip(measured, layouts, strict=True)
    ]
    calibration = max(CALIBRATION_FLOOR, float(np.quantile(severities, CALIBRATION_QUANTILE)))
    return replace(with_layout, calibration=calibration)


def train(
    images_by_age_group: Mapping[AgeGroup, Iterable[Image.Image]],
    *,
    source: str = "",
    now: datetime | None = None,
) -> ReferenceModel:
    """Train a reference model from drawings grouped by age group (every group is required)."""
    groups: dict[AgeGroup, GroupReference] = {}
    for age_group in AGE_GROUPS:
        if age_group not in images_by_age_group:
            raise ValueError(f"no training drawings for age group {age_group}")
        measured = [extract_features(img) for img in images_by_age_group[age_group]]
        groups[age_group] = fit_group(age_group, measured)
    return assemble(groups, source=source, now=now)


def assemble(
    groups: dict[AgeGroup, GroupReference], *, source: str, now: datetime | None = None
) -> ReferenceModel:
    """A model with a fresh version: UTC training time plus a digest of its content."""
    trained = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    draft = ReferenceModel(
        version="draft", trained_at=trained.isoformat(), source=source, groups=groups
    )
    body = json.dumps(draft.to_dict()["groups"], sort_keys=True).encode()
    digest = hashlib.sha256(body).hexdigest()[:8]
    version = f"{trained.strftime('%Y%m%dT%H%M%SZ')}-{digest}"
    return ReferenceModel(
        version=version, trained_at=trained.isoformat(), source=source, groups=groups
    )
