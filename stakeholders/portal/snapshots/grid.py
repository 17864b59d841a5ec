"""The grid's outlook: every forecast hour from the day's local midnight, three days on, with
its P10-P90 band against capacity and both thresholds."""

from __future__ import annotations

from forecasting.models import ForecastRun
from forecasting.selectors import grid_outlook

from .base import DayContext, section

OUTLOOK_DAYS = 3


@section("grid")
def grid(ctx: DayContext) -> dict:
    utility = ctx.utility
    hours = grid_outlook(utility=utility, first_day=ctx.day, days=OUTLOOK_DAYS)
    runs = sorted({hour.run_id for hour in hours})
    models = dict(ForecastRun.objects.filter(pk__in=runs).values_list("pk", "model__version"))
    versions = sorted({v for v in models.values() if v is not None})
    if versions:
        ctx.versions["forecast_model"] = versions[-1]
    ctx.versions["forecast_runs"] = runs
    peak = max(hours, key=lambda hour: hour.p50_kw, default=None)
    return {
        "capacity_kw": utility.capacity_kw,
        "high_pct": utility.high_strain_pct,
        "critical_pct": utility.critical_strain_pct,
        "high_kw": utility.capacity_kw * utility.high_strain_pct / 100.0,
        "critical_kw": utility.capacity_kw * utility.critical_strain_pct / 100.0,
        "hours": [
            {
                "t": hour.starts_at.isoformat(),
                "p10": round(hour.p10_kw, 3),
                "p50": round(hour.p50_kw, 3),
                "p90": round(hour.p90_kw, 3),
                "level": hour.level,
                "above_high": round(hour.kw_above_high, 3),
                "strain_pct": round(hour.strain_pct, 2),
                "run": hour.run_id,
                "model": models.get(hour.run_id),
            }
            for hour in hours
        ],  # fmt: skip
        "peak": None
        if peak is None
        else {"t": peak.starts_at.isoformat(), "p50": peak.p50_kw, "level": peak.level},
        "runs": runs,
    }
