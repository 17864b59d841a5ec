"""Reads of readings and series for pages, scoped to what the requesting user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from django.db.models import Avg, Count, Max, OuterRef, QuerySet, Subquery

from stakeholders.models import Building, ProgramHoliday, Utility
from stakeholders.selectors import building_list

from .calendar import holiday_dates
from .hourly import unpack_days
from .models import AggregateForecast, ForecastRun, GridStatusHour, MeterDay


def _per_building(aggregate):
    return Subquery(
        MeterDay.objects.filter(building=OuterRef("pk"))
        .order_by()
        .values("building")
        .annotate(value=aggregate)
        .values("value")[:1]
    )


def with_load_summary(buildings: QuerySet[Building]) -> QuerySet[Building]:
    """Buildings annotated with mean_kw, peak_kw, days_of_data and last_day of their readings.

    Correlated subqueries: the database computes them only for the rows a page shows.
    """
    return buildings.annotate(
        mean_daily_kwh=_per_building(Avg("total_kwh")),
        peak_kw=_per_building(Max("peak_kw")),
        days_of_data=_per_building(Count("id")),
        last_day=_per_building(Max("day")),
    )


@dataclass(frozen=True)
class LoadProfile:
    days: list[date]
    daily_kwh: list[float | None]
    last_week_kw: list[float | None]  # 168 hourly values, None where missing
    last_week_start: date | None
    origin: str


def building_load_profile(*, user, building_id: int) -> LoadProfile | None:
    """A building's daily energy over its readings and its last week hour by hour."""
    building = building_list(user=user).filter(pk=building_id).first()
    if building is None:
        return None
    rows = list(
        MeterDay.objects.filter(building=building)
        .order_by("day")
        .values_list("day", "total_kwh", "kwh", "present_mask", "origin")
    )
    if not rows:
        return LoadProfile([], [], [], None, building.origin)
    last_week = rows[-7:]
    hourly = unpack_days([row[2] for row in last_week], [row[3] for row in last_week]).ravel()
    return LoadProfile(
        days=[row[0] for row in rows],
        daily_kwh=[row[1] for row in rows],
        last_week_kw=[None if np.isnan(value) else float(value) for value in hourly],
        last_week_start=last_week[0][0],
        origin=rows[-1][4],
    )


def meter_day_list(*, user) -> QuerySet[MeterDay]:
    return MeterDay.objects.filter(building__in=building_list(user=user)).select_related("building")


def next_forecast_day(*, utility) -> date:
    """The day after the utility's latest readings (for data sets that lie in the past)."""
    last = MeterDay.objects.filter(building__utility=utility).aggregate(day=Max("day"))["day"]
    return (last or date.today()) + timedelta(days=1)


@dataclass(frozen=True)
class OutlookHour:
    """One hour of the utility's forecast: its P10 / P50 / P90 against capacity, graded."""

    starts_at: datetime
    p10_kw: float
    p50_kw: float
    p90_kw: float
    capacity_kw: float
    level: str
    strain_pct: float
    kw_above_high: float
    run_id: int


def latest_runs(*, utility, days: list[date]) -> dict[date, ForecastRun]:
    """The latest complete forecast run of each of `days` (days without one are left out)."""
    runs: dict[date, ForecastRun] = {}
    for run in ForecastRun.objects.filter(
        utility=utility, day__in=days, status=ForecastRun.Status.COMPLETE
    ).order_by("day", "-created_at", "-pk"):
        runs.setdefault(run.day, run)
    return runs


def grid_outlook(*, utility, first_day: date, days: int = 3) -> list[OutlookHour]:
    """The utility's forecast hour by hour from `first_day`'s local midnight for `days` days,
    from each day's latest complete run (a later day's run wins where a 48 h run overlaps it):
    three queries, whatever the number of buildings."""
    runs = latest_runs(utility=utility, days=[first_day + timedelta(days=d) for d in range(days)])
    if not runs:
        return []
    run_ids = [run.pk for run in runs.values()]
    bands = {
        row["run_id"]: row
        for row in AggregateForecast.objects.filter(run_id__in=run_ids, feeder__isnull=True).values(
            "run_id", "p10_kw", "p50_kw", "p90_kw"
        )
    }
    hours: dict[datetime, OutlookHour] = {}
    order = {run.pk: run.day for run in runs.values()}
    rows = GridStatusHour.objects.filter(run_id__in=run_ids, feeder__isnull=True).order_by(
        "starts_at"
    )
    offsets: dict[int, int] = {}
    for row in sorted(rows, key=lambda r: (order[r.run_id], r.starts_at)):
        band = bands.get(row.run_id)
        h = offsets.get(row.run_id, 0)
        offsets[row.run_id] = h + 1
        if band is None:
            continue
        p10 = np.frombuffer(bytes(band["p10_kw"]), dtype="<f4")
        hours[row.starts_at] = OutlookHour(
            starts_at=row.starts_at,
            p10_kw=float(p10[h]) if h < p10.size else row.forecast_kw,
            p50_kw=row.forecast_kw,
            p90_kw=row.p90_kw,
            capacity_kw=row.capacity_kw,
            level=row.level,
            strain_pct=row.strain_pct,
            kw_above_high=row.kw_above_high,
            run_id=row.run_id,
        )
    return [hours[moment] for moment in sorted(hours)]


@dataclass(frozen=True)
class FeederLoading:
    feeder_id: int
    name: str
    capacity_kw: float
    peak_p50_kw: float
    peak_p90_kw: float
    peak_at: datetime
    level: str


def feeder_loading(*, run_ids: list[int]) -> list[FeederLoading]:
    """Each feeder's forecast peak (P50, with its P90) over the runs' hours, against its
    capacity, most loaded first. One query of plain values: a 100,000-building utility has a
    few hundred feeders, so tens of thousands of feeder hours a day."""
    peaks: dict[int, tuple] = {}
    worst_p90: dict[int, float] = {}
    rows = GridStatusHour.objects.filter(run_id__in=run_ids, feeder__isnull=False).values_list(
        "feeder_id", "feeder__name", "capacity_kw", "forecast_kw", "p90_kw", "starts_at", "level"
    )
    for row in rows:
        feeder_id, forecast_kw, p90_kw = row[0], row[3], row[4]
        best = peaks.get(feeder_id)
        if best is None or forecast_kw > best[3]:
            peaks[feeder_id] = row
        worst_p90[feeder_id] = max(worst_p90.get(feeder_id, 0.0), p90_kw)
    loadings = [
        FeederLoading(
            feeder_id=feeder_id, name=name, capacity_kw=capacity_kw, peak_p50_kw=forecast_kw,
            peak_p90_kw=worst_p90[feeder_id], peak_at=starts_at, level=level,
        )
        for feeder_id, name, capacity_kw, forecast_kw, _, starts_at, level in peaks.values()
    ]  # fmt: skip
    return sorted(loadings, key=lambda f: f.peak_p50_kw / f.capacity_kw, reverse=True)


def utility_holidays(*, utility: Utility, years) -> set[date]:
    """The utility's holidays in `years`: its country's and region's public holidays and the
    days its program added by hand."""
    years = sorted(set(years))
    extra = ProgramHoliday.objects.filter(
        utility=utility, day__year__gte=years[0], day__year__lte=years[-1]
    ).values_list("day", flat=True)
    return holiday_dates(years, country=utility.country, region=utility.region, extra=extra)
