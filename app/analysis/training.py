"""Training and storing reference models; the plumbing behind ``crayon train``.

Models live in the app's storage under ``models/<version>.json``. Versions start with the UTC
training time (``20250101T120000Z-1a2b3c4d``), so the newest model is the last key in sorted
order. ``ensure_model`` gives a fresh install a model without any network or data: the one
shipped in the package (builtin.py), or, if that file is missing, one trained on the
generator's drawings (fixed seed, so every install gets the same statistics).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

from app.analysis.builtin import load_builtin_model
from app.analysis.common import AGE_GROUPS, AgeGroup
from app.analysis.decode import UploadRejected, decode_upload
from app.analysis.features import DrawingFeatures, extract_features
from app.analysis.generator import generate_drawing
from app.analysis.model import ReferenceModel, assemble, fit_group
from app.storage.keys import model_key

log = logging.getLogger(__name__)

MODEL_PREFIX: Final = "models/"
#: Defaults of the built-in model that ``ensure_model`` trains on first start.
DEFAULT_TRAINING_SEED: Final = 0
DEFAULT_PER_GROUP: Final = 60
#: Training drawings are generated at this long side (features are scale-free: every image is
#: measured on a 256-pixel working copy, and line widths are relative to the page).
TRAINING_LONG_SIDE: Final = 512
IMAGE_SUFFIXES: Final = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


class StorageLike(Protocol):
    """The part of app.storage that the analysis package uses."""

    def put(self, key: str, data: bytes, content_type: str) -> object: ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> Iterable[str]: ...


def save_model(storage: StorageLike, model: ReferenceModel) -> str:
    key = model_key(model.version)
    storage.put(key, model.to_json(), "application/json")
    return key


def load_newest_model(storage: StorageLike) -> ReferenceModel | None:
    """The newest readable model in storage, or None when there is none.

    A newest model that cannot be parsed is skipped (and logged) in favour of the one before.
    """
    keys = sorted(
        (
            k
            for k in storage.list(MODEL_PREFIX)
            if k.startswith(MODEL_PREFIX) and k.endswith(".json")
        ),
        reverse=True,
    )
    for key in keys:
        try:
            return ReferenceModel.from_json(storage.get(key))
        except Exception as exc:  # a broken file must not stop the app from starting
            log.warning("skipping unreadable model %s: %s", key, exc)
    return None


def train_generated(
    n_per_group: int = DEFAULT_PER_GROUP,
    seed: int = DEFAULT_TRAINING_SEED,
    long_side: int = TRAINING_LONG_SIDE,
    now: datetime | None = None,
) -> ReferenceModel:
    """Train on ``n_per_group`` normal generated drawings per age group, seeds ``seed``.."""
    groups = {}
    for age_group in AGE_GROUPS:
        measured = [
            extract_features(generate_drawing(seed + i, age_group, long_side=long_side).image)
            for i in range(n_per_group)
        ]
        groups[age_group] = fit_group(age_group, measured)
    source = (
        f"synthetic: {n_per_group} generated drawings per age group, seeds {seed}.."
        f"{seed + n_per_group - 1}, {long_side} px"
    )
    return assemble(groups, source=source, now=now)


def installed_model(storage: StorageLike) -> ReferenceModel | None:
    """The newest stored model; else the shipped one, stored now; None when neither exists.

    Quick (reading JSON): what the app calls on start so it can serve at once.
    """
    model = load_newest_model(storage)
    if model is not None:
        return model
    model = load_builtin_model()
    if model is not None:
        save_model(storage, model)
        log.info("installed the shipped reference model %s", model.version)
    return model


def ensure_model(
    storage: StorageLike,
    *,
    n_per_group: int = DEFAULT_PER_GROUP,
    seed: int = DEFAULT_TRAINING_SEED,
) -> ReferenceModel:
    """The newest stored model, else the shipped one; when neither exists, train and store it."""
    model = installed_model(storage)
    if model is not None:
        return model
    started = time.perf_counter()
    model = train_generated(n_per_group, seed)
    save_model(storage, model)
    log.info("trained built-in model %s in %.1f s", model.version, time.perf_counter() - started)
    return model


def _folder_images(folder: Path, age_group: AgeGroup) -> list[Path]:
    sub = folder / age_group
    if not sub.is_dir():
        return []
    return sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def train_from_folder(
    folder: str | Path, *, warn: Callable[[str], None] | None = None
) -> ReferenceModel:
    """Train from ``<folder>/<age group>/*.png|jpg|jpeg|webp`` (every age group is required).

    Files are decoded exactly like uploads; refused files are skipped with a warning.
    """
    root = Path(folder)
    groups = {}
    total = 0
    for age_group in AGE_GROUPS:
        measured: list[DrawingFeatures] = []
        for path in _folder_images(root, age_group):
            try:
                decoded = decode_upload(path.read_bytes(), IMAGE_SUFFIXES[path.suffix.lower()])
            except UploadRejected as exc:
                message = f"skipping {path}: {exc.message}"
                log.warning(message)
                if warn is not None:
                    warn(message)
                continue
            measured.append(extract_features(decoded.image))
        groups[age_group] = fit_group(age_group, measured)
        total += len(measured)
    return assemble(groups, source=f"folder {root.name}: {total} drawings")


def generate_training_set(
    folder: str | Path, n_per_group: int, seed: int = 0, long_side: int = 1024
) -> list[Path]:
    """Write ``n_per_group`` normal generated drawings per age group in the training layout."""
    root = Path(folder)
    written: list[Path] = []
    for age_group in AGE_GROUPS:
        (root / age_group).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_group):
            drawing = generate_drawing(seed + i, age_group, long_side=long_side)
            path = root / age_group / f"synthetic-{seed + i:06d}.png"
            path.write_bytes(drawing.to_png())
            written.append(path)
    return written


def train_command(
    storage: StorageLike,
    *,
    from_folder: str | Path | None = None,
    generate: int | None = None,
    seed: int = DEFAULT_TRAINING_SEED,
    out: Callable[[str], None] = print,
) -> ReferenceModel:
    """``crayon train --from FOLDER`` or ``crayon train --generate N [--seed S]``.

    Trains, stores the model under models/ and reports what it did through ``out``. Raises
    ValueError for wrong arguments or too few usable drawings.
    """
    if (from_folder is None) == (generate is None):
        raise ValueError("give exactly one of --from FOLDER or --generate N")
    started = time.perf_counter()
    if from_folder is not None:
        model = train_from_folder(from_folder, warn=out)
    else:
        assert generate is not None
        if generate < 1:
            raise ValueError("--generate needs a positive number of drawings per age group")
        model = train_generated(generate, seed)
    key = save_model(storage, model)
    out(
        f"trained model {model.version} from {model.source} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    for age_group, ref in model.groups.items():
        out(f"  ages {age_group}: {ref.n_samples} drawings, calibration {ref.calibration:.2f}")
    out(f"stored as {key}")
    return model
