"""A small utility with three weeks of readings and a simulated event on its last day."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from forecasting.models import BuildingForecast, ForecastRun, SeriesDay
from forecasting.services.readings import meter_days_upsert, series_days_upsert
from stakeholders.models import BuildingType
from tests.factories import BuildingFactory, FeederFactory, UtilityFactory

EVENT_DAY = date(2026, 7, 15)  # a Wednesday
HISTORY_DAYS = 21


def daily_profile(scale: float) -> np.ndarray:
    hours = np.arange(24)
    return scale * (1.0 + 0.8 * np.exp(-((hours - 16) ** 2) / 8.0))


@pytest.fixture
def grid(db):
    utility = UtilityFactory(timezone="UTC", capacity_kw=500.0)
    feeders = [FeederFactory(utility=utility), FeederFactory(utility=utility)]
    rng = np.random.default_rng(5)
    buildings = []
    for i in range(12):
        buildings.append(
            BuildingFactory(
                utility=utility, feeder=feeders[i % 2], curtailable_kw=10.0 + 2 * i,
                building_type=BuildingType.OFFICE if i % 3 else BuildingType.RESIDENTIAL,
                max_setpoint_change_c=3.0 if i % 4 else 2.0, enrolled=True,
                enrolled_on=date(2026, 1, 1), consent_by="facility manager",
            )
        )  # fmt: skip
    first = EVENT_DAY - timedelta(days=HISTORY_DAYS)
    days = [first + timedelta(days=d) for d in range(HISTORY_DAYS)]
    for building in buildings:
        profile = daily_profile(building.curtailable_kw)
        load = profile[None, :] * rng.normal(1.0, 0.03, size=(HISTORY_DAYS, 24))
        meter_days_upsert(
            building_ids=np.full(HISTORY_DAYS, building.pk), days=days, kwh=load, origin="uploaded"
        )
    series_days_upsert(
        utility=utility, series=SeriesDay.Series.TEMPERATURE_C, days=days + [EVENT_DAY],
        values=np.full((HISTORY_DAYS + 1, 24), 31.0), origin="uploaded",
    )  # fmt: skip
    return {"utility": utility, "buildings": buildings, "feeders": feeders, "first": first}


def event_window(start_hour: int = 15, hours: int = 3):
    starts = datetime(
        EVENT_DAY.year, EVENT_DAY.month, EVENT_DAY.day, start_hour, tzinfo=ZoneInfo("UTC")
    )
    return starts, starts + timedelta(hours=hours)


def forecast_for_event_day(grid, high_by: float) -> None:
    """A complete forecast run for the event day whose P50 is `high_by` above every building's
    usual day (the day's shared forecast error)."""
    run = ForecastRun.objects.create(
        utility=grid["utility"], day=EVENT_DAY, status=ForecastRun.Status.COMPLETE, chunks_total=1
    )
    for building in grid["buildings"]:
        p50 = (daily_profile(building.curtailable_kw) * (1 + high_by)).astype("<f4")
        BuildingForecast.objects.create(
            run=run, building=building, method=BuildingForecast.Method.LSTM,
            p10_kw=(p50 * 0.9).tobytes(), p50_kw=p50.tobytes(), p90_kw=(p50 * 1.1).tobytes(),
            mean_kw=p50.tobytes(), peak_p50_kw=float(p50.max()),
        )  # fmt: skip


def morning_of_the_event(grid, forecast_high_by: float) -> None:
    """The day's forecast, `forecast_high_by` off for everyone, and the day's readings as
    usual (the revisit reads only the hours before the event)."""
    forecast_for_event_day(grid, high_by=forecast_high_by)
    buildings = grid["buildings"]
    meter_days_upsert(
        building_ids=np.array([b.pk for b in buildings]), days=[EVENT_DAY] * len(buildings),
        kwh=np.stack([daily_profile(b.curtailable_kw) for b in buildings]), origin="uploaded",
    )  # fmt: skip


def need_on_the_day(grid, kw: float) -> None:
    """Set the utility's capacity so that the day's true peak over the window is `kw` above
    the HIGH threshold (80 % of capacity)."""
    peak = sum(daily_profile(b.curtailable_kw)[15:18] for b in grid["buildings"]).max()
    utility = grid["utility"]
    utility.capacity_kw = (peak - kw) / 0.8
    utility.save()


def past_days_off(grid, by: float, from_hour: int, days: int = 10) -> np.ndarray:
    """The last `days` days before EVENT_DAY, each forecast as every building's usual day and
    read `by` off it (high and low by turns) from `from_hour` on; the usual days, (b, 24)."""
    buildings = grid["buildings"]
    profiles = np.stack([daily_profile(b.curtailable_kw) for b in buildings])
    for back in range(1, days + 1):
        day = EVENT_DAY - timedelta(days=back)
        off = by if back % 2 else -by
        meter_days_upsert(
            building_ids=np.array([b.pk for b in buildings]), days=[day] * len(buildings),
            kwh=profiles * np.where(np.arange(24) >= from_hour, 1 + off, 1.0), origin="uploaded",
        )  # fmt: skip
        run = ForecastRun.objects.create(
            utility=grid["utility"], day=day, status=ForecastRun.Status.COMPLETE, chunks_total=1
        )
        for building, p50 in zip(buildings, profiles.astype("<f4"), strict=True):
            BuildingForecast.objects.create(
                run=run, building=building, method=BuildingForecast.Method.LSTM,
                p10_kw=p50.tobytes(), p50_kw=p50.tobytes(), p90_kw=p50.tobytes(),
                mean_kw=p50.tobytes(), peak_p50_kw=float(p50.max()),
            )  # fmt: skip
    return profiles
