"""Importing the CityLearn 2022 homes (DATA.md) as the buildings of one demo utility."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from stakeholders.models import BuildingType, DataOrigin, Organization
from stakeholders.services import (
    building_upsert,
    feeder_ensure,
    organization_ensure,
    utility_ensure,
)

from .. import citylearn
from ..models import SeriesDay
from .readings import meter_days_upsert, series_days_upsert

DEMO_UTILITY = "Fontana Municipal Utility (CityLearn 2022 homes)"
# What every page that shows the demo utility says of its data.
REPLAY_LABEL = "Replay of CityLearn 2022 data: 17 real homes in Fontana, CA, moved onto dates around today."
DEMO_FEEDER = "Fontana F1"
# Hours ending 16-20 carry the tariff's peak price: the window a DR program would target.
PEAK_HOURS = slice(15, 20)
# A home can shed about this share of its usual peak-window load (thermostat, pool pump, EV).
CURTAILABLE_SHARE = 0.3

Progress = Callable[[float, str], None]


def citylearn_load(*, cache_dir: Path | None = None) -> citylearn.CityLearnData:
    """Fetch the wheel into the cache when absent and read the data set out of it."""
    return citylearn.read(citylearn.wheel_path(cache_dir or settings.DATA_CACHE_DIR))


def _weighted(series: np.ndarray, load: np.ndarray) -> float:
    return float((series * load).sum() / load.sum())


@transaction.atomic
def citylearn_store(
    *, data: citylearn.CityLearnData, progress: Progress | None = None
) -> dict[str, int | float]:
    """Create or refresh the demo utility, its 17 homes, their readings and the series.

    Figures derived from the data, not typed in: the utility's capacity is the year's peak of
    the 17-home total (so its worst hours reach CRITICAL); each home's tariff and carbon factor
    are its load-weighted average price and intensity; its curtailable kW is CURTAILABLE_SHARE of
    its 90th-percentile load in the peak hours.
    """
    total = data.load_kwh.sum(axis=0)
    capacity_kw = math.ceil(float(total.max()))
    utility = utility_ensure(name=DEMO_UTILITY, capacity_kw=capacity_kw)
    feeder = feeder_ensure(utility=utility, name=DEMO_FEEDER, capacity_kw=capacity_kw)
    days, daily = citylearn.to_days(data.load_kwh)
    peak_window = daily[:, :, PEAK_HOURS]
    building_ids = []
    for home in range(citylearn.HOMES):
        number = home + 1
        owner = organization_ensure(
            name=f"Fontana home {number} household", kind=Organization.Kind.BUILDING_OWNER
        )
        load = data.load_kwh[home]
        building = building_upsert(
            utility=utility,
            owner=owner,
            code=f"CL22-{number:02d}",
            name=f"Fontana home {number}",
            feeder=feeder,
            building_type=BuildingType.RESIDENTIAL,
            floor_area_m2=None,
            tariff_usd_per_kwh=round(_weighted(data.price_usd_per_kwh, load), 4),
            carbon_kg_per_kwh=round(_weighted(data.carbon_kg_per_kwh, load), 4),
            curtailable_kw=round(
                CURTAILABLE_SHARE * float(np.nanpercentile(peak_window[home], 90)), 3
            ),
            pv_kw=float(data.pv_kw[home]),
            battery_kwh=float(data.battery_kwh[home]),
            enrolled=True,
            enrolled_on=citylearn.START.date(),
            consent_by="CityLearn 2022 data set (demo enrolment)",
            origin=DataOrigin.MEASURED,
        )
        building_ids.append(building.pk)
    if progress:
        progress(40, "homes created")
    ids = np.repeat(np.array(building_ids), len(days))
    meter_days = meter_days_upsert(
        building_ids=ids,
        days=days * citylearn.HOMES,
        kwh=daily.reshape(-1, 24),
        origin=DataOrigin.MEASURED,
    )
    if progress:
        progress(80, "readings stored")
    series_days = 0
    for series, values in (
        (SeriesDay.Series.TEMPERATURE_C, data.temperature_c),
        # Hour t of this series is the forecast for t made 24 h before (the first day has none).
        (
            SeriesDay.Series.TEMPERATURE_FORECAST_C,
            np.concatenate([np.full(24, np.nan), data.temperature_forecast_24h_c[:-24]]),
        ),
        (SeriesDay.Series.HUMIDITY_PCT, data.humidity_pct),
        (SeriesDay.Series.PRICE_USD_PER_KWH, data.price_usd_per_kwh),
        (SeriesDay.Series.CARBON_KG_PER_KWH, data.carbon_kg_per_kwh),
    ):
        series_days += series_days_upsert(
            utility=utility,
            series=series,
            days=days,
            values=citylearn.to_days(values)[1],
            origin=DataOrigin.MEASURED,
        )
    return {
        "buildings": citylearn.HOMES,
        "meter_days": meter_days,
        "hours": int(np.isfinite(daily).sum()),
        "series_days": series_days,
        "capacity_kw": capacity_kw,
    }
