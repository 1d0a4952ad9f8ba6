"""Explainable picture features of a drawing.

Every feature is measured on a working copy whose long side is ``WORKING_SIDE`` (256) pixels, so
uploads of any resolution are measured alike. "Ink" is every pixel whose colour differs clearly
from the paper (the median colour of a thin band along the border), so a yellow crayon counts as
ink as much as a black pencil. Edges come from a Sobel filter on that colour difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.analysis.common import BoolArray, FloatArray, working_copy

#: Colour distance (RGB in 0..1, Euclidean) from the paper above which a pixel is ink.
INK_THRESHOLD: Final = 0.2
#: Sobel magnitude (same unit as a colour step) above which a pixel is an edge.
EDGE_THRESHOLD: Final = 0.2
#: The page is divided into GRID x GRID regions for the regional reference and the heat map.
GRID: Final = 8
#: Ink is max-pooled into blocks of this many pixels before counting connected parts.
PARTS_BLOCK: Final = 4
#: Connected parts smaller than this many blocks are not counted as parts.
PARTS_MIN_BLOCKS: Final = 2


@dataclass(frozen=True)
class FeatureSpec:
    """A feature's key, its human name and description, and how to put a deviation in words.

    ``low`` and ``high`` are sentences with ``{adv}`` (Far, Much, Somewhat, Slightly) and
    ``{group}`` (an age group) placeholders. ``min_scale`` is the smallest spread the reference
    may use for this feature, on the transformed scale (so a feature that barely varies in the
    reference cannot give huge z values). ``one_sided`` features are unusual only when high.
    """

    key: str
    name: str
    description: str
    low: str
    high: str
    min_scale: float
    percent: bool = False
    unit: str = ""
    one_sided: bool = False
    log_offset: float | None = None

    def transform(self, value: float) -> float:
        """The scale the reference statistics live on: log(value + offset) for ratio-like
        features (their natural variation is multiplicative), the value itself otherwise."""
        if self.log_offset is None:
            return value
        return math.log(max(value, 0.0) + self.log_offset)

    def inverse(self, transformed: float) -> float:
        if self.log_offset is None:
            return transformed
        return max(0.0, math.exp(transformed) - self.log_offset)

    @property
    def scale_name(self) -> str:
        """How the model file records the transform (checked when a model is loaded)."""
        return "linear" if self.log_offset is None else f"log+{self.log_offset:g}"

    def format(self, value: float) -> str:
        if self.percent:
            return f"{value * 100:.1f} %"
        if self.unit:
            return f"{value:.1f} {self.unit}"
        return f"{value:.2f}"


FEATURES: Final[tuple[FeatureSpec, ...]] = (
    FeatureSpec(
        "ink_coverage",
        "Ink coverage",
        "Share of the page covered by marks of any colour.",
        "{adv} less ink than typical for ages {group}",
        "{adv} more ink than typical for ages {group}",
        0.15,
        log_offset=0.002,
        percent=True,
    ),
    FeatureSpec(
        "space_used",
        "Space used",
        "Area of the box that holds the drawing (ignoring the outermost 1 % of ink on each side),"
        " as a share of the page.",
        "{adv} less of the page used than typical for ages {group}",
        "{adv} more of the page used than typical for ages {group}",
        0.1,
        log_offset=0.01,
        percent=True,
    ),
    FeatureSpec(
        "spread",
        "Spread",
        "How far the ink lies from its own centre (radius of gyration, in page widths).",
        "{adv} more tightly bunched than typical for ages {group}",
        "{adv} more spread out than typical for ages {group}",
        0.08,
        log_offset=0.01,
    ),
    FeatureSpec(
        "fill_density",
        "Fill density",
        "Share of the drawing's bounding box that is ink: outlines are low, coloured-in areas"
        " and blots are high.",
        "{adv} more open (outline-like) than typical for ages {group}",
        "{adv} more filled in than typical for ages {group}",
        0.12,
        log_offset=0.01,
        percent=True,
    ),
    FeatureSpec(
        "balance_left_right",
        "Left-right balance",
        "Ink in the left half minus ink in the right half, over all ink (-1 all right,"
        " +1 all left).",
        "{adv} more weight on the right side than typical for ages {group}",
        "{adv} more weight on the left side than typical for ages {group}",
        0.1,
    ),
    FeatureSpec(
        "balance_top_bottom",
        "Top-bottom balance",
        "Ink in the top half minus ink in the bottom half, over all ink (-1 all bottom,"
        " +1 all top).",
        "{adv} more weight at the bottom than typical for ages {group}",
        "{adv} more weight at the top than typical for ages {group}",
        0.1,
    ),
    FeatureSpec(
        "symmetry",
        "Mirror symmetry",
        "How well the drawing matches its own left-right mirror image (1 is perfectly symmetric).",
        "{adv} less symmetric than typical for ages {group}",
        "{adv} more symmetric than typical for ages {group}",
        0.04,
    ),
    FeatureSpec(
        "edge_density",
        "Edge density",
        "Share of the page where colour changes sharply (Sobel edges): a measure of detail.",
        "{adv} less detail (fewer edges) than typical for ages {group}",
        "{adv} more edges than typical for ages {group}",
        0.15,
        log_offset=0.002,
        percent=True,
    ),
    FeatureSpec(
        "stroke_density",
        "Strokes per line",
        "Average number of separate strokes a straight line across the page crosses.",
        "{adv} fewer strokes than typical for ages {group}",
        "{adv} more strokes than typical for ages {group}",
        0.15,
        log_offset=0.1,
    ),
    FeatureSpec(
        "line_thickness",
        "Line thickness",
        "Estimated width of the strokes, in pixels of the 256-pixel working copy.",
        "{adv} thinner lines than typical for ages {group}",
        "{adv} thicker lines than typical for ages {group}",
        0.12,
        log_offset=0.5,
        unit="px",
    ),
    FeatureSpec(
        "direction_variety",
        "Direction variety",
        "Entropy of the edge directions (0: all one direction, 1: every direction equally).",
        "{adv} fewer stroke directions than typical for ages {group}",
        "{adv} more varied stroke directions than typical for ages {group}",
        0.03,
    ),
    FeatureSpec(
        "parts",
        "Separate parts",
        "Number of separate connected shapes (small specks ignored).",
        "{adv} fewer separate parts than typical for ages {group}",
        "{adv} more separate parts than typical for ages {group}",
        0.2,
        log_offset=1.0,
    ),
    FeatureSpec(
        "largest_part",
        "Largest part share",
        "Share of all ink that belongs to the largest connected shape.",
        "{adv} more evenly split into parts than typical for ages {group}",
        "{adv} more dominated by a single shape than typical for ages {group}",
        0.05,
        percent=True,
    ),
    FeatureSpec(
        "colours",
        "Colours used",
        "Number of distinct colours (12 hue bins plus grey/black) that each cover at least"
        " 3 % of the ink.",
        "{adv} fewer colours than typical for ages {group}",
        "{adv} more colours than typical for ages {group}",
        0.15,
        log_offset=1.0,
    ),
    FeatureSpec(
        "colourfulness",
        "Colourfulness",
        "Mean saturation of the ink (0: grey or black pencil, 1: pure colours).",
        "{adv} less colourful than typical for ages {group}",
        "{adv} more colourful than typical for ages {group}",
        0.05,
    ),
    FeatureSpec(
        "speckle",
        "Speckle",
        "Share of ink pixels that stand alone (no more than one inked neighbour): dots and noise.",
        "{adv} fewer isolated specks than typical for ages {group}",
        "{adv} more isolated specks than typical for ages {group}",
        0.3,
        log_offset=0.005,
        percent=True,
    ),
    FeatureSpec(
        "detail_concentration",
        "Detail concentration",
        "How unevenly detail (edges) is spread over a 3 x 3 grid of the page (coefficient of"
        " variation).",
        "{adv} more evenly detailed than typical for ages {group}",
        "{adv} more concentrated detail than typical for ages {group}",
        0.12,
        log_offset=0.05,
    ),
)

#: Computed against the model's regional reference (see score.py), not from the picture alone.
LAYOUT: Final = FeatureSpec(
    "layout",
    "Layout",
    "Mean regional deviation: how far the amount of ink and detail in each of the 8 x 8 regions"
    " of the page differs from the reference drawings (the heat map shows it region by region).",
    "{adv} closer to the typical layout than usual for ages {group}",
    "{adv} more unusual placement of ink and detail than typical for ages {group}",
    0.1,
    one_sided=True,
    log_offset=0.1,
)

ALL_FEATURES: Final[tuple[FeatureSpec, ...]] = (*FEATURES, LAYOUT)
FEATURE_KEYS: Final[tuple[str, ...]] = tuple(spec.key for spec in FEATURES)
SPECS: Final[dict[str, FeatureSpec]] = {spec.key: spec for spec in ALL_FEATURES}


@dataclass(frozen=True)
class DrawingFeatures:
    """The measured features (keys of ``FEATURES``) and the regional grids of a drawing."""

    values: dict[str, float]
    grid_ink: FloatArray  # GRID x GRID share of ink per region
    grid_edge: FloatArray  # GRID x GRID share of edge pixels per region
    working: NDArray[np.uint8]  # the RGB working copy the features were measured on


def _background(rgb: FloatArray) -> FloatArray:
    h, w = rgb.shape[:2]
    band = max(1, round(0.03 * min(h, w)))
    if h <= 2 * band or w <= 2 * band:
        border = rgb.reshape(-1, 3)
    else:
        border = np.concatenate(
            [
                rgb[:band].reshape(-1, 3),
                rgb[-band:].reshape(-1, 3),
                rgb[band:-band, :band].reshape(-1, 3),
                rgb[band:-band, -band:].reshape(-1, 3),
            ]
        )
    # Paper is the lightest colour that covers a good share of the border: a sky band along the
    # top or grass along the bottom must not be mistaken for it.
    levels = np.minimum((border * 8).astype(np.int64), 7)
    bins = levels[:, 0] * 64 + levels[:, 1] * 8 + levels[:, 2]
    counts = np.bincount(bins, minlength=512)
    candidates = np.flatnonzero(counts >= 0.15 * len(bins))
    if candidates.size == 0:
        candidates = np.array([int(np.argmax(counts))])
    lum = (candidates // 64) * 0.299 + ((candidates // 8) % 8) * 0.587 + (candidates % 8) * 0.114
    chosen = int(candidates[int(np.argmax(lum))])
    paper: FloatArray = np.median(border[bins == chosen], axis=0).astype(np.float32)
    return paper


def _sobel(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Sobel gradients, scaled so a sharp step of height d gives magnitude d."""
    p = np.pad(a, 1, mode="edge")
    left = p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2]
    right = p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]
    top = p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:]
    bottom = p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]
    gx: FloatArray = ((right - left) / 8.0).astype(np.float32)
    gy: FloatArray = ((bottom - top) / 8.0).astype(np.float32)
    return gx, gy


