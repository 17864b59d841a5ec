"""Server-drawn SVG charts for the trader's and the engineer's pages: stacked panels on one
time axis (forecast band against capacity, DR capacity per hour, price against the cost of DR)
and a day-by-day accuracy chart. Every label is escaped through format_html."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .charts import nice_ticks

WIDTH = 960
LEFT, RIGHT = 66, 16
INK, MUTED, GRID = "#111827", "#4b5563", "#e5e7eb"
BAND, P50 = "#bfdbfe", "#1d4ed8"
DR_FREE, DR_EXPECTED = "#bbf7d0", "#15803d"
PRICE, COST = "#7c3aed", "#b91c1c"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:,.1f}"


def _scale(high_kw: float) -> tuple[float, str]:
    return (1000.0, "MW") if high_kw >= 10_000 else (1.0, "kW")


class _Panel:
    """One panel: a band of the SVG with its own y axis (0 to a round ceiling) and unit."""

    def __init__(self, top: float, height: float, high: float, unit: str, n: int):
        self.top, self.height, self.n = top, height, n
        self.ticks = nice_ticks(max(high, 1e-9) * 1.05)
        self.ceiling = self.ticks[-1] or 1.0
        self.unit = unit
        self.step = (WIDTH - LEFT - RIGHT) / max(n, 1)

    def x(self, i: float) -> float:
        return LEFT + i * self.step

    def y(self, value: float) -> float:
        return self.top + self.height - value / self.ceiling * self.height

    def axes(self, label: str) -> SafeString:
        lines = format_html_join(
            "",
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}"/>'
            '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="{}">{}</text>',
            (
                (LEFT, WIDTH - RIGHT, f"{self.y(t):.1f}", f"{self.y(t):.1f}", GRID, LEFT - 6,
                 f"{self.y(t) + 4:.1f}", MUTED, _fmt(t))
                for t in self.ticks
            ),
        )  # fmt: skip
        middle = self.top + self.height / 2
        return format_html(
            '{}<text x="14" y="{}" font-size="11" fill="{}" transform="rotate(-90 14 {})" '
            'text-anchor="middle">{}</text>',
            lines, f"{middle:.1f}", MUTED, f"{middle:.1f}", label,
        )  # fmt: skip

    def hline(self, value: float, colour: str, label: str, dashed: bool = True) -> SafeString:
        dash = mark_safe(' stroke-dasharray="6 4"') if dashed else ""
        return format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1.5"{}/>'
            '<text x="{}" y="{}" font-size="11" fill="{}" text-anchor="end">{}</text>',
            LEFT, WIDTH - RIGHT, f"{self.y(value):.1f}", f"{self.y(value):.1f}", colour, dash,
            WIDTH - RIGHT - 4, f"{self.y(value) - 4:.1f}", colour, label,
        )  # fmt: skip


def _legend(items: Sequence[tuple[str, str, str]], y: float) -> SafeString:
    """A row of (kind "box" | "line" | "dash", colour, label) at height y."""
    parts, x = [], LEFT
    for kind, colour, label in items:
        if kind == "box":
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="14" height="10" fill="{}"/>', x, y - 9, colour
                )
            )
        else:
            dash = mark_safe(' stroke-dasharray="6 4"') if kind == "dash" else ""
            parts.append(
                format_html(
                    '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="2.5"{}/>',
                    x,
                    x + 16,
                    y - 4,
                    y - 4,
                    colour,
                    dash,
                )  # fmt: skip
            )
        parts.append(format_html('<text x="{}" y="{}" font-size="11">{}</text>', x + 20, y, label))
        x += 28 + 6.2 * len(label)
    return format_html_join("", "{}", ((p,) for p in parts))


def _time_axis(panel: _Panel, starts: list[datetime], top: float, bottom: float, y: float):
    return format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d1d5db"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>',
        (
            (f"{panel.x(i):.1f}", f"{panel.x(i):.1f}", top, bottom, f"{panel.x(i):.1f}", y, MUTED,
             start.strftime("%a %H:%M") if start.hour == 0 or i == 0 else start.strftime("%H:%M"))
            for i, start in enumerate(starts)
            if start.hour % 6 == 0 or i == 0
        ),
    )  # fmt: skip


def trader_chart(
    hours: Sequence[dict],
    *,
    capacity_kw: float,
    timezone: str,
    dr_usd_per_mwh: float | None = None,
    now: datetime | None = None,
) -> SafeString:
    """Three panels on one hourly axis: the forecast's P10-P90 band and P50 against the
    utility's capacity; the DR capacity available each hour (kW of the buildings that may still
    be asked) and what it is expected to deliver; the price signal in $/MWh against what
    verified DR has cost. `hours` are the trader section's hours (kW, $/MWh, ISO "t")."""
    if len(hours) < 2:
        return format_html('<p class="muted">{}</p>', "No forecast for these hours yet.")
    zone = ZoneInfo(timezone)
    starts = [datetime.fromisoformat(h["t"]).astimezone(zone) for h in hours]
    n = len(hours)
    prices = [h.get("price_usd_per_mwh") for h in hours]
    priced = [p for p in prices if p is not None]
    load_high = max(max(h["p90"] for h in hours), capacity_kw)
    load_scale, load_unit = _scale(load_high)
    dr_high = max(max(h["dr_kw"] for h in hours), max((h["dr_expected_kw"] or 0) for h in hours))
    dr_scale, dr_unit = _scale(dr_high)
    load = _Panel(40, 190, load_high / load_scale, load_unit, n)
    dr = _Panel(load.top + load.height + 56, 120, dr_high / dr_scale, dr_unit, n)
    price_high = max(priced + ([dr_usd_per_mwh] if dr_usd_per_mwh else []), default=0.0)
    price = _Panel(dr.top + dr.height + 56, 110, price_high, "$/MWh", n)
    height = price.top + price.height + 40
    centre = [i + 0.5 for i in range(n)]

    def points(panel, values, scale=1.0):
        return " ".join(
            f"{panel.x(c):.1f},{panel.y(v / scale):.1f}"
            for c, v in zip(centre, values, strict=True)
        )

    band = (
        points(load, [h["p90"] for h in hours], load_scale)
        + " "
        + " ".join(reversed(points(load, [h["p10"] for h in hours], load_scale).split(" ")))
    )
    median = points(load, [h["p50"] for h in hours], load_scale)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {} available</title></rect>',
        (
            (f"{dr.x(i) + 0.6:.1f}", f"{dr.y(h['dr_kw'] / dr_scale):.1f}",
             f"{max(dr.step - 1.2, 0.5):.1f}", f"{dr.y(0) - dr.y(h['dr_kw'] / dr_scale):.1f}",
             DR_FREE, start.strftime("%a %H:%M"), _fmt(h["dr_kw"] / dr_scale), dr_unit)
            for i, (h, start) in enumerate(zip(hours, starts, strict=True))
        ),
    )  # fmt: skip
    expected = ""
    if any(h["dr_expected_kw"] is not None for h in hours):
        expected = format_html(
            '<polyline fill="none" stroke="{}" stroke-width="2.5" points="{}"/>',
            DR_EXPECTED, points(dr, [h["dr_expected_kw"] or 0.0 for h in hours], dr_scale),
        )  # fmt: skip
    if priced:
        segments, current = [], []
        for c, p in zip(centre, prices, strict=True):
            if p is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append(f"{price.x(c):.1f},{price.y(p):.1f}")
        if current:
            segments.append(current)
        price_lines = format_html_join(
            "",
            '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
            ((PRICE, " ".join(segment)) for segment in segments),
        )
        price_note = ""
    else:
        price_lines = ""
        price_note = format_html(
            '<text x="{}" y="{}" font-size="12" fill="{}">{}</text>',
            LEFT + 10, f"{price.top + price.height / 2:.1f}", MUTED,
            "No price signal stored for these hours: not measured yet.",
        )  # fmt: skip
    cost_line = (
        price.hline(dr_usd_per_mwh, COST, f"verified DR cost ${dr_usd_per_mwh:,.0f}/MWh")
        if dr_usd_per_mwh
        else ""
    )
    now_line = ""
    if now is not None and starts[0] <= now.astimezone(zone) <= starts[-1]:
        offset = (now.astimezone(zone) - starts[0]).total_seconds() / 3600
        now_line = format_html(
            '<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="#7c3aed" stroke-width="1" '
            'stroke-dasharray="2 3"/><text x="{3}" y="{4}" font-size="11" fill="#7c3aed">now</text>',
            f"{load.x(offset):.1f}", load.top, price.top + price.height, f"{load.x(offset) + 3:.1f}",
            load.top + 12,
        )  # fmt: skip
    zone_name = starts[0].tzname()
    return format_html(
        '<svg class="chart" role="img" aria-label="{title}" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMidYMid meet" style="font-family:system-ui,sans-serif">'
        "<title>{title}</title>"
        "{legend1}{load_axes}"
        '<polygon fill="{band_colour}" fill-opacity="0.85" points="{band}"/>'
        '<polyline fill="none" stroke="{p50_colour}" stroke-width="2.5" points="{median}"/>'
        "{capacity}{load_time}"
        "{legend2}{dr_axes}{bars}{expected}{dr_time}"
        "{legend3}{price_axes}{price_lines}{price_note}{cost_line}{price_time}{now_line}"
        '<text x="{right}" y="{bottom}" font-size="11" fill="{muted}" text-anchor="end">'
        "hour starting, {zone}</text></svg>",
        title="Forecast, DR capacity and price, hour by hour", w=WIDTH, h=f"{height:.0f}",
        legend1=_legend(
            [("box", BAND, "forecast P10–P90"), ("line", P50, "P50 forecast"),
             ("line", INK, "utility capacity")], 16,
        ),
        load_axes=load.axes(f"load, {load_unit}"), band_colour=BAND, band=band,
        p50_colour=P50, median=median,
        capacity=load.hline(capacity_kw / load_scale, INK,
                            f"capacity {_fmt(capacity_kw / load_scale)} {load_unit}", dashed=False),
        load_time=_time_axis(load, starts, load.top, load.top + load.height, load.top + load.height + 16),
        legend2=_legend(
            [("box", DR_FREE, "DR capacity available (curtailable kW)"),
             ("line", DR_EXPECTED, "expected at the verified delivery share")], dr.top - 14,
        ),
        dr_axes=dr.axes(f"DR, {dr_unit}"), bars=bars, expected=expected,
        dr_time=_time_axis(dr, starts, dr.top, dr.top + dr.height, dr.top + dr.height + 16),
        legend3=_legend(
            [("line", PRICE, "price signal"), ("dash", COST, "what verified DR paid per MWh")],
            price.top - 14,
        ),
        price_axes=price.axes("price, $/MWh"), price_lines=price_lines, price_note=price_note,
        cost_line=cost_line,
        price_time=_time_axis(price, starts, price.top, price.top + price.height,
                              price.top + price.height + 16),
        now_line=now_line, right=WIDTH - RIGHT, bottom=f"{height - 4:.0f}", muted=MUTED,
        zone=zone_name,
    )  # fmt: skip


