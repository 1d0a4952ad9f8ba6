"""Small server-side SVG charts: no script at all, so the strict CSP stays strict.

Every label is escaped; the SVG is returned as Markup to embed inline in a template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

INK = "#1d2433"
MUTED = "#5b6475"
LINE = "#e6e1d6"


def _nice_max(value: float, ticks: int = 4) -> float:
    """The smallest top of axis at or above value with whole, round tick steps."""
    if value <= ticks:
        return float(ticks)
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw and (factor != 2.5 or magnitude >= 10):
            return float(factor * magnitude * ticks)
    return float(10 * magnitude * ticks)  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    if value == int(value) or value >= 10:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def bar_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    colour: str = "#d9480f",
    overlay: Sequence[float] | None = None,
    overlay_colour: str = "#c92a2a",
    overlay_label: str = "",
    label_every: int = 1,
    chart_id: str = "",
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Vertical bars with a y-axis; `overlay` draws a second series (e.g. errors) in front."""
    left, right, top, bottom = 44, 8, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, v in points), default=0.0))
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.72)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{LINE}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{_fmt(value)}</text>'
        )
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / top_value)
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{colour}" rx="1.5"><title>{escape(label)}: {_fmt(value)}</title></rect>'
        )
        if overlay is not None and i < len(overlay) and overlay[i] > 0:
            oh = plot_h * (overlay[i] / top_value)
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - oh:.1f}" width="{bar_w:.1f}" '
                f'height="{oh:.1f}" fill="{overlay_colour}"><title>{escape(label)}: '
                f"{_fmt(overlay[i])} {escape(overlay_label)}</title></rect>"
            )
        if i % label_every == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="10" fill="{MUTED}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{INK}"/></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped above


def hbar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    colour: str = "#1971c2",
    chart_id: str = "",
    width: int = 420,
    empty: str = "No data yet",
) -> Markup:
    """Horizontal bars, one labelled row each (countries, request classes)."""
    row_h, left, right = 24, 90, 60
    height = max(1, len(rows)) * row_h + 8
    top_value = max((v for _, v in rows), default=0.0) or 1.0
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not rows:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" font-size="13" '
            f'fill="{MUTED}">{escape(empty)}</text>'
        )
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        w = (width - left - right) * (value / top_value)
        parts.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" font-size="12" '
            f'fill="{INK}">{escape(label)}</text>'
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" '
            f'height="{row_h - 8}" '
            f'fill="{colour}" rx="2"><title>{escape(label)}: {_fmt(value)}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + 16}" font-size="12" fill="{MUTED}">'
            f"{_fmt(value)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped above


def gauge(percent: float | None, *, title: str, chart_id: str = "") -> Markup:
    """A half-circle gauge for a percentage (uptime)."""
    value = 0.0 if percent is None else max(0.0, min(100.0, percent))
    colour = "#2b8a3e" if value >= 99 else "#f08c00" if value >= 95 else "#c92a2a"
    angle = math.pi * (1 - value / 100)
    x = 100 + 80 * math.cos(angle)
    y = 100 - 80 * math.sin(angle)
    label = "n/a" if percent is None else f"{value:.2f} %"
    arc = (
        f'<path d="M 20 100 A 80 80 0 0 1 {x:.2f} {y:.2f}" stroke="{colour}" '
        'stroke-width="16" fill="none"/>'
        if value > 0
        else ""
    )
    return Markup(  # noqa: S704 - only numbers and escaped text are interpolated
        f'<svg class="chart gauge" id="{escape(chart_id)}" role="img" viewBox="0 0 200 120" '
        f'width="100%" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<path d="M 20 100 A 80 80 0 0 1 180 100" stroke="{LINE}" stroke-width="16" '
        f'fill="none"/>{arc}<text x="100" y="96" text-anchor="middle" font-size="22" '
        f'font-weight="700" fill="{INK}">{escape(label)}</text></svg>'
    )
