"""Importing the CityLearn 2022 homes (DATA.md) as the buildings of a utility: the year on its
own dates, or replayed onto dates around today for the demo (citylearn.Replay)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from stakeholders.models import Building, BuildingType, DataOrigin, Organization
from stakeholders.services import (
    building_upsert,
    feeder_ensure,
    organization_ensure,
    utility_ensure,
)

from .. import citylearn
from ..models import MeterDay, SeriesDay
from .readings import meter_days_upsert, series_days_upsert

# The year replayed onto dates around today: the demo's utility. Pages that show it say so
# with REPLAY_LABEL (stakeholders.portal.snapshots reads both).
DEMO_UTILITY = "Fontana Municipal Utility (replay of CityLearn 2022 homes)"
# What every page that shows the demo utility says of its data.
REPLAY_LABEL = (
    "Replay of CityLearn 2022 data: 17 real homes in Fontana, CA, moved onto dates around today."
)
# The year on its own dates (Aug 2016 - Jul 2017): import_citylearn, the tests, the benchmarks.
CITYLEARN_UTILITY = "Fontana Municipal Utility (CityLearn 2022 homes)"
DEMO_TIMEZONE = "America/Los_Angeles"  # Fontana, California
DEMO_FEEDER = "Fontana F1"
# Hours ending 16-20 carry the tariff's peak price: the window a DR program would target.
PEAK_HOURS = slice(15, 20)
# A home can shed about this share of its usual peak-window load (thermostat, pool pump, EV):
# cooling is most of a Fontana summer afternoon (the season simulator's enrolment audit takes
# 75 % of its peak days' afternoon, optimization.simulator.FLEXIBLE_SHARE). The optimizer asks
# 10-30 % of it, within each home's comfort limit.
CURTAILABLE_SHARE = 0.6
# The demo enrolment's terms: a summer program calls up to this many events a month.
EVENTS_PER_MONTH = 8

Progress = Callable[[float, str], None]


def citylearn_load(*, cache_dir: Path | None = None) -> citylearn.CityLearnData:
    """Fetch the wheel into the cache when absent and read the data set out of it."""
    return citylearn.read(citylearn.wheel_path(cache_dir or settings.DATA_CACHE_DIR))


def _weighted(series: np.ndarray, load: np.ndarray) -> float:
    return float((series * load).sum() / load.sum())


def replay_now(*, data: citylearn.CityLearnData, now: datetime | None = None) -> citylearn.Replay:
    """The replay for `now` (default: the present) on the demo utility's wall clock."""
    local = (now or timezone.now()).astimezone(ZoneInfo(DEMO_TIMEZONE))
    return citylearn.replay_at(data.load_kwh, local.replace(tzinfo=None))


def replay_stored(*, replay: citylearn.Replay) -> bool:
    """Whether the demo utility's readings already lie on this replay's dates."""
    stored = MeterDay.objects.filter(building__utility__name=DEMO_UTILITY)
    return stored.aggregate(day=Min("day"))["day"] == replay.start.date()