def accuracy_chart(rows: Sequence[dict], *, cvrmse_limit_pct: float, nmbe_limit_pct: float):
    """Day by day: the CV(RMSE) of each scored day as a bar (coloured by model version) and its
    NMBE as a dot, against ASHRAE Guideline 14's hourly limits. `rows` are the accuracy rows
    {"day", "model", "cvrmse_pct", "nmbe_pct"}, oldest first."""
    if not rows:
        return format_html('<p class="muted">{}</p>', "No past day scored yet: not measured yet.")
    n = len(rows)
    high = max(max(r["cvrmse_pct"] for r in rows), cvrmse_limit_pct)
    top_panel = _Panel(36, 170, high, "%", n)
    nmbe_high = max(max(abs(r["nmbe_pct"]) for r in rows), nmbe_limit_pct)
    bias = _Panel(top_panel.top + top_panel.height + 50, 120, 2 * nmbe_high, "%", n)
    # NMBE is signed: its panel is centred on zero.
    half = bias.ceiling / 2

    def bias_y(value: float) -> float:
        return bias.y(value + half)

    palette = ["#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#be185d", "#475569"]
    versions = sorted({r["model"] for r in rows}, key=lambda v: (v is None, v or 0))
    colour = {v: palette[i % len(palette)] for i, v in enumerate(versions)}
    days = [date.fromisoformat(r["day"]) for r in rows]
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: CV(RMSE) {} %</title></rect>',
        (
            (f"{top_panel.x(i) + 1:.1f}", f"{top_panel.y(r['cvrmse_pct']):.1f}",
             f"{max(top_panel.step - 2, 0.5):.1f}",
             f"{top_panel.y(0) - top_panel.y(r['cvrmse_pct']):.1f}", colour[r["model"]],
             day.strftime("%a %d %b"), f"{r['cvrmse_pct']:.1f}")
            for i, (r, day) in enumerate(zip(rows, days, strict=True))
        ),
    )  # fmt: skip
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="4" fill="{}"><title>{}: NMBE {} %</title></circle>',
        (
            (f"{bias.x(i + 0.5):.1f}", f"{bias_y(r['nmbe_pct']):.1f}", colour[r["model"]],
             day.strftime("%a %d %b"), f"{r['nmbe_pct']:+.1f}")
            for i, (r, day) in enumerate(zip(rows, days, strict=True))
        ),
    )  # fmt: skip
    bias_ticks = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="{}">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, f"{bias_y(v):.1f}", f"{bias_y(v):.1f}", GRID if v else "#9ca3af",
             LEFT - 6, f"{bias_y(v) + 4:.1f}", MUTED, f"{v:+,.0f}" if v else "0")
            for v in (-half, -half / 2, 0.0, half / 2, half)
        ),
    )  # fmt: skip
    limits = format_html(
        '<line x1="{l}" x2="{r}" y1="{a}" y2="{a}" stroke="{c}" stroke-dasharray="6 4"/>'
        '<line x1="{l}" x2="{r}" y1="{b}" y2="{b}" stroke="{c}" stroke-dasharray="6 4"/>'
        '<text x="{t}" y="{a2}" font-size="11" fill="{c}" text-anchor="end">+{n} %</text>'
        '<text x="{t}" y="{b2}" font-size="11" fill="{c}" text-anchor="end">−{n} %</text>',
        l=LEFT, r=WIDTH - RIGHT, a=f"{bias_y(nmbe_limit_pct):.1f}", b=f"{bias_y(-nmbe_limit_pct):.1f}",
        c=COST, t=WIDTH - RIGHT - 4, a2=f"{bias_y(nmbe_limit_pct) - 4:.1f}",
        b2=f"{bias_y(-nmbe_limit_pct) + 13:.1f}", n=f"{nmbe_limit_pct:.0f}",
    )  # fmt: skip
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>',
        (
            (f"{bias.x(i + 0.5):.1f}", bias.top + bias.height + 16, MUTED, day.strftime("%d %b"))
            for i, day in enumerate(days)
            if n <= 10 or i % max(n // 8, 1) == 0 or i == n - 1
        ),
    )  # fmt: skip
    height = bias.top + bias.height + 36
    legend = _legend(
        [("box", colour[v], f"model v{v}" if v is not None else "no model recorded")
         for v in versions]
        + [("dash", COST, "ASHRAE Guideline 14 limit")],
        16,
    )  # fmt: skip
    return format_html(
        '<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMidYMid meet" style="font-family:system-ui,sans-serif">'
        "<title>{t}</title>{legend}{axes}{bars}{limit}"
        '<text x="{lx}" y="{ly}" font-size="11" fill="{m}">NMBE (positive: forecast too low)</text>'
        "{bias_ticks}{limits}{dots}{labels}"
        '<text x="14" y="{by}" font-size="11" fill="{m}" transform="rotate(-90 14 {by})" '
        'text-anchor="middle">NMBE, %</text></svg>',
        t="Forecast accuracy by day", w=WIDTH, h=f"{height:.0f}", legend=legend,
        axes=top_panel.axes("CV(RMSE), %"), bars=bars,
        limit=top_panel.hline(cvrmse_limit_pct, COST, f"{cvrmse_limit_pct:.0f} %"),
        lx=LEFT, ly=bias.top - 10, m=MUTED, bias_ticks=bias_ticks, limits=limits, dots=dots,
        labels=labels, by=f"{bias.top + bias.height / 2:.1f}",
    )  # fmt: skip
