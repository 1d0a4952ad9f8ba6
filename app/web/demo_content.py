"""The demo's pre-analysed samples: `crayon demo ensure`.

Generates a fixed list of synthetic drawings with the project's own generator (deterministic:
fixed seeds), analyses them with the newest reference model (installing the shipped one first if
there is none), stores the drawings and heat maps under demo/ and one `analyses` row per sample
with source='demo'. Idempotent: a sample already analysed with the current model, whose files
exist, is left alone; after a new model is trained, the samples are re-analysed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from app.analysis.common import AgeGroup
from app.analysis.engine import analyse
from app.analysis.generator import AnomalyKind, generate_drawing
from app.analysis.training import ensure_model
from app.db import connect_sync
from app.settings import Settings
from app.storage.base import Storage
from app.storage.factory import build_storage
from app.storage.keys import demo_key

DEMO_LONG_SIDE: Final = 1024


@dataclass(frozen=True)
class DemoSample:
    id: str
    title: str
    seed: int
    age_group: AgeGroup
    anomaly: AnomalyKind | None = None


SAMPLES: Final[tuple[DemoSample, ...]] = (
    DemoSample("demo-scene-3-5", "A first scene", 11, "3-5"),
    DemoSample("demo-scene-6-8", "Houses and trees", 23, "6-8"),
    DemoSample("demo-scene-9-12", "A detailed village", 37, "9-12"),
    DemoSample("demo-scribble-6-8", "A page of scribble", 41, "6-8", "scribble"),
    DemoSample("demo-blot-6-8", "One big blot", 71, "6-8", "blot"),
    DemoSample("demo-speckle-9-12", "Hundreds of specks", 83, "9-12", "speckle"),
)


def _threshold(conn_value: str | None, default: float) -> float:
    try:
        return min(max(float(conn_value), 0.0), 1.0) if conn_value is not None else default
    except ValueError:
        return default


def ensure_demo(
    settings: Settings, storage: Storage | None = None, out: Callable[[str], None] = print
) -> int:
    """Make sure every demo sample is analysed and stored; returns how many were (re)made."""
    storage = storage or build_storage(settings)
    model = ensure_model(storage)
    conn = connect_sync(settings.database_path)
    try:
        row = conn.execute(
            "SELECT value FROM app_settings WHERE key = 'anomaly_threshold'"
        ).fetchone()
        threshold = _threshold(row[0] if row else None, settings.anomaly_threshold)
        made = 0
        for position, sample in enumerate(SAMPLES):
            drawing_key = demo_key(f"{sample.id}-drawing")
            heatmap_key = demo_key(f"{sample.id}-heatmap")
            existing = conn.execute(
                "SELECT model_version, threshold FROM analyses WHERE id = ?", (sample.id,)
            ).fetchone()
            if (
                existing is not None
                and existing[0] == model.version
                and existing[1] == threshold
                and storage.exists(drawing_key)
                and storage.exists(heatmap_key)
            ):
                continue
            drawing = generate_drawing(
                sample.seed,
                sample.age_group,
                anomalous=sample.anomaly or False,
                long_side=DEMO_LONG_SIDE,
            )
            result = analyse(drawing.image, sample.age_group, model, threshold)
            storage.put(drawing_key, drawing.to_png(), "image/png")
            storage.put(heatmap_key, result.heatmap_png, "image/png")
            data = result.to_dict()
            data.update(
                {
                    "description": drawing.description,
                    "title": sample.title,
                    "synthetic": True,
                    "generator_seed": sample.seed,
                    "kind": drawing.kind,
                    "position": position,
                }
            )
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO analyses (id, created_at, source, age_group, score, "
                    "verdict, threshold, model_version, processing_ms, width, height, "
                    "drawing_key, heatmap_key, result_json) "
                    "VALUES (?, ?, 'demo', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sample.id,
                        time.time(),
                        sample.age_group,
                        result.score,
                        result.verdict,
                        result.threshold,
                        result.model_version,
                        result.processing_ms,
                        result.width,
                        result.height,
                        drawing_key,
                        heatmap_key,
                        json.dumps(data, separators=(",", ":")),
                    ),
                )
            made += 1
            out(
                f"demo sample {sample.id}: score {result.score:.2f} ({result.verdict}), "
                f"{result.processing_ms:.0f} ms"
            )
        out(f"demo content ready: {len(SAMPLES)} samples, {made} (re)made, model {model.version}")
        return made
    finally:
        conn.close()
