"""A small utility with three weeks of readings and a simulated event on its last day."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from forecasting.models import SeriesDay
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
