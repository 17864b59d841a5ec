"""Small server-side SVG charts for pages and the admin: no JavaScript, works everywhere."""

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def _scale(values: Sequence[float], low: float, high: float, size: float) -> list[float]:
    span = (high - low) or 1.0
    return [size - (value - low) / span * size for value in values]


def line_chart(
    values: Sequence[float | None],
    *,
    title: str,
    unit: str,
    labels: tuple[str, str] = ("", ""),
    width: int = 640,
    height: int = 140,
    colour: str = "#2563eb",
    reference: tuple[float, str] | None = None,
) -> SafeString:
    """A line over `values` (None for gaps) with its min and max marked, and an optional
    horizontal reference line such as a capacity."""
    return lines_chart(
        [("", values, colour)], title=title, unit=unit, labels=labels, width=width,
        height=height, reference=reference,
    )  # fmt: skip


def lines_chart(
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    title: str,
    unit: str,
    labels: tuple[str, str] = ("", ""),
    width: int = 640,
    height: int = 140,
    reference: tuple[float, str] | None = None,
) -> SafeString:
    """Lines (label, values with None for gaps, colour) on one scale, with a legend where they
    have labels, their min and max marked, and an optional horizontal reference line."""
    drawn = [(name, [(i, v) for i, v in enumerate(values) if v is not None], colour, len(values))
             for name, values, colour in series]  # fmt: skip
    if not drawn or any(len(points) < 2 for _, points, _, _ in drawn):
        return format_html("<p>{}: not enough data to draw.</p>", title)
    pad_left, pad_bottom = 48, 18
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - 20
    observed = [v for _, points, _, _ in drawn for _, v in points]
    low = min(0.0, min(observed))
    high = max(observed + ([reference[0]] if reference else []))
    lines = []
    for position, (name, points, colour, count) in enumerate(drawn):
        xs = [pad_left + i / (count - 1) * plot_w for i, _ in points]
        ys = [20 + y for y in _scale([v for _, v in points], low, high, plot_h)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        lines.append(
            format_html(
                '<polyline fill="none" stroke="{}" stroke-width="1.2" points="{}"/>', colour, path
            )
        )
        if name:
            lines.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" fill="{}" text-anchor="end">{}</text>',
                    width - 8,
                    12 + 11 * position,
                    colour,
                    name,
                )  # fmt: skip
            )
    ref_svg = ""
    if reference:
        ref_y = 20 + _scale([reference[0]], low, high, plot_h)[0]
        ref_svg = format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#b91c1c" stroke-dasharray="4 3"/>'
            '<text x="{}" y="{}" font-size="10" fill="#b91c1c">{}</text>',
            pad_left, width - 8, f"{ref_y:.1f}", f"{ref_y:.1f}", pad_left + 4, f"{ref_y - 3:.1f}",
            reference[1],
        )  # fmt: skip
    return format_html(
        '<svg role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'style="max-width:100%;font-family:sans-serif">'
        '<text x="{}" y="12" font-size="12" font-weight="bold">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{} {}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{} {}</text>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#9ca3af"/>{}{}'
        '<text x="{}" y="{}" font-size="10">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text></svg>',
        title, width, height, width, height,
        pad_left, title,
        pad_left - 4, 24, f"{high:,.1f}", unit,
        pad_left - 4, 20 + plot_h, f"{low:,.1f}", unit,
        pad_left, width - 8, 20 + plot_h, 20 + plot_h,
        mark_safe("".join(lines)), ref_svg,
        pad_left, height - 4, labels[0],
        width - 8, height - 4, labels[1],
    )  # fmt: skip


def bar(fraction: float, *, label: str, colour: str = "#15803d", width_px: int = 120) -> SafeString:
    """A horizontal progress bar with its label, for list columns and overview tables."""
    fraction = max(0.0, min(1.0, fraction))
    return format_html(
        '<span style="display:inline-block;width:{}px;height:10px;background:#e5e7eb;'
        'border-radius:5px;vertical-align:middle" title="{}">'
        '<span style="display:block;width:{}px;height:10px;background:{};border-radius:5px">'
        "</span></span> {}",
        width_px, label, round(fraction * width_px), colour, label,
    )  # fmt: skip


def table(rows: Sequence[Sequence], header: Sequence[str]) -> SafeString:
    head = format_html_join("", "<th>{}</th>", ((name,) for name in header))
    body = mark_safe(
        "".join(
            format_html(
                "<tr>{}</tr>", format_html_join("", "<td>{}</td>", ((cell,) for cell in row))
            )
            for row in rows
        )
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def band_chart(
    low: Sequence[float],
    middle: Sequence[float],
    high: Sequence[float],
    *,
    title: str,
    unit: str,
    width: int = 640,
    height: int = 160,
    reference: tuple[float, str] | None = None,
) -> SafeString:
    """A shaded band between `low` and `high` (an interval) with the `middle` line over it."""
    n = len(middle)
    if n < 2:
        return format_html("<p>{}: not enough data to draw.</p>", title)
    pad_left, top = 48, 20
    plot_w, plot_h = width - pad_left - 8, height - top - 18
    ceiling = max(list(high) + ([reference[0]] if reference else []))

    def y(value: float) -> float:
        return top + _scale([value], 0.0, ceiling, plot_h)[0]

    xs = [pad_left + i / (n - 1) * plot_w for i in range(n)]
    band = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, high, strict=True))
    band += " " + " ".join(
        f"{x:.1f},{y(v):.1f}" for x, v in reversed(list(zip(xs, low, strict=True)))
    )
    line = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, middle, strict=True))
    ref_svg = ""
    if reference:
        ref_svg = format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#b91c1c" stroke-dasharray="4 3"/>'
            '<text x="{}" y="{}" font-size="10" fill="#b91c1c" text-anchor="end">{}</text>',
            pad_left, width - 8, f"{y(reference[0]):.1f}", f"{y(reference[0]):.1f}",
            width - 8, f"{y(reference[0]) - 3:.1f}", reference[1],
        )  # fmt: skip
    return format_html(
        '<svg role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'style="max-width:100%;font-family:sans-serif">'
        '<text x="{}" y="12" font-size="12" font-weight="bold">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{} {}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">0 {}</text>'
        '<polygon fill="#bfdbfe" stroke="none" points="{}"/>'
        '<polyline fill="none" stroke="#1d4ed8" stroke-width="1.5" points="{}"/>{}'
        '<text x="{}" y="{}" font-size="10">hour 0</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">hour {}</text></svg>',
        title, width, height, width, height, pad_left, title,
        pad_left - 4, top + 4, f"{ceiling:,.1f}", unit, pad_left - 4, top + plot_h, unit,
        band, line, ref_svg,
        pad_left, height - 4, width - 8, height - 4, n - 1,
    )  # fmt: skip
