"""Deterministic synthetic children's drawings: the reference set and the demo samples.

:func:`generate_drawing` draws a scene of houses, trees, people and the sun in crayon colours,
shaped by age group: for ages 3-5 few big, thick, wobbly shapes, tadpole people, a favourite
colour used for everything and things floating in space; for 6-8 a ground line, more subjects
and simple details (windows, door, sun rays); for 9-12 thinner steadier lines, more detail
(window panes, chimney, branches, fruit, faces, clothes), coloured-in areas and sky. With
``anomalous=True`` (or a kind) it draws a deliberately unusual page instead: a dense scribble,
an almost empty page, a scene squeezed against one edge, a one-colour blot, or scattered specks.

The same ``(seed, age_group, anomalous, long_side)`` always gives the same pixels. Every drawing
says it is synthetic: in its description and in PNG text chunks written by ``to_png``.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from app.analysis.common import AGE_GROUPS, AgeGroup, is_age_group

AnomalyKind = Literal["scribble", "empty", "one_sided", "blot", "speckle"]
ANOMALY_KINDS: Final[tuple[AnomalyKind, ...]] = get_args(AnomalyKind)
SUBJECTS: Final = ("house", "tree", "person", "sun")
GENERATOR_NAME: Final = "Crayon synthetic drawing generator"

Colour = tuple[int, int, int]
Point = tuple[float, float]

PALETTE: Final[dict[str, Colour]] = {
    "red": (214, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 200, 30),
    "green": (60, 160, 60),
    "dark green": (30, 105, 50),
    "blue": (40, 90, 200),
    "light blue": (100, 170, 230),
    "brown": (125, 75, 35),
    "purple": (130, 60, 170),
    "pink": (235, 110, 165),
    "black": (35, 35, 35),
    "grey": (115, 115, 115),
}

_ANOMALY_TEXT: Final[dict[AnomalyKind, str]] = {
    "scribble": "a dense scribble over the whole page",
    "empty": "an almost empty page with one tiny mark",
    "one_sided": "a whole scene squeezed against one edge of the page",
    "blot": "one large blot of a single colour",
    "speckle": "hundreds of scattered specks",
}


@dataclass(frozen=True)
class Style:
    width: float  # line width, fraction of the long side
    wobble: float  # hand tremor, fraction of the long side
    subjects: tuple[int, int]  # how many of house/tree/person (inclusive range)
    detail: int  # 0, 1 or 2
    fill: float  # probability that a shape is coloured in
    ground: float  # probability of a ground line / grass
    sky: float  # probability of a sky band
    jitter: float  # proportion noise
    sun: float  # probability of a sun


STYLES: Final[dict[AgeGroup, Style]] = {
    "3-5": Style(0.011, 0.008, (1, 2), 0, 0.25, 0.15, 0.1, 0.35, 0.5),
    "6-8": Style(0.007, 0.0045, (2, 3), 1, 0.45, 0.7, 0.3, 0.18, 0.7),
    "9-12": Style(0.0045, 0.002, (2, 4), 2, 0.65, 0.9, 0.5, 0.08, 0.6),
}


@dataclass(frozen=True)
class GeneratedDrawing:
    """A synthetic drawing and what it shows; ``to_png`` labels the file as synthetic."""

    image: Image.Image
    age_group: AgeGroup
    subject: str
    anomalous: bool
    seed: int
    description: str
    kind: str  # "normal" or an AnomalyKind

    def to_png(self) -> bytes:
        info = PngInfo()
        info.add_text("Software", GENERATOR_NAME)
        info.add_text("Description", self.description)
        info.add_text("Source", "synthetic")
        info.add_text("crayon:seed", str(self.seed))
        info.add_text("crayon:age_group", self.age_group)
        info.add_text("crayon:kind", self.kind)
        buf = io.BytesIO()
        self.image.save(buf, format="PNG", pnginfo=info, compress_level=6)
        return buf.getvalue()


class _Painter:
    def __init__(
        self,
        size: tuple[int, int],
        style: Style,
        rng: np.random.Generator,
        paper: Colour | None = None,
    ) -> None:
        self.w, self.h = size
        self.long = max(size)
        self.style = style
        self.rng = rng
        tint = rng.integers(0, 8, size=3)
        self.paper: Colour = paper or (255 - int(tint[0]), 255 - int(tint[1]), 255 - int(tint[2]))
        self.img = Image.new("RGB", size, self.paper)
        self.draw = ImageDraw.Draw(self.img)
        self.lw = max(1, round(style.width * self.long * rng.uniform(0.8, 1.25)))
        self.wob = style.wobble * self.long
        self.favourite = self.choice(list(PALETTE))

    # -- randomness ---------------------------------------------------------------------------
    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def choice(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(0, len(options)))]

    def colour(self, *names: str) -> Colour:
        """A colour among the fitting ones; young children often use their favourite instead."""
        if self.style.detail == 0 and self.chance(0.45):
            name = self.favourite
        else:
            name = self.choice(names)
        base = PALETTE[name]
        shift = self.rng.integers(-12, 13, size=3)
        r, g, b = (int(min(255, max(0, c + int(s)))) for c, s in zip(base, shift, strict=True))
        return (r, g, b)

    # -- strokes ------------------------------------------------------------------------------
    def _wobbly(self, points: Sequence[Point], closed: bool = False) -> list[Point]:
        pts = [*points, points[0]] if closed else list(points)
        step = max(4.0, self.long / 90)
        out: list[Point] = []
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
            for i in range(n):
                t = i / n
                out.append((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
        out.append(pts[-1])
        if self.wob > 0 and len(out) > 1:
            noise = self.rng.normal(0.0, 1.0, size=(len(out), 2))
            smooth = np.cumsum(noise, axis=0) * 0.35
            smooth -= np.linspace(0, 1, len(out))[:, None] * smooth[-1]  # ends stay near
            smooth = smooth * self.wob / max(1.0, float(np.abs(smooth).max()) / 1.5)
            out = [
                (x + float(dx), y + float(dy)) for (x, y), (dx, dy) in zip(out, smooth, strict=True)
            ]
        return out

    def line(
        self,
        points: Sequence[Point],
        colour: Colour,
        width: int | None = None,
        closed: bool = False,
    ) -> None:
        pts = self._wobbly(points, closed)
        self.draw.line(pts, fill=colour, width=width or self.lw, joint="curve")

    def ellipse_points(self, cx: float, cy: float, rx: float, ry: float) -> list[Point]:
        n = max(12, int(2 * math.pi * max(rx, ry) / max(4.0, self.long / 90)))
        start = self.u(0, 2 * math.pi)
        return [
            (
                cx + rx * math.cos(start + 2 * math.pi * i / n),
                cy + ry * math.sin(start + 2 * math.pi * i / n),
            )
            for i in range(n)
        ]

    def fill(self, polygon: Sequence[Point], colour: Colour) -> None:
        """Colour a shape in: zig-zag scribble for young hands, grainy crayon for older."""
        xs = [p[0] for p in polygon]
        ys = [p[1] for p in polygon]
        x0, y0 = max(0, int(min(xs))), max(0, int(min(ys)))
        x1, y1 = min(self.w, int(max(xs)) + 1), min(self.h, int(max(ys)) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        shape = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(shape).polygon([(x - x0, y - y0) for x, y in polygon], fill=255)
        if self.style.detail == 0:
            strokes = Image.new("L", shape.size, 0)
            d = ImageDraw.Draw(strokes)
            gap = max(3.0, self.lw * self.u(1.2, 2.2))
            pts: list[Point] = []
            y = 0.0
            while y < shape.height + gap:
                pts.append((self.u(-3, 3), y))
                pts.append((shape.width + self.u(-3, 3), y + gap / 2))
                y += gap
            d.line(pts, fill=255, width=max(1, self.lw // 2 + 1))
            mask = np.minimum(np.asarray(shape), np.asarray(strokes))
        else:
            density = 0.9 if self.style.detail == 2 else 0.75
            grain = self.rng.random((shape.height, shape.width)) < density
            mask = np.where(grain, np.asarray(shape), 0).astype(np.uint8)
        self.img.paste(colour, (x0, y0, x1, y1), Image.fromarray(mask, mode="L"))

    def shape(self, polygon: Sequence[Point], outline: Colour, fill: Colour | None) -> None:
        if fill is not None:
            self.fill(polygon, fill)
        self.line(polygon, outline, closed=True)

    def dot(self, x: float, y: float, r: float, colour: Colour) -> None:
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)


# -- subjects ---------------------------------------------------------------------------------
def _house(p: _Painter, x: float, base: float, size: float) -> None:
    j = p.style.jitter
    w = size * p.u(0.8, 1.1) * (1 + p.u(-j, j))
    h = size * p.u(0.6, 0.85) * (1 + p.u(-j, j))
    top = base - h
    wall = p.colour("red", "orange", "yellow", "blue", "pink", "brown", "purple")
    fill = p.colour("yellow", "orange", "pink", "light blue") if p.chance(p.style.fill) else None
    p.shape([(x, top), (x + w, top), (x + w, base), (x, base)], wall, fill)
    roof_h = h * p.u(0.45, 0.8) * (1 + p.u(-j, j))
    over = w * p.u(0.0, 0.12)
    roof = p.colour("red", "brown", "black", "orange")
    roof_pts = [
        (x - over, top),
        (x + w / 2 + p.u(-j, j) * w * 0.3, top - roof_h),
        (x + w + over, top),
    ]
    p.shape(roof_pts, roof, roof if p.chance(p.style.fill) else None)
    door_w = w * p.u(0.18, 0.26)
    door_x = x + w * p.u(0.15, 0.65)
    door_top = base - h * p.u(0.4, 0.6)
    door = p.colour("brown", "black", "blue", "red")
    p.shape(
        [(door_x, door_top), (door_x + door_w, door_top), (door_x + door_w, base), (door_x, base)],
        door,
        door if p.style.detail == 2 and p.chance(0.5) else None,
    )
    if p.style.detail >= 1:
        win = p.colour("blue", "light blue", "black")
        ws = w * p.u(0.16, 0.22)
        spots = [x + w * 0.12, x + w * 0.88 - ws]
        for wx in spots:
            if door_x - ws < wx < door_x + door_w:
                continue
            wy = top + h * p.u(0.15, 0.3)
            p.shape(
                [(wx, wy), (wx + ws, wy), (wx + ws, wy + ws), (wx, wy + ws)],
                win,
                PALETTE["light blue"] if p.style.detail == 2 and p.chance(0.5) else None,
            )
            if p.style.detail == 2:
                thin = max(1, p.lw // 2)
                p.line([(wx + ws / 2, wy), (wx + ws / 2, wy + ws)], win, thin)
                p.line([(wx, wy + ws / 2), (wx + ws, wy + ws / 2)], win, thin)
    if p.style.detail == 2:
        p.dot(door_x + door_w * 0.8, (door_top + base) / 2, max(1.5, p.lw * 0.8), door)
        if p.chance(0.7):
            cx = x + w * p.u(0.6, 0.8)
            cy = top - roof_h * 0.45
            cw = w * 0.1
            p.shape(
                [
                    (cx, cy),
                    (cx, cy - roof_h * 0.5),
                    (cx + cw, cy - roof_h * 0.5),
                    (cx + cw, cy + 0.2 * roof_h),
                ],
                roof,
                None,
            )
            if p.chance(0.6):
                smoke = p.colour("grey", "black")
                sx, sy = cx + cw / 2, cy - roof_h * 0.6
                p.line(
                    [(sx + math.sin(t / 2) * cw * 0.6, sy - t * cw * 0.35) for t in range(12)],
                    smoke,
                    max(1, p.lw // 2),
                )


def _tree(p: _Painter, x: float, base: float, size: float) -> None:
    j = p.style.jitter
    h = size * p.u(1.0, 1.4) * (1 + p.u(-j, j))
    tw = size * p.u(0.1, 0.18)
    trunk_top = base - h * p.u(0.35, 0.5)
    trunk = p.colour("brown", "black")
    p.shape(
        [(x - tw / 2, base), (x - tw / 2, trunk_top), (x + tw / 2, trunk_top), (x + tw / 2, base)],
        trunk,
        trunk if p.chance(p.style.fill) else None,
    )
    r = size * p.u(0.35, 0.5) * (1 + p.u(-j, j))
    cy = trunk_top - r * 0.7
    leaves = p.colour("green", "dark green")
    crown = p.ellipse_points(x, cy, r, r * p.u(0.8, 1.1))
    p.shape(crown, leaves, leaves if p.chance(p.style.fill) else None)
    if p.style.detail == 2:
        for side in (-1, 1):
            p.line([(x, trunk_top + r * 0.1), (x + side * r * 0.5, cy)], trunk, max(1, p.lw // 2))
        if p.chance(0.6):
            fruit = p.colour("red", "orange")
            for _ in range(int(p.rng.integers(3, 7))):
                a, d = p.u(0, 2 * math.pi), p.u(0.1, 0.75) * r
                p.dot(x + math.cos(a) * d, cy + math.sin(a) * d, r * 0.08, fruit)


def _person(p: _Painter, x: float, base: float, size: float) -> None:
    j = p.style.jitter
    h = size * p.u(0.9, 1.2) * (1 + p.u(-j, j))
    ink = p.colour("black", "blue", "red", "purple", "brown")
    skin = p.colour("black", "brown", "red", "orange")
    if p.style.detail == 0:  # a tadpole person: a big head with arms and legs
        r = h * p.u(0.22, 0.32)
        cy = base - h * 0.55
        p.shape(p.ellipse_points(x, cy, r, r), skin, None)
        for dx in (-0.35, 0.35):
            p.dot(x + dx * r, cy - 0.15 * r, max(1.5, p.lw * 0.7), ink)
        p.line([(x - r * 0.4, cy + r * 0.35), (x + r * 0.4, cy + r * 0.35)], ink)
        for side in (-1, 1):
            p.line([(x + side * r * 0.9, cy), (x + side * r * 2.0, cy - r * p.u(-0.6, 0.4))], ink)
            p.line([(x + side * r * 0.4, cy + r * 0.9), (x + side * r * 0.7, base)], ink)
        return
    r = h * p.u(0.1, 0.14)
    head_y = base - h + r
    p.shape(p.ellipse_points(x, head_y, r, r * 1.1), skin, None)
    neck = head_y + r * 1.1
    hip = base - h * 0.42
    shirt = p.colour("red", "blue", "green", "purple", "orange", "pink")
    bw = h * p.u(0.12, 0.2)
    if p.style.detail == 1:
        p.line([(x, neck), (x, hip)], ink)
    else:
        p.shape(
            [
                (x - bw / 2, neck + r * 0.2),
                (x + bw / 2, neck + r * 0.2),
                (x + bw / 2, hip),
                (x - bw / 2, hip),
            ],
            shirt,
            shirt if p.chance(p.style.fill) else None,
        )
    for side in (-1, 1):
        hand = (x + side * h * p.u(0.22, 0.32), neck + h * p.u(0.05, 0.22))
        p.line([(x + side * bw / 4, neck + r * 0.4), hand], ink)
        p.line([(x + side * bw / 4, hip), (x + side * h * p.u(0.08, 0.15), base)], ink)
        if p.style.detail == 2:
            p.dot(hand[0], hand[1], max(1.5, p.lw), skin)
            p.line([(x + side * h * 0.12, base), (x + side * h * 0.2, base)], ink)
    eye = max(1.0, p.lw * 0.6)
    p.dot(x - r * 0.35, head_y - r * 0.15, eye, ink)
    p.dot(x + r * 0.35, head_y - r * 0.15, eye, ink)
    p.line(
        [(x - r * 0.4, head_y + r * 0.35), (x, head_y + r * 0.5), (x + r * 0.4, head_y + r * 0.35)],
        ink,
        max(1, p.lw // 2 + 1),
    )
    if p.style.detail == 2 and p.chance(0.7):
        hair = p.colour("brown", "black", "orange", "yellow")
        p.line(
            [
                (x - r, head_y - r * 0.2),
                (x - r * 0.5, head_y - r * 1.2),
                (x + r * 0.5, head_y - r * 1.2),
                (x + r, head_y - r * 0.2),
            ],
            hair,
        )


def _sun(p: _Painter) -> None:
    corner_x = p.w * (p.u(0.08, 0.2) if p.chance(0.5) else p.u(0.8, 0.92))
    cy = p.h * p.u(0.08, 0.2)
    r = p.long * p.u(0.04, 0.08)
    sun = p.colour("yellow", "orange")
    p.shape(
        p.ellipse_points(corner_x, cy, r, r), sun, sun if p.chance(p.style.fill + 0.2) else None
    )
    if p.style.detail >= 1 or p.chance(0.5):
        n = int(p.rng.integers(5, 9)) if p.style.detail < 2 else int(p.rng.integers(8, 14))
        for i in range(n):
            a = 2 * math.pi * i / n + p.u(-0.1, 0.1)
            r0, r1 = r * 1.25, r * p.u(1.6, 2.0)
            p.line(
                [
                    (corner_x + math.cos(a) * r0, cy + math.sin(a) * r0),
                    (corner_x + math.cos(a) * r1, cy + math.sin(a) * r1),
                ],
                sun,
            )


def _cloud(p: _Painter, x: float, y: float, size: float) -> None:
    col = p.colour("light blue", "blue", "grey")
    for k in range(3):
        p.line(
            p.ellipse_points(
                x + k * size * 0.6, y + p.u(-0.1, 0.1) * size, size * 0.45, size * 0.3
            ),
            col,
            max(1, p.lw // 2 + 1),
            closed=True,
        )


_DRAW = {"house": _house, "tree": _tree, "person": _person}


def _scene(p: _Painter) -> list[str]:
    style = p.style
    n = int(p.rng.integers(style.subjects[0], style.subjects[1] + 1))
    chosen = [p.choice(("house", "tree", "person")) for _ in range(n)]
    ground = p.h * p.u(0.78, 0.9)
    if p.chance(style.ground):
        grass = p.colour("green", "dark green")
        pts = [(0.0, ground + p.u(-5, 5)), (p.w * 0.5, ground + p.u(-8, 8)), (float(p.w), ground)]
        if style.detail == 2 and p.chance(0.5):
            p.fill([*pts, (float(p.w), float(p.h)), (0.0, float(p.h))], grass)
        p.line(pts, grass)
    if p.chance(style.sky):
        sky = p.colour("light blue", "blue")
        band = p.h * p.u(0.04, 0.09)
        p.fill([(0, 0), (p.w, 0), (p.w, band), (0, band)], sky)
    if style.detail == 2 and p.chance(0.5):
        _cloud(p, p.w * p.u(0.3, 0.6), p.h * p.u(0.1, 0.2), p.long * p.u(0.05, 0.08))
    slot = p.w / n
    for i, subject in enumerate(chosen):
        size = min(slot * p.u(0.55, 0.8), p.h * p.u(0.35, 0.5))
        if style.detail == 0:  # young children draw big
            size = min(size * p.u(1.1, 1.5), p.h * 0.7)
        x = slot * (i + 0.5) + p.u(-0.15, 0.15) * slot
        if subject == "house":  # houses are drawn from their left wall
            x -= size * 0.48
        base = ground if style.detail > 0 else p.h * p.u(0.5, 0.9)
        _DRAW[subject](p, x, base, size)
    if p.chance(style.sun):
        _sun(p)
        chosen.append("sun")
    return chosen


def _subject_text(subjects: list[str]) -> str:
    words = [("the sun" if s == "sun" else f"a {s}") for s in subjects]
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    parts = [w if c == 1 else f"{c} {w[2:]}s" for w, c in counts.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# -- anomalies --------------------------------------------------------------------------------
def _random_walk(p: _Painter, n: int, step: float) -> list[Point]:
    x, y = p.u(0, p.w), p.u(0, p.h)
    angle = p.u(0, 2 * math.pi)
    pts = [(x, y)]
    for _ in range(n):
        angle += p.u(-1.2, 1.2)
        x = min(max(x + math.cos(angle) * step, 0.0), float(p.w))
        y = min(max(y + math.sin(angle) * step, 0.0), float(p.h))
        pts.append((x, y))
    return pts


def _anomaly(p: _Painter, kind: AnomalyKind, seed: int, age_group: AgeGroup) -> None:
    if kind == "scribble":
        colours = [p.colour("black", "blue", "red", "purple")] * 2 + [p.colour("red", "green")]
        for _ in range(int(p.rng.integers(18, 35))):
            pts = _random_walk(p, int(p.rng.integers(60, 160)), p.long / p.u(25, 45))
            p.draw.line(pts, fill=colours[int(p.rng.integers(0, 3))], width=p.lw, joint="curve")
    elif kind == "empty":
        x, y = p.u(0.1, 0.9) * p.w, p.u(0.1, 0.9) * p.h
        s = p.long * p.u(0.01, 0.03)
        p.line([(x, y), (x + s, y + p.u(-s, s))], p.colour("black", "blue", "red"))
    elif kind == "one_sided":
        strip_w = max(8, round(p.w * p.u(0.14, 0.22)))
        rng = np.random.default_rng([seed, 7, AGE_GROUPS.index(age_group)])
        sub = _Painter((strip_w, p.h), p.style, rng, paper=p.paper)
        _scene(sub)
        left = p.chance(0.5)
        p.img.paste(sub.img, (0 if left else p.w - strip_w, 0))
    elif kind == "blot":
        cx, cy = p.w * p.u(0.35, 0.65), p.h * p.u(0.35, 0.65)
        r = p.long * p.u(0.22, 0.36)
        n = 40
        radii = np.clip(1.0 + np.cumsum(p.rng.normal(0, 0.08, n)), 0.5, 1.4)
        poly = [
            (
                cx + r * float(radii[i]) * math.cos(2 * math.pi * i / n),
                cy + r * float(radii[i]) * math.sin(2 * math.pi * i / n) * 0.8,
            )
            for i in range(n)
        ]
        col = p.colour("black", "blue", "red", "brown", "purple")
        p.draw.polygon(poly, fill=col)
    else:  # speckle
        for _ in range(int(p.rng.integers(500, 1400))):
            p.dot(
                p.u(0, p.w),
                p.u(0, p.h),
                p.long * p.u(0.002, 0.004),
                PALETTE[p.choice(list(PALETTE))],
            )


# -- public -----------------------------------------------------------------------------------
def generate_drawing(
    seed: int,
    age_group: AgeGroup,
    *,
    anomalous: bool | AnomalyKind = False,
    long_side: int = 1024,
) -> GeneratedDrawing:
    """A synthetic drawing; ``anomalous=True`` picks an anomaly kind from the seed."""
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if not is_age_group(age_group):
        raise ValueError(f"unknown age group {age_group!r}")
    if long_side < 64:
        raise ValueError("long_side must be at least 64")
    group_index = AGE_GROUPS.index(age_group)
    kind_rng = np.random.default_rng([seed, 1, group_index])
    kind: AnomalyKind | None
    if anomalous is True:
        kind = ANOMALY_KINDS[int(kind_rng.integers(0, len(ANOMALY_KINDS)))]
    elif anomalous is False:
        kind = None
    else:
        if anomalous not in ANOMALY_KINDS:
            raise ValueError(f"unknown anomaly kind {anomalous!r}")
        kind = anomalous
    rng = np.random.default_rng([seed, 0, group_index, 0 if kind is None else 1])
    landscape = rng.random() < 0.7
    short = round(long_side * 0.707)
    size = (long_side, short) if landscape else (short, long_side)
    painter = _Painter(size, STYLES[age_group], rng)
    if kind is None:
        subjects = _scene(painter)
        subject = _subject_text(subjects)
        description = (
            f"Synthetic drawing made by Crayon's generator (seed {seed}), not by a child: "
            f"{subject}, in the style the generator uses for ages {age_group}."
        )
    else:
        _anomaly(painter, kind, seed, age_group)
        subject = _ANOMALY_TEXT[kind]
        description = (
            f"Deliberately unusual synthetic drawing made by Crayon's generator (seed {seed}),"
            f" not by a child: {subject}; shown for ages {age_group}."
        )
    arr = np.asarray(painter.img, dtype=np.int16)
    grain = rng.integers(-4, 5, size=(size[1], size[0], 1), dtype=np.int16)
    image = Image.fromarray(np.clip(arr + grain, 0, 255).astype(np.uint8), mode="RGB")
    return GeneratedDrawing(
        image=image,
        age_group=age_group,
        subject=subject,
        anomalous=kind is not None,
        seed=seed,
        description=description,
        kind=kind or "normal",
    )
