"""Reads of readings and series for pages, scoped to what the requesting user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.db.models import Avg, Count, Max, OuterRef, QuerySet, Subquery

from stakeholders.models import Building
from stakeholders.selectors import building_list

from .hourly import unpack_days
from .models import MeterDay


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
