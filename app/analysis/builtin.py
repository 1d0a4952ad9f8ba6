"""The reference model shipped inside the package, so a fresh install can analyse at once.

``builtin_model.json`` (next to this file, package data in the wheel, the single-file build and
the image) is the model ``ensure_model`` would otherwise train on first start: the generator's
drawings, fixed seeds, and a fixed training date so that the file, its version and its digest
are the same on every build. The build scripts regenerate it before packaging::

    python -m app.analysis.shipmodel write     # (re)generate the file from the current code
    python -m app.analysis.shipmodel check     # exit 1 unless the file loads and is current

Its version sorts before any model trained later (``crayon train``), so a stored model always
wins over the shipped one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from app.analysis.model import ReferenceModel

log = logging.getLogger(__name__)

BUILTIN_MODEL_FILE: Path = Path(__file__).with_name("builtin_model.json")
#: The shipped model's training date: fixed, so that rebuilding gives the same file.
BUILTIN_TRAINED_AT: Final = datetime(2025, 1, 1, tzinfo=UTC)


def build_builtin_model() -> ReferenceModel:
    """The shipped model, trained now from the generator (deterministic: fixed seeds and date)."""
    from app.analysis.training import train_generated

    return train_generated(now=BUILTIN_TRAINED_AT)


def load_builtin_model(path: Path | None = None) -> ReferenceModel | None:
    """The shipped model, or None when the file is missing or unreadable (logged)."""
    target = path or BUILTIN_MODEL_FILE
    try:
        return ReferenceModel.from_json(target.read_bytes())
    except FileNotFoundError:
        log.warning("no shipped reference model at %s", target)
    except (OSError, ValueError) as exc:
        log.warning("shipped reference model %s is unreadable: %s", target, exc)
    return None
