"""A utility built from nothing with the commands the README gives a newcomer: its owner, its
buildings, a year of readings across both daylight-saving changes, measured weather, day-ahead
forecasts for part of the year, its country's and region's holidays; then it trains, forecasts
48 hours across a 25-hour day, and its model record names the temperature forecast it used."""

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import call_command

from forecasting.models import ForecastModel, ForecastRun, GridStatusHour, MeterDay, SeriesDay
from forecasting.selectors import utility_holidays
from stakeholders.models import Building, Utility

pytestmark = pytest.mark.django_db

NAME = "Prairie Power"
OWNER = "Lakeside Properties"
TZ = ZoneInfo("America/Chicago")
FIRST = date(2025, 10, 20)  # the readings cross 2025-11-02 (fall back) and 2026-03-08 (spring)
LAST = date(2026, 10, 30)
FORECASTS_FROM = date(2026, 6, 1)  # day-ahead temperature forecasts exist from here on only
BUILDINGS = 5


def hours() -> list[datetime]:
    """Every hour from FIRST to LAST in local time, as aware moments (the zone's real hours)."""
    start = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=TZ).astimezone(ZoneInfo("UTC"))
    end = datetime(LAST.year, LAST.month, LAST.day, tzinfo=TZ) + timedelta(days=1)
    count = int((end.astimezone(ZoneInfo("UTC")) - start).total_seconds() // 3600)
    return [(start + timedelta(hours=h)).astimezone(TZ) for h in range(count)]


def write_files(folder) -> dict:
    rng = np.random.default_rng(3)
    moments = hours()
    day_of_year = np.array([m.timetuple().tm_yday for m in moments])
    hour = np.array([m.hour for m in moments])
    temperature = (
        12
        - 14 * np.cos(2 * np.pi * (day_of_year - 20) / 365)
        - 5 * np.cos(2 * np.pi * (hour - 3) / 24)
    ) + rng.normal(0, 1.0, len(moments))
    files = {
        name: folder / f"{name}.csv" for name in ("buildings", "readings", "weather", "forecasts")
    }
    files["buildings"].write_text(
        "code,name,building_type,floor_area_m2,tariff_usd_per_kwh,carbon_kg_per_kwh,"
        "curtailable_kw,feeder\n"
        + "".join(
            f"PP-{b:02d},Lakeside block {b},office,{1200 + 100 * b},0.18,0.42,{20 + b},"
            f"{'North' if b % 2 else 'South'}\n"
            for b in range(BUILDINGS)
        ),
        encoding="utf-8",
    )
    with files["weather"].open("w") as out:
        out.write("timestamp,temperature_c,humidity_pct\n")
        for moment, value in zip(moments, temperature, strict=True):
            out.write(f"{moment.isoformat()},{value:.1f},{60 + 20 * np.sin(value / 9):.0f}\n")
    with files["forecasts"].open("w") as out:
        out.write("timestamp,temperature_c\n")
        for moment, value in zip(moments, temperature, strict=True):
            if moment.date() >= FORECASTS_FROM:
                out.write(f"{moment.isoformat()},{value + rng.normal(0, 1.5):.1f}\n")
    working = ((hour >= 8) & (hour < 18)).astype(float)
    weekday = np.array([m.weekday() < 5 for m in moments], dtype=float)
    with files["readings"].open("w") as out:
        out.write("building_code,timestamp,kwh\n")
        for b in range(BUILDINGS):
            load = (
                20
                + 3 * b
                + 25 * working * weekday
                + 1.2 * np.maximum(temperature - 20, 0)
                + rng.normal(0, 1.5, len(moments))
            )
            out.writelines(
                f"PP-{b:02d},{moment.isoformat()},{value:.2f}\n"
                for moment, value in zip(moments, np.maximum(load, 0), strict=True)
            )
    return files


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def test_a_new_utility_from_nothing_trains_and_forecasts_48_hours_honestly(tmp_path):
    files = write_files(tmp_path)
    # The README's "Importing data", step by step.
    run(
        "create_utility", NAME, timezone="America/Chicago", capacity_kw=400, country="US",
        region="IL", feeder=["North=250", "South=250"], holiday=["2026-08-14=Grid drill day"],
    )  # fmt: skip
    run("create_organization", OWNER)
    assert "Imported 5 building(s)." in run(
        "import_buildings", str(files["buildings"]), utility=NAME, owner=OWNER
    )
    assert "Outdoor temperature" in run("import_weather", str(files["weather"]), utility=NAME)
    assert "Day-ahead temperature forecast" in run(
        "import_weather", str(files["forecasts"]), utility=NAME, forecasts=True
    )
    imported = run("import_readings", str(files["readings"]), utility=NAME)
    assert f"for {BUILDINGS} building(s)" in imported
    trained = run("train_forecast_model", utility=NAME, epochs=3, max_steps=40)
    forecast = run("forecast", utility=NAME, day=date(2026, 10, 31), hours=48)

    utility = Utility.objects.get(name=NAME)
    assert (utility.timezone, utility.country, utility.region) == ("America/Chicago", "US", "IL")
    assert Building.objects.filter(utility=utility).count() == BUILDINGS
    # Both daylight-saving days are stored whole: 23 hours in spring, 25 in the fall.
    spring = MeterDay.objects.get(building__code="PP-00", day=date(2026, 3, 8))
    fall = MeterDay.objects.get(building__code="PP-00", day=date(2025, 11, 2))
    assert (spring.hours_present, spring.repeated_kwh) == (23, None)
    assert (fall.hours_present, fall.repeated_kwh is not None) == (24, True)
    assert (
        SeriesDay.objects.filter(utility=utility, series=SeriesDay.Series.TEMPERATURE_FORECAST_C)
        .earliest("day")
        .day
        == FORECASTS_FROM
    )
    # Its own holidays: Illinois' Lincoln's Birthday, the observed Fourth, the program's day.
    holidays = utility_holidays(utility=utility, years=[2026])
    assert {date(2026, 2, 12), date(2026, 7, 3), date(2026, 8, 14)} <= holidays
    # The model names the temperature forecast it was scored with: stored ones from June,
    # the named stand-in before; never a day's measured temperature as its own forecast.
    model = ForecastModel.objects.get(utility=utility)
    source = model.metrics["temperature_forecast"]
    assert source["source"] in {"mixed", "stored", "previous_day"}
    assert source["label"] in trained
    assert "Temperature forecast:" in trained
    assert "7-day mean" in trained
    # 48 hours from 31 October's midnight: 24 on the 31st and 25 on 1 November.
    run_ = ForecastRun.objects.get(utility=utility)
    grid = GridStatusHour.objects.filter(run=run_, feeder__isnull=True).order_by("starts_at")
    assert grid.count() == 49
    moments = [hour.starts_at for hour in grid]
    assert all(b - a == timedelta(hours=1) for a, b in zip(moments, moments[1:], strict=False))
    assert moments[0] == datetime(2026, 10, 31, tzinfo=TZ)
    assert "49 hours from Sat 31 Oct 00:00 CDT" in forecast
