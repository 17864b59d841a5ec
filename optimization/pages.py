"""What a simulated season looks like to the people who review it: the strategies side by
side, each day's system peak without and with the program, and each event. Server-side HTML
and SVG (stakeholders.charts), labelled simulated throughout."""

from __future__ import annotations

from datetime import timedelta

from django.utils.html import format_html

from stakeholders import charts

from .models import SeasonRun

STRATEGY_LABELS = {
    "compliance": "compliance-aware (ours)",
    "blind": "compliance-blind",
    "largest": "largest-first",
}
HIGH_SHARE = 0.9  # the HIGH threshold as a share of capacity (simulator.SeasonConfig.high_pct)


def season_page(run: SeasonRun) -> str:
    """The season's comparison table, its daily peaks as a chart, and the events of our plan."""
    comparison = charts.table(
        [
            (
                STRATEGY_LABELS.get(name, name),
                row["events"],
                f"{row['target_met_share']:.0%}" if row["events"] else "-",
                f"{row['true_target_met_share']:.0%}" if row["events"] else "-",
                f"{row['peak_reduction_pct']:.2f} %",
                f"{row['cost_usd']:,.0f}",
                f"{row['comfort_usd']:,.0f}" if "comfort_usd" in row else "-",
                f"{row['delivered_kwh'] / 1000:,.1f}",
            )
            for name, row in run.strategies.items()
        ],
        (
            "strategy", "events", "targets met (verified)", "targets met (simulator's truth)",
            "system peak cut", "incentive cost $", "comfort penalty $", "MWh delivered",
        ),
    )  # fmt: skip
    series = run.series or {}
    last_day = run.first_day + timedelta(days=run.days - 1)
    peaks = series.get("daily_peak_kw", {})
    chart = charts.lines_chart(
        [
            ("without the program", series.get("daily_peak_without_kw", []), "#9ca3af"),
            ("with ours", peaks.get("compliance", []), "#2563eb"),
            ("with largest-first", peaks.get("largest", []), "#d97706"),
        ],
        title="Each day's system peak (simulated)",
        unit="kW",
        labels=(str(run.first_day), str(last_day)),
        height=200,
        reference=(HIGH_SHARE * run.capacity_kw, "HIGH threshold"),
    )
    events = charts.table(
        [
            (
                str(run.first_day + timedelta(days=row["day"])),
                f"{row['start_hour']:02d}:00-{row['end_hour']:02d}:00",
                f"{row['target_kw']:,.0f}",
                row["asked"],
                f"{row['comparison_group']:,}" if row.get("comparison_group") else "-",
                _on_the_day(row),
                f"{row['requested_kw']:,.0f}",
                f"{row['expected_kw']:,.0f}",
                f"{row['verified_kw']:,.0f}",
                "met" if row["verified_kw"] >= row["target_kw"] else "MISSED",
                f"{row['cost_usd']:,.0f}",
            )
            for row in series.get("events", {}).get("compliance", [])
        ],
        (
            "day", "window", "target kW", "buildings asked", "held out to verify by",
            "revisited on the day", "kW asked",
            "kW expected", "kW verified", "target", "cost $",
        ),
    )  # fmt: skip
    calibration = charts.table(
        [
            (row["bin"], row["count"], row["predicted"], row["observed"])
            for row in run.figures.get("calibration", [])
        ],
        ("predicted P(verified as complied)", "asks", "mean prediction", "share verified"),
    )
    return format_html(
        "<p><strong>SIMULATED.</strong> A synthetic utility of {} buildings built from real "
        "CityLearn load shapes, with simulated behaviour; nothing here was metered.</p>"
        "<h3>Strategies on the same days and the same behaviour</h3>{}"
        "<h3>System peak</h3>{}"
        "<h3>Our events</h3>{}"
        "<h3>Compliance model, on predictions made before each outcome</h3>"
        "<p>AUC {}, Brier score {} (against what was verified).</p>{}",
        run.buildings, comparison, chart, events,
        run.figures.get("compliance_auc"), run.figures.get("compliance_brier"), calibration,
    )  # fmt: skip


def _on_the_day(row: dict) -> str:
    """What the morning's revisit changed in an event's plan (seasons run before it: "-")."""
    parts = []
    if row.get("short_notice"):
        parts.append(f"{row['short_notice']:,} asked at short notice")
    if row.get("withdrawn"):
        parts.append(f"{row['withdrawn']:,} withdrawn")
    if row.get("released"):  # seasons run when released asks kept a reservation
        parts.append(f"{row['released']:,} released")
    return ", ".join(parts) or "-"
