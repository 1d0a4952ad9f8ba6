"""Does the score separate typical from deliberately unusual drawings? Measured, with a bar.

The reference model is trained on seeds 0..39; these drawings use other seeds and full size.
"""

from __future__ import annotations

from app.analysis import AGE_GROUPS, ANOMALY_KINDS, analyse, generate_drawing
from app.analysis.model import ReferenceModel


def test_normal_drawings_mostly_typical_and_anomalies_mostly_flagged(
    model: ReferenceModel,
) -> None:
    normal = [
        analyse(generate_drawing(seed, group, long_side=800).image, group, model).score
        for group in AGE_GROUPS
        for seed in range(5000, 5012)
    ]
    unusual = [
        analyse(
            generate_drawing(seed, group, anomalous=kind, long_side=800).image, group, model
        ).score
        for group in AGE_GROUPS
        for kind in ANOMALY_KINDS
        for seed in range(7000, 7003)
    ]
    typical_rate = sum(s < 0.5 for s in normal) / len(normal)
    flagged_rate = sum(s >= 0.5 for s in unusual) / len(unusual)
    print(f"typical kept below 0.5: {typical_rate:.0%}; anomalies flagged: {flagged_rate:.0%}")
    assert typical_rate >= 0.85
    assert flagged_rate >= 0.85
