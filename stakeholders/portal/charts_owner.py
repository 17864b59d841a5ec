"""Server-drawn SVG charts of what taking part delivered: energy shed month by month against
what was asked (owners, energy managers, executives). Axes with units, a legend; no JavaScript.
Drawn on a narrow canvas with large type, so that it shrinks to a phone's width and stays
readable there (no sideways scrolling, unlike the wide hourly charts)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

DELIVERED = "#1d4ed8"
ASKED = "#cbd5e1"


def ticks_to(high: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `high` (1, 2, 2.5 or 5 times a power of ten)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(step * i, 10) for i in range(math.ceil(high / step - 1e-9) + 1)]


def _tick_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:,.1f}"


def month_label(key: str) -> str:
    """'2026-07' -> 'Jul 2026'."""
    year, month = key.split("-")
    return date(int(year), int(month), 1).strftime("%b %Y")


def monthly_kwh_chart(
    months: Sequence[str],
    delivered_kwh: Sequence[float],
    asked_kwh: Sequence[float],
    *,
    title: str,
    width: int = 500,
    height: int = 300,
) -> SafeString:
    """Bars of verified kWh shed per month (settled by optimization.mv.settle), each beside the
    kWh asked that month. `months` are 'YYYY-MM' keys, the figures in kWh."""
    if not months:
        return format_html('<p class="muted">{}: not measured yet.</p>', title)
    high = max(max(delivered_kwh, default=0.0), max(asked_kwh, default=0.0))
    scale, unit = (1000.0, "MWh") if high >= 10_000 else (1.0, "kWh")
    ticks = ticks_to(high / scale * 1.05)
    ceiling = ticks[-1] * scale or 1.0
    left, right, top, bottom = 76, 10, 46, 54
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(months)
    bar = min(slot * 0.36, 46)

    def y(kwh: float) -> float:
        return top + plot_h - kwh / ceiling * plot_h

    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#e5e7eb"/>'
        '<text x="{}" y="{}" font-size="17" text-anchor="end" fill="#4b5563">{}</text>',
        (
            (left, width - right, f"{y(t * scale):.1f}", f"{y(t * scale):.1f}", left - 6,
             f"{y(t * scale) + 5:.1f}", _tick_label(t))
            for t in ticks
        ),
    )  # fmt: skip
    every = max(1, math.ceil(len(months) / 6))  # at most six month names under the axis
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="' + ASKED + '">'
        "<title>{}: {} {} asked</title></rect>"
        '<rect x="{}" y="{}" width="{}" height="{}" fill="' + DELIVERED + '">'
        "<title>{}: {} {} shed</title></rect>{}",
        (
            (f"{left + i * slot + slot / 2 - bar:.1f}", f"{y(a):.1f}", f"{bar:.1f}",
             f"{top + plot_h - y(a):.1f}", month_label(key), _tick_label(a / scale), unit,
             f"{left + i * slot + slot / 2:.1f}", f"{y(d):.1f}", f"{bar:.1f}",
             f"{top + plot_h - y(d):.1f}", month_label(key), _tick_label(d / scale), unit,
             format_html(
                 '<text x="{}" y="{}" font-size="17" text-anchor="middle" fill="#4b5563">{}</text>',
                 f"{left + i * slot + slot / 2:.1f}", top + plot_h + 20, month_label(key),
             ) if i % every == 0 else "")
            for i, (key, d, a) in enumerate(zip(months, delivered_kwh, asked_kwh, strict=True))
        ),
    )  # fmt: skip
    legend = format_html(
        '<rect x="{}" y="10" width="14" height="14" fill="{}"/>'
        '<text x="{}" y="22" font-size="17">shed (verified)</text>'
        '<rect x="{}" y="10" width="14" height="14" fill="{}"/>'
        '<text x="{}" y="22" font-size="17">asked</text>',
        left, DELIVERED, left + 20, left + 170, ASKED, left + 190,
    )  # fmt: skip
    return format_html(
        '<svg class="chart-bars" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMidYMid meet" style="font-family:system-ui,sans-serif;max-width:520px">'
        "<title>{}</title>{}{}{}"
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#6b7280"/>'
        '<text x="16" y="{}" font-size="17" fill="#4b5563" transform="rotate(-90 16 {})" '
        'text-anchor="middle">energy, {}</text>'
        '<text x="{}" y="{}" font-size="17" fill="#4b5563" text-anchor="end">month of the event</text>'
        "</svg>",
        title, width, height, title, legend, grid, bars,
        left, width - right, top + plot_h, top + plot_h,
        top + plot_h / 2, top + plot_h / 2, unit, width - right, height - 4,
    )  # fmt: skip
