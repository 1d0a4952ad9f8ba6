"""From features to an anomaly score, a verdict and explanations in words.

1. Each feature becomes a robust z value against the age group's reference:
   ``z = (t(value) - median) / scale`` (scale = 1.4826 x MAD, floored), where ``t`` is the
   logarithm for ratio-like features (ink coverage, edge density...) and the identity
   otherwise. The "layout" feature is the mean regional deviation over the 8 x 8 grid and only
   counts when high.
2. The *severity* is the root mean square of the three largest ``|z|`` (each capped at 8): one
   wildly different feature, or several clearly different ones, both make a drawing unusual.
3. The score squashes the severity into [0, 1): ``score = s^2 / (s^2 + c^2)``, where ``c`` is
   the group's calibration, the 95th percentile of the severity over the reference drawings
   (never below 2.5). So a score of 0.5 means "as unusual as the most unusual 5 % of the
   reference drawings", 0.8 means twice that severity, 0.9 three times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from app.analysis.common import AgeGroup
from app.analysis.features import LAYOUT, SPECS, FeatureSpec

if TYPE_CHECKING:
    from app.analysis.features import DrawingFeatures
    from app.analysis.model import GroupReference

Verdict = Literal["typical", "anomalous"]

DEFAULT_THRESHOLD: Final = 0.5
TOP_K: Final = 3
Z_CAP: Final = 8.0
CALIBRATION_QUANTILE: Final = 0.95
CALIBRATION_FLOOR: Final = 2.5


def contribution(key: str, z: float) -> float:
    """How much a feature's z counts towards the severity (capped; one-sided features >= 0)."""
    if SPECS[key].one_sided:
        return min(max(z, 0.0), Z_CAP)
    return min(abs(z), Z_CAP)


def severity(zs: Mapping[str, float]) -> float:
    """Root mean square of the TOP_K largest contributions."""
    top = sorted((contribution(k, z) for k, z in zs.items()), reverse=True)[:TOP_K]
    if not top:
        return 0.0
    return math.sqrt(sum(c * c for c in top) / len(top))


def squash(value: float, calibration: float) -> float:
    """value^2 / (value^2 + calibration^2): 0 at 0, 0.5 at the calibration, towards 1 above."""
    v2 = value * value
    return v2 / (v2 + calibration * calibration)


def verdict_for(score: float, threshold: float) -> Verdict:
    return "anomalous" if score >= threshold else "typical"


@dataclass(frozen=True)
class FeatureContribution:
    """One feature of one drawing, compared with its age group's reference."""

    key: str
    name: str
    description: str
    value: float
    typical: float
    z: float
    text: str

    def to_dict(self) -> dict[str, str | float]:
        return {
            "key": self.key,
            "name": self.name,
            "value": self.value,
            "typical": self.typical,
            "z": self.z,
            "text": self.text,
        }


def _adverb(z: float) -> str:
    a = abs(z)
    if a >= 4.0:
        return "Far"
    if a >= 2.5:
        return "Much"
    if a >= 1.5:
        return "Somewhat"
    return "Slightly"


def describe(spec: FeatureSpec, value: float, typical: float, z: float, group: AgeGroup) -> str:
    """E.g. 'Much less ink than typical for ages 6-8 (z=-3.1; 2.0 % against 14.1 %)'."""
    figures = f"(z={z:+.1f}; {spec.format(value)} against {spec.format(typical)})"
    if abs(z) < 1.0 or (spec.one_sided and z < 1.0):
        return f"{spec.name} close to typical for ages {group} {figures}"
    template = spec.high if z > 0 else spec.low
    return f"{template.format(adv=_adverb(z), group=group)} {figures}"


@dataclass(frozen=True)
class Scored:
    score: float
    severity: float
    contributions: list[FeatureContribution]  # every feature, largest contribution first
    cell_deviation: list[list[float]]  # GRID x GRID regional deviation (|z|, capped at 8)


def score_features(features: DrawingFeatures, ref: GroupReference) -> Scored:
    cells = ref.cell_deviation(features)
    values = dict(features.values)
    values[LAYOUT.key] = float(cells.mean())
    zs = {key: ref.z(key, value) for key, value in values.items()}
    sev = severity(zs)
    order = sorted(zs, key=lambda k: (-contribution(k, zs[k]), k))
    contributions = [
        FeatureContribution(
            key=key,
            name=SPECS[key].name,
            description=SPECS[key].description,
            value=round(values[key], 6),
            typical=round(ref.typical(key), 6),
            z=round(zs[key], 3),
            text=describe(SPECS[key], values[key], ref.typical(key), zs[key], ref.age_group),
        )
        for key in order
    ]
    return Scored(
        score=squash(sev, ref.calibration),
        severity=sev,
        contributions=contributions,
        cell_deviation=[[round(float(v), 3) for v in row] for row in cells],
    )


def meaning(score: float, threshold: float, group: AgeGroup) -> str:
    """What a score means, in words, for a person reading a result."""
    if score < 0.25:
        head = f"Very typical for ages {group}: every measured feature is close to the reference."
    elif score < threshold:
        head = (
            f"Within the usual range for ages {group}: some features differ a little from the"
            " reference drawings."
        )
    elif score < 0.8:
        head = (
            f"Unusual for ages {group}: some features are well outside what the reference"
            " drawings show."
        )
    else:
        head = (
            f"Highly unusual for ages {group}: several features are far outside what the"
            " reference drawings show."
        )
    return (
        f"{head} A score of 0.5 means as unusual as the most unusual 5 % of the reference"
        f" drawings; this drawing scored {score:.2f} against a threshold of {threshold:.2f}."
        " The score only compares simple picture features (ink, layout, strokes, colour) with"
        " synthetic reference drawings: it says nothing about a child's development or health"
        " and is not a medical or psychological assessment."
    )