def _box(a: NDArray[np.float32], width: int, height: int) -> FloatArray:
    """Mean of ``a`` over a width x height grid of equal regions (works for any shape)."""
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), Image.Resampling.BOX), dtype=np.float32)


def _neighbours(mask: BoolArray) -> NDArray[np.int16]:
    p = np.pad(mask.astype(np.int16), 1)
    h, w = mask.shape
    total = np.zeros((h, w), dtype=np.int16)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy == 1 and dx == 1:
                continue
            total += p[dy : dy + h, dx : dx + w]
    return total


def component_sizes(mask: BoolArray) -> list[int]:
    """Sizes of the 8-connected components of ``mask`` (run-length union-find, no scipy)."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    diff = np.diff(padded, axis=1)
    start_rows, start_cols = np.nonzero(diff == 1)
    _, end_cols = np.nonzero(diff == -1)  # row-major order pairs each start with its end
    parent: list[int] = list(range(len(start_rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows = start_rows.tolist()
    starts = start_cols.tolist()
    ends = end_cols.tolist()  # exclusive
    prev_lo = prev_hi = 0  # run index range of the previous row
    i = 0
    n = len(rows)
    while i < n:
        row = rows[i]
        j = i
        while j < n and rows[j] == row:
            j += 1
        if i > 0 and rows[i - 1] == row - 1:
            k = prev_lo
            for cur in range(i, j):
                # previous-row runs that end before this run starts (8-connectivity) are done
                while k < prev_hi and ends[k] < starts[cur]:
                    k += 1
                m = k
                while m < prev_hi and starts[m] <= ends[cur]:
                    a, b = find(cur), find(m)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
                    m += 1
        prev_lo, prev_hi = i, j
        i = j
    if n == 0:
        return []
    roots = np.fromiter((find(r) for r in range(n)), dtype=np.int64, count=n)
    lengths = np.asarray(ends, dtype=np.int64) - np.asarray(starts, dtype=np.int64)
    sizes = np.bincount(roots, weights=lengths)
    return [int(s) for s in sizes[sizes > 0]]


def _max_pool(mask: BoolArray, block: int) -> BoolArray:
    h, w = mask.shape
    hh, ww = -(-h // block), -(-w // block)
    padded = np.zeros((hh * block, ww * block), dtype=bool)
    padded[:h, :w] = mask
    pooled: BoolArray = np.asarray(padded.reshape(hh, block, ww, block).any(axis=(1, 3)))
    return pooled


def _hue_saturation(pixels: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    mx = pixels.max(axis=1)
    mn = pixels.min(axis=1)
    chroma = mx - mn
    sat = np.where(mx > 1e-6, chroma / np.maximum(mx, 1e-6), 0.0).astype(np.float32)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(
        mx == r,
        ((g - b) / safe) % 6.0,
        np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    return (hue / 6.0).astype(np.float32), sat, mx


def extract_features(image: Image.Image) -> DrawingFeatures:
    """Measure every feature of ``FEATURES`` on ``image`` (any mode, any size)."""
    work = working_copy(image)
    rgb = work.astype(np.float32) / 255.0
    h, w = rgb.shape[:2]
    bg = _background(rgb)
    dist = np.sqrt(((rgb - bg) ** 2).sum(axis=2)).astype(np.float32)
    ink = dist > INK_THRESHOLD
    gx, gy = _sobel(dist)
    mag = np.hypot(gx, gy)
    edges = mag > EDGE_THRESHOLD

    n_ink = int(np.count_nonzero(ink))
    n_edge = int(np.count_nonzero(edges))
    area = float(h * w)
    values: dict[str, float] = {}
    values["ink_coverage"] = n_ink / area
    values["edge_density"] = n_edge / area

    ys, xs = np.nonzero(ink)
    if n_ink >= 2:
        xf = xs.astype(np.float32) / w
        yf = ys.astype(np.float32) / h
        x_lo, x_hi = np.percentile(xf, [1.0, 99.0])
        y_lo, y_hi = np.percentile(yf, [1.0, 99.0])
        values["space_used"] = float((x_hi - x_lo + 1.0 / w) * (y_hi - y_lo + 1.0 / h))
        aspect = h / w
        values["spread"] = float(math.sqrt(float(xf.var()) + float(yf.var()) * aspect * aspect))
        box_area = float((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))
        values["fill_density"] = n_ink / box_area
        left = int(np.count_nonzero(xs < w / 2.0))
        top = int(np.count_nonzero(ys < h / 2.0))
        values["balance_left_right"] = (2 * left - n_ink) / n_ink
        values["balance_top_bottom"] = (2 * top - n_ink) / n_ink
        crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
        m = _box(crop, 32, 32)
        total = float(m.sum())
        values["symmetry"] = (
            1.0 - float(np.abs(m - m[:, ::-1]).sum()) / (2.0 * total) if total > 0 else 1.0
        )
    else:
        values.update(
            space_used=0.0,
            spread=0.0,
            fill_density=0.0,
            balance_left_right=0.0,
            balance_top_bottom=0.0,
            symmetry=1.0,
        )

    row_runs = int(np.count_nonzero(ink[:, 1:] & ~ink[:, :-1])) + int(np.count_nonzero(ink[:, 0]))
    col_runs = int(np.count_nonzero(ink[1:, :] & ~ink[:-1, :])) + int(np.count_nonzero(ink[0, :]))
    values["stroke_density"] = (row_runs + col_runs) / float(h + w)
    values["line_thickness"] = min(64.0, 4.0 * n_ink / n_edge) if n_edge else 0.0

    if n_edge:
        theta = np.arctan2(gy[edges], gx[edges]) % math.pi
        bins = np.minimum((theta / (math.pi / 8)).astype(np.int64), 7)
        hist = np.bincount(bins, weights=mag[edges], minlength=8)
        p = hist / max(float(hist.sum()), 1e-12)
        p = p[p > 0]
        values["direction_variety"] = float(-(p * np.log(p)).sum() / math.log(8))
    else:
        values["direction_variety"] = 0.0

    sizes = component_sizes(_max_pool(ink, PARTS_BLOCK))
    counted = [s for s in sizes if s >= PARTS_MIN_BLOCKS]
    values["parts"] = float(len(counted))
    values["largest_part"] = max(sizes) / float(sum(sizes)) if sizes else 0.0

    if n_ink:
        hue, sat, value = _hue_saturation(rgb[ink])
        coloured = (sat > 0.3) & (value > 0.25)
        hue_bins = np.bincount(np.minimum((hue[coloured] * 12).astype(np.int64), 11), minlength=12)
        share = hue_bins / float(n_ink)
        grey_share = 1.0 - float(np.count_nonzero(coloured)) / n_ink
        values["colours"] = float(np.count_nonzero(share >= 0.03) + (grey_share >= 0.03))
        values["colourfulness"] = float(sat.mean())
        isolated = ink & (_neighbours(ink) <= 1)
        values["speckle"] = int(np.count_nonzero(isolated)) / n_ink
    else:
        values.update(colours=0.0, colourfulness=0.0, speckle=0.0)

    edge_f = edges.astype(np.float32)
    detail = _box(edge_f, 3, 3)
    mean_detail = float(detail.mean())
    values["detail_concentration"] = (
        float(detail.std()) / mean_detail if mean_detail > 1e-9 else 0.0
    )

    return DrawingFeatures(
        values={k: float(values[k]) for k in FEATURE_KEYS},
        grid_ink=_box(ink.astype(np.float32), GRID, GRID),
        grid_edge=_box(edge_f, GRID, GRID),
        working=work,
    )