@transaction.atomic
def citylearn_store(
    *,
    data: citylearn.CityLearnData,
    progress: Progress | None = None,
    replay: citylearn.Replay | None = None,
    keep_past: bool = False,
    capacity_kw: float | None = None,
) -> dict[str, int | float]:
    """Create or refresh a utility of the 17 homes, their readings and the series.

    Without `replay`: CITYLEARN_UTILITY, the year on its own dates. With it: DEMO_UTILITY, the
    year on the replay's dates, and of it only what lies before `replay.now`: the readings and
    measured series up to the hour in progress, the day-ahead temperature forecast and the
    tariff (known in advance) to the end of tomorrow. The utility's readings are all replaced,
    or with `keep_past` (the same replay, later in its day) only those from the latest stored
    day on, so that what was written since into earlier days (a past event's simulated
    response) stays.

    Figures derived from the data, not typed in: the utility's capacity (unless `capacity_kw`
    is given) is the year's peak of the 17-home total (so its worst hours reach CRITICAL); each
    home's tariff and carbon factor are its load-weighted average price and intensity; its
    curtailable kW is CURTAILABLE_SHARE of its 90th-percentile load in the peak hours. A home is
    owned by its household when created; a refresh keeps whoever owns it now.
    """
    total = data.load_kwh.sum(axis=0)
    capacity_kw = capacity_kw or math.ceil(float(total.max()))
    name = CITYLEARN_UTILITY if replay is None else DEMO_UTILITY
    utility = utility_ensure(
        name=name,
        capacity_kw=capacity_kw,
        timezone=DEMO_TIMEZONE,
        country=citylearn.COUNTRY,
        region=citylearn.REGION,
    )
    feeder = feeder_ensure(utility=utility, name=DEMO_FEEDER, capacity_kw=capacity_kw)
    start = citylearn.START if replay is None else replay.start
    days, daily = citylearn.to_days(data.load_kwh, start)
    peak_window = daily[:, :, PEAK_HOURS]
    owners = dict(Building.objects.filter(utility=utility).values_list("code", "owner"))
    building_ids = []
    for home in range(citylearn.HOMES):
        number = home + 1
        code = f"CL22-{number:02d}"
        owner = (
            Organization.objects.get(pk=owners[code])
            if code in owners
            else organization_ensure(
                name=f"Fontana home {number} household", kind=Organization.Kind.BUILDING_OWNER
            )
        )
        load = data.load_kwh[home]
        building = building_upsert(
            utility=utility,
            owner=owner,
            code=code,
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
            max_events_per_month=EVENTS_PER_MONTH,
            enrolled=True,
            enrolled_on=start.date(),
            consent_by="CityLearn 2022 data set (demo enrolment)",
            origin=DataOrigin.MEASURED,
        )
        building_ids.append(building.pk)
    if progress:
        progress(40, "homes created")
    written = _readings_store(utility, building_ids, days, daily, replay, keep_past)
    if progress:
        progress(80, "readings stored")
    series_days = 0
    ahead = None if replay is None else replay.now.replace(hour=0) + timedelta(days=2)
    for series, values, until in (
        (SeriesDay.Series.TEMPERATURE_C, data.temperature_c, None),
        # Hour t of this series is the forecast for t made 24 h before (the first day has none).
        (
            SeriesDay.Series.TEMPERATURE_FORECAST_C,
            np.concatenate([np.full(24, np.nan), data.temperature_forecast_24h_c[:-24]]),
            ahead,
        ),
        (SeriesDay.Series.HUMIDITY_PCT, data.humidity_pct, None),
        (SeriesDay.Series.PRICE_USD_PER_KWH, data.price_usd_per_kwh, ahead),
        (SeriesDay.Series.CARBON_KG_PER_KWH, data.carbon_kg_per_kwh, None),
    ):
        values = citylearn.to_days(values, start)[1]
        if replay is not None:
            values = replay.past(days, values, until=until)
        series_days += series_days_upsert(
            utility=utility, series=series, days=days, values=values, origin=DataOrigin.MEASURED
        )
    counts: dict[str, int | float] = {
        "buildings": citylearn.HOMES,
        "meter_days": written["meter_days"],
        "hours": written["hours"],
        "series_days": series_days,
        "capacity_kw": capacity_kw,
    }
    if replay is not None:
        counts["shift_days"] = replay.shift_days
    return counts


def _readings_store(utility, building_ids, days, daily, replay, keep_past) -> dict[str, int]:
    """Write the homes' readings (17, n_days, 24): all of them, or a replay's past (see
    citylearn_store)."""
    if replay is not None:
        daily = replay.past(days, daily)
        stored = MeterDay.objects.filter(building__utility=utility)
        latest = stored.aggregate(day=Max("day"))["day"]
        if keep_past and latest is not None:
            keep = [position for position, day in enumerate(days) if day >= latest]
            days, daily = [days[p] for p in keep], daily[:, keep]
        else:
            stored.delete()
            SeriesDay.objects.filter(utility=utility).delete()
    ids = np.repeat(np.array(building_ids), len(days))
    meter_days = meter_days_upsert(
        building_ids=ids,
        days=days * citylearn.HOMES,
        kwh=daily.reshape(-1, 24),
        origin=DataOrigin.MEASURED,
    )
    return {"meter_days": meter_days, "hours": int(np.isfinite(daily).sum())}
