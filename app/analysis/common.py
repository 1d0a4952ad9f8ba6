"""Small shared vocabulary of the analysis engine: age groups and the working copy."""

from __future__ import annotations

from typing import Final, Literal, TypeGuard, get_args

import numpy as np
from numpy.typing import NDArray
from PIL import Image

AgeGroup = Literal["3-5", "6-8", "9-12"]
AGE_GROUPS: Final[tuple[AgeGroup, ...]] = get_args(AgeGroup)

#: Long side, in pixels, of the working copy every feature is computed on.
WORKING_SIDE: Final = 256

FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]


def is_age_group(value: object) -> TypeGuard[AgeGroup]:
    return isinstance(value, str) and value in AGE_GROUPS


def fit_within(width: int, height: int, side: int) -> tuple[int, int]:
    """(w, h) scaled so the long side is at most ``side`` (never upscaled, never 0)."""
    long_side = max(width, height)
    if long_side <= side:
        return max(1, width), max(1, height)
    scale = side / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def scale_to(width: int, height: int, side: int) -> tuple[int, int]:
    """(w, h) scaled so the long side is exactly ``side`` (the short side at least 1)."""
    scale = side / max(width, height, 1)
    return max(1, round(width * scale)), max(1, round(height * scale))


def working_copy(image: Image.Image, side: int = WORKING_SIDE) -> NDArray[np.uint8]:
    """RGB uint8 array of ``image`` scaled so its long side is exactly ``side``.

    Larger images are reduced with a box filter (fast, and it averages thin lines instead of
    dropping them); smaller ones are enlarged bilinearly, so every feature is measured on the
    same scale whatever the upload's resolution.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    size = scale_to(rgb.width, rgb.height, side)
    if size != rgb.size:
        if size[0] <= rgb.width and size[1] <= rgb.height:
            rgb = rgb.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
        else:
            rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def parse_age_group(value: object) -> AgeGroup:
    """The age group named by a form field; UploadRejected (400) for anything else."""
    from app.analysis.decode import UploadRejected

    text = value.strip() if isinstance(value, str) else value
    if is_age_group(text):
        return text
    raise UploadRejected("Choose an age group: 3-5, 6-8 or 9-12", 400)
