"""Crayon's drawing analysis engine: numpy and Pillow, explainable, no ML framework.

Public API (everything the web layer needs is importable from ``app.analysis``)::

    decode_upload(data: bytes, content_type: str | None) -> DecodedImage
        Safe decoding of an upload; raises UploadRejected(message, status) with status
        400, 413 or 415. DecodedImage.image (RGB), .png (clean PNG for storage, image/png),
        .format, .original_width/.original_height, .width/.height, .decode_ms.
    MAX_UPLOAD_BYTES, MAX_PIXELS        limits (10 MB, 25 megapixels) for early refusals.
    parse_age_group(value: object) -> AgeGroup     raises UploadRejected(400) if unknown.
    AGE_GROUPS = ("3-5", "6-8", "9-12");  DEFAULT_THRESHOLD = 0.5

    analyse(drawing: DecodedImage | PIL.Image.Image, age_group: AgeGroup,
            model: ReferenceModel, threshold: float = 0.5) -> AnalysisResult
        AnalysisResult: score (0..1), verdict ("typical" | "anomalous"), threshold, meaning,
        top_features / features (FeatureContribution: key, name, value, typical, z, text),
        region_deviation (8 x 8), heatmap_png (bytes, image/png, for saliency_maps/),
        heatmap_width/height, processing_ms, model_version, age_group, width, height;
        .to_dict() is JSON-ready (everything but the heat map bytes).

    load_newest_model(storage) -> ReferenceModel | None     newest models/<version>.json
    installed_model(storage) -> ReferenceModel | None   the newest, else the shipped one (stored)
    ensure_model(storage) -> ReferenceModel      the newest, the shipped one, or train + store
    train_command(storage, *, from_folder=None, generate=None, seed=0, out=print)
        -> ReferenceModel                        ``crayon train --from DIR | --generate N``
    generate_drawing(seed, age_group, *, anomalous=False, long_side=1024) -> GeneratedDrawing

``storage`` is anything with ``put(key, data, content_type)``, ``get(key) -> bytes`` and
``list(prefix) -> Iterable[str]`` (see ``training.StorageLike``).

Module map: decode (safe decoding), features (what is measured), model (reference model and
its training), score (z values, score, words), heatmap (regional deviation image), engine
(``analyse``), generator (synthetic drawings), training (storage and CLI glue), pngwrite
(fast metadata-free PNG encoder), pngscan/pngstripes (bounded PNG decoding), builtin/shipmodel
(the model shipped as package data), budget (memory budget, concurrent analyses, malloc_trim).
See docs/analysis.md for the method.
"""

from app.analysis.common import AGE_GROUPS, AgeGroup, parse_age_group
from app.analysis.decode import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    DecodedImage,
    UploadRejected,
    decode_upload,
)
from app.analysis.engine import AnalysisResult, analyse
from app.analysis.generator import ANOMALY_KINDS, GeneratedDrawing, generate_drawing
from app.analysis.model import ReferenceModel, train
from app.analysis.score import DEFAULT_THRESHOLD, FeatureContribution, Verdict
from app.analysis.training import (
    StorageLike,
    ensure_model,
    generate_training_set,
    installed_model,
    load_newest_model,
    train_command,
    train_from_folder,
)

__all__ = [
    "AGE_GROUPS",
    "ANOMALY_KINDS",
    "DEFAULT_THRESHOLD",
    "MAX_PIXELS",
    "MAX_UPLOAD_BYTES",
    "AgeGroup",
    "AnalysisResult",
    "DecodedImage",
    "FeatureContribution",
    "GeneratedDrawing",
    "ReferenceModel",
    "StorageLike",
    "UploadRejected",
    "Verdict",
    "analyse",
    "decode_upload",
    "ensure_model",
    "generate_drawing",
    "generate_training_set",
    "installed_model",
    "load_newest_model",
    "parse_age_group",
    "train",
    "train_command",
    "train_from_folder",
]
