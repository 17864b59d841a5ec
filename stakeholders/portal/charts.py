"""Server-drawn SVG charts for the portal's pages: axes with units, a legend, and the lines a
reader needs (capacity, thresholds, now). No JavaScript; they scale to the page's width."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

LEVEL_COLOURS = {"NORMAL": "#15803d", "HIGH": "#b45309", "CRITICAL": "#b91c1c"}


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `high` (1, 2 or 5 times a power of ten apart)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks, value = [], 0.0
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _unit_scale(high: float) -> tuple[float, str]:
    return (1000.0, "MW") if high >= 10_000 else (1.0, "kW")


def outlook_chart(
    hours: Sequence[dict],
    *,
    capacity_kw: float,
    high_kw: float,
    critical_kw: float,
    timezone: str,
    now: datetime | None = None,
    title: str = "Forecast load against capacity",
    width: int = 960,
    height: int = 300,
) -> SafeString:
    """The forecast's P10-P90 band and P50 line hour by hour against capacity and the HIGH and
    CRITICAL thresholds, with each hour's grid status as a coloured strip under the axis.
    `hours` are snapshot hours: {"t": ISO start, "p10", "p50", "p90", "level"} in kW."""
    if len(hours) < 2:
        return format_html('<p class="muted">{}: no forecast for these hours yet.</p>', title)
    zone = ZoneInfo(timezone)
    left, right, top, bottom = 62, 14, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(h["p90"] for h in hours), capacity_kw)
    scale, unit = _unit_scale(peak)
    ticks = nice_ticks(peak / scale * 1.02)
    ceiling = ticks[-1] * scale
    n = len(hours)
    step = plot_w / n

    def x(i: float) -> float:
        return left + i * step

    def y(kw: float) -> float:
        return top + plot_h - kw / ceiling * plot_h

    centre = [x(i + 0.5) for i in range(n)]
    band = " ".join(f"{cx:.1f},{y(h['p90']):.1f}" for cx, h in zip(centre, hours, strict=True))
    band += " " + " ".join(
        f"{cx:.1f},{y(h['p10']):.1f}" for cx, h in reversed(list(zip(centre, hours, strict=True)))
    )
    median = " ".join(f"{cx:.1f},{y(h['p50']):.1f}" for cx, h in zip(centre, hours, strict=True))
    grid_lines = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#e5e7eb"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#4b5563">{}</text>',
        (
            (left, width - right, f"{y(t * scale):.1f}", f"{y(t * scale):.1f}", left - 6,
             f"{y(t * scale) + 4:.1f}", f"{t:,.0f}" if t >= 10 or t == 0 else f"{t:,.1f}")
            for t in ticks
        ),
    )  # fmt: skip
    starts = [datetime.fromisoformat(h["t"]).astimezone(zone) for h in hours]
    labels = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d1d5db"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#4b5563">{}</text>',
        (
            (f"{x(i):.1f}", f"{x(i):.1f}", top, top + plot_h, f"{x(i):.1f}",
             top + plot_h + 30, start.strftime("%a %H:%M") if start.hour == 0 or i == 0 else start.strftime("%H:%M"))
            for i, start in enumerate(starts)
            if start.hour % 6 == 0 or i == 0
        ),
    )  # fmt: skip
    strip = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="8" fill="{}"><title>{} {}</title></rect>',
        (
            (f"{x(i):.1f}", top + plot_h + 6, f"{max(step - 0.6, 0.5):.1f}",
             LEVEL_COLOURS.get(h["level"], "#9ca3af"), start.strftime("%a %H:%M"), h["level"])
            for i, (h, start) in enumerate(zip(hours, starts, strict=True))
        ),
    )  # fmt: skip
    # Capacity labelled on the left, the thresholds on the right, so that close lines never
    # write over each other.
    thresholds = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1.5" {}/>'
        '<text x="{}" y="{}" font-size="11" fill="{}" text-anchor="{}">{}</text>',
        (
            (left, width - right, f"{y(kw):.1f}", f"{y(kw):.1f}", colour, mark_safe(dash),
             label_x, f"{y(kw) + offset:.1f}", colour, anchor, label)
            for kw, colour, dash, label, label_x, anchor, offset in (
                (capacity_kw, "#111827", "", f"capacity {capacity_kw / scale:,.1f} {unit}",
                 left + 30, "start", -4),
                (critical_kw, "#b91c1c", 'stroke-dasharray="6 4"',
                 f"CRITICAL {critical_kw / scale:,.1f} {unit}", width - right - 4, "end", -4),
                (high_kw, "#b45309", 'stroke-dasharray="6 4"',
                 f"HIGH {high_kw / scale:,.1f} {unit}", width - right - 4, "end", 13),
            )
        ),
    )  # fmt: skip
    now_line = ""
    if now is not None and starts[0] <= now.astimezone(zone) <= starts[-1]:
        offset = (now.astimezone(zone) - starts[0]).total_seconds() / 3600
        now_line = format_html(
            '<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="#7c3aed" stroke-width="1.5"/>'
            '<text x="{3}" y="{4}" font-size="11" fill="#7c3aed">now</text>',
            f"{x(offset):.1f}", top, top + plot_h, f"{x(offset) + 3:.1f}", top + 12,
        )  # fmt: skip
    legend = format_html(
        '<rect x="{0}" y="8" width="14" height="10" fill="#bfdbfe"/>'
        '<text x="{1}" y="17" font-size="11">P10–P90</text>'
        '<line x1="{2}" x2="{3}" y1="13" y2="13" stroke="#1d4ed8" stroke-width="2.5"/>'
        '<text x="{4}" y="17" font-size="11">P50 forecast</text>'
        '<rect x="{5}" y="8" width="10" height="10" fill="#15803d"/><rect x="{6}" y="8" width="10" height="10" fill="#b45309"/>'
        '<rect x="{7}" y="8" width="10" height="10" fill="#b91c1c"/>'
        '<text x="{8}" y="17" font-size="11">status: normal / high / critical</text>',
        left, left + 18, left + 80, left + 100, left + 104, left + 190, left + 202, left + 214,
        left + 228,
    )  # fmt: skip
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMidYMid meet" style="font-family:system-ui,sans-serif">'
        "<title>{}</title>{}{}"
        '<polygon fill="#bfdbfe" fill-opacity="0.85" points="{}"/>'
        '<polyline fill="none" stroke="#1d4ed8" stroke-width="2.5" points="{}"/>'
        "{}{}{}{}"
        '<text x="14" y="{}" font-size="11" fill="#4b5563" transform="rotate(-90 14 {})" '
        'text-anchor="middle">load, {}</text>'
        '<text x="{}" y="{}" font-size="11" fill="#4b5563" text-anchor="end">hour starting, {}</text>'
        "</svg>",
        title, width, height, title, legend, grid_lines, band, median, thresholds, labels,
        strip, now_line, top + plot_h / 2, top + plot_h / 2, unit,
        width - right, height - 2, starts[0].tzname(),
    )  # fmt: skip
