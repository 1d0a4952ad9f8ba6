"""The heat map: regional deviation from the reference, laid over the drawing.

Each of the 8 x 8 regions gets an intensity ``d^2 / (d^2 + 3^2)`` from its deviation ``d`` (the
larger |z| of its share of ink and of edges), so a region three spreads away from the reference
is half-way up the scale. The grid is smoothed bilinearly to the picture's size and drawn with
our own colour map: clear where the drawing is typical, through yellow and orange to red where it
departs most. The drawing is faded slightly underneath so the colours read well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.analysis.common import fit_within
from app.analysis.pngwrite import encode_png

#: Long side of the heat map PNG (never larger than the analysed image).
HEATMAP_SIDE: Final = 512
#: Regional deviation (|z|) that gives half intensity.
HALF_INTENSITY_Z: Final = 3.0

# Colour map stops: intensity -> (R, G, B, alpha)
_STOPS: Final = np.array([0.0, 0.25, 0.5, 0.75, 1.0], dtype=np.float32)
_COLOURS: Final = np.array(
    [
        [255, 255, 160, 0],
        [255, 230, 60, 70],
        [255, 160, 0, 115],
        [240, 70, 0, 150],
        [200, 0, 30, 180],
    ],
    dtype=np.float32,
)


def _lut() -> NDArray[np.float32]:
    levels = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    return np.stack([np.interp(levels, _STOPS, _COLOURS[:, c]) for c in range(4)], axis=1).astype(
        np.float32
    )


#: 256-entry colour map, intensity level -> RGBA (0..255 floats), interpolated between stops.
COLOUR_LUT: Final = _lut()
COLOUR_LUT_U8: Final = np.rint(COLOUR_LUT).astype(np.uint8)
#: How much the drawing is faded towards white under the overlay.
FADE: Final = 0.25
POSTERISE_MASK: Final = 0xFC


def colour_map(intensity: NDArray[np.float32]) -> NDArray[np.float32]:
    """RGBA (0..255 floats) for intensities in [0, 1]."""
    index = np.rint(np.clip(intensity, 0.0, 1.0) * 255.0).astype(np.uint8)
    out: NDArray[np.float32] = COLOUR_LUT[index]
    return out


def region_intensity(cell_deviation: Sequence[Sequence[float]]) -> NDArray[np.float32]:
    d = np.asarray(cell_deviation, dtype=np.float32)
    return d * d / (d * d + HALF_INTENSITY_Z * HALF_INTENSITY_Z)


def render_heatmap(image: Image.Image, cell_deviation: Sequence[Sequence[float]]) -> bytes:
    """PNG bytes of the drawing with the regional deviation laid over it."""
    size = fit_within(image.width, image.height, HEATMAP_SIDE)
    base = image if image.mode == "RGB" else image.convert("RGB")
    if size != base.size:
        base = base.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
    # Fade the drawing a little so the colours read well (Pillow's C loops throughout).
    paper = Image.new("RGB", size, (255, 255, 255))
    base = Image.blend(base, paper, FADE).convert("RGBA")

    grid = Image.fromarray(region_intensity(cell_deviation), mode="F")
    smooth = np.asarray(grid.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    levels = np.rint(np.clip(smooth, 0.0, 1.0) * 255.0).astype(np.uint8)
    overlay = Image.fromarray(COLOUR_LUT_U8[levels], mode="RGBA")
    out = np.asarray(Image.alpha_composite(base, overlay).convert("RGB"), dtype=np.uint8)
    # 6 bits per channel: invisible under the overlay, and a third of the bytes and time.
    return encode_png(out & np.uint8(POSTERISE_MASK))
