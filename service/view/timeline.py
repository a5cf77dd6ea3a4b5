"""A patient's specimens on a time axis, as inline SVG (the table under it says the same).

Each specimen is a marker at its date with its status and HER2-low/ultralow class
written beside it, and its flags (heterogeneity, discordance) as words; the marker's
shape also differs by status (a filled square for positive, a circle for negative, a
diamond for equivocal, a cross for indeterminate), so colour is never the only signal.
Undated specimens are placed after the dated ones, under "undated".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from markupsafe import Markup, escape

_WIDTH = 960
_LEFT = 70
_RIGHT = 210
_ROW = 46


@dataclass(frozen=True)
class Point:
    """One specimen on the axis."""

    date: str | None
    label: str
    status: str
    detail: str
    flags: tuple[str, ...]
    anchor: str


def _day(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _marker(status: str, x: float, y: float) -> str:
    if status == "positive":
        return f'<rect x="{x - 7:.0f}" y="{y - 7:.0f}" width="14" height="14" fill="#000"/>'
    if status == "negative":
        return (
            f'<circle cx="{x:.0f}" cy="{y:.0f}" r="7" fill="#fff" stroke="#000" stroke-width="2"/>'
        )
    if status == "equivocal":
        return (
            f'<path d="M{x:.0f},{y - 8:.0f} L{x + 8:.0f},{y:.0f} L{x:.0f},{y + 8:.0f} '
            f'L{x - 8:.0f},{y:.0f} z" fill="#fff" stroke="#000" stroke-width="2"/>'
        )
    return (
        f'<path d="M{x - 6:.0f},{y - 6:.0f} L{x + 6:.0f},{y + 6:.0f} M{x + 6:.0f},{y - 6:.0f} '
        f'L{x - 6:.0f},{y + 6:.0f}" stroke="#000" stroke-width="2"/>'
    )


def draw_timeline(points: list[Point], uid: str) -> Markup:
    """The specimens of one patient on a time axis (oldest left)."""
    days = [d for d in (_day(p.date) for p in points) if d is not None]
    first, last = (min(days), max(days)) if days else (None, None)
    span = max(((last - first).days if first and last else 0), 1)
    usable = _WIDTH - _LEFT - _RIGHT
    height = 40 + _ROW * len(points)
    axis_y = height - 22
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" '
        f'viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="Arial, Helvetica, sans-serif">',
        f'<title id="{uid}-title">Specimens over time</title>',
        f'<desc id="{uid}-desc">'
        + str(
            escape(
                "; ".join(
                    f"{p.date or 'undated'}: {p.label}, {p.status}"
                    + (f", {p.detail}" if p.detail else "")
                    + "".join(f", {flag}" for flag in p.flags)
                    for p in points
                )
            )
        )
        + "</desc>",
        f'<line x1="{_LEFT}" y1="{axis_y}" x2="{_LEFT + usable}" y2="{axis_y}" stroke="#000"/>',
    ]
    if first is not None and last is not None:
        for end_x, end_day in ((_LEFT, first), (_LEFT + usable, last)):
            parts.append(
                f'<text x="{end_x}" y="{axis_y + 16}" font-size="11" text-anchor="middle">'
                f"{escape(end_day.isoformat())}</text>"
            )
    for row, point in enumerate(points):
        day = _day(point.date)
        x: float
        if day is not None and first is not None:
            x = _LEFT + usable * ((day - first).days / span if last != first else 0.5)
        else:
            x = _LEFT + usable + 30
        y = 30 + _ROW * row
        parts.append(
            f'<line x1="{x:.0f}" y1="{y:.0f}" x2="{x:.0f}" y2="{axis_y}" stroke="#888" '
            'stroke-dasharray="3 3"/>'
        )
        parts.append(_marker(point.status, x, y))
        text = f"{point.date or 'undated'} · {point.label}: {point.status}"
        if point.detail:
            text += f" ({point.detail})"
        anchor = "end" if x > _WIDTH / 2 else "start"
        tx = x - 14 if anchor == "end" else x + 14
        parts.append(
            f'<a href="#{escape(point.anchor)}"><text x="{tx:.0f}" y="{y + 4:.0f}" font-size="12" '
            f'text-anchor="{anchor}" font-weight="bold">{escape(text)}</text></a>'
        )
        if point.flags:
            parts.append(
                f'<text x="{tx:.0f}" y="{y + 18:.0f}" font-size="11" text-anchor="{anchor}">'
                f"{escape('FLAG: ' + '; '.join(point.flags))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["Point", "draw_timeline"]
