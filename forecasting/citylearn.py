"""The CityLearn 2022 challenge data set, read straight out of the CityLearn 2.1.2 wheel.

17 single-family homes in Fontana, California: one year of hourly metered demand, with weather,
time-of-use prices and carbon intensity (MIT licence; DATA.md). The wheel is fetched with
`pip download` into a cache folder and never installed. Pure Python / numpy, no Django.

Calendar: row 0 is hour-ending 24 of a Sunday; with interval-start timestamps the series starts
at 2016-07-31 23:00 (a nominal year: no DST, no holidays flagged).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

WHEEL_REQUIREMENT = "CityLearn==2.1.2"
WHEEL_NAME = "CityLearn-2.1.2-py3-none-any.whl"
DATASET_DIR = "citylearn/data/citylearn_challenge_2022_phase_all/"
HOMES = 17
HOURS = 8760
START = datetime(2016, 7, 31, 23, 0)
COUNTRY, REGION = "US", "CA"  # Fontana, California: whose public holidays the homes keep
LOAD_COLUMN = "Equipment Electric Power [kWh]"


class CityLearnError(RuntimeError):
    """The wheel could not be fetched or does not hold what we expect."""


@dataclass(frozen=True)
class CityLearnData:
    """Hourly arrays, index i = START + i hours (interval start)."""

    load_kwh: np.ndarray  # (17, 8760) float64, whole-home metered load
    temperature_c: np.ndarray  # (8760,)
    temperature_forecast_24h_c: np.ndarray  # (8760,) value i: forecast made at i for i + 24
    humidity_pct: np.ndarray  # (8760,)
    price_usd_per_kwh: np.ndarray  # (8760,)
    carbon_kg_per_kwh: np.ndarray  # (8760,)
    pv_kw: np.ndarray  # (17,) installed PV
    battery_kwh: np.ndarray  # (17,) battery capacity
    licence: str


def wheel_path(cache_dir: Path) -> Path:
    """The wheel in `cache_dir`, downloaded with pip when absent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / WHEEL_NAME
    if path.exists():
        return path
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
        "--dest", str(cache_dir), WHEEL_REQUIREMENT,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not path.exists():
        raise CityLearnError(
            f"pip could not download {WHEEL_REQUIREMENT} into {cache_dir}: "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    return path


def _column(zf: zipfile.ZipFile, name: str, column: str | int) -> np.ndarray:
    with zf.open(DATASET_DIR + name) as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8"))
        header = next(reader)
        index = column if isinstance(column, int) else header.index(column)
        values = np.array([float(row[index]) for row in reader], dtype=np.float64)
    if values.shape != (HOURS,):
        raise CityLearnError(f"{name}: expected {HOURS} hourly rows, found {values.shape[0]}")
    if np.isnan(values).any():
        raise CityLearnError(f"{name}: column {column!r} has gaps")
    return values


def read(wheel: Path) -> CityLearnData:
    """All 17 homes and the shared series, checked for shape and gaps."""
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, FileNotFoundError) as exc:
        raise CityLearnError(f"{wheel} is not a readable wheel: {exc}") from None
    with zf:
        schema = json.loads(zf.read(DATASET_DIR + "schema.json"))
        buildings = [f"Building_{number}" for number in range(1, HOMES + 1)]
        load = np.stack([_column(zf, f"{name}.csv", LOAD_COLUMN) for name in buildings])
        return CityLearnData(
            load_kwh=load,
            temperature_c=_column(zf, "weather.csv", "Outdoor Drybulb Temperature [C]"),
            temperature_forecast_24h_c=_column(
                zf, "weather.csv", "24h Prediction Outdoor Drybulb Temperature [C]"
            ),
            humidity_pct=_column(zf, "weather.csv", "Relative Humidity [%]"),
            price_usd_per_kwh=_column(zf, "pricing.csv", "Electricity Pricing [$/kWh]"),
            carbon_kg_per_kwh=_column(zf, "carbon_intensity.csv", 0),
            pv_kw=np.array(
                [schema["buildings"][b]["pv"]["attributes"]["nominal_power"] for b in buildings]
            ),
            battery_kwh=np.array(
                [
                    schema["buildings"][b]["electrical_storage"]["attributes"]["capacity"]
                    for b in buildings
                ]
            ),
            licence=zf.read("CityLearn-2.1.2.dist-info/LICENSE").decode().splitlines()[0],
        )


def to_days(hourly: np.ndarray, start: datetime = START) -> tuple[list, np.ndarray]:
    """Hourly values from `start` -> (calendar days, (..., n_days, 24) with NaN outside the data).

    The first and last days are partial when `start` is not midnight.
    """
    offset = start.hour
    total = offset + hourly.shape[-1]
    n_days = -(-total // 24)
    padded = np.full((*hourly.shape[:-1], n_days * 24), np.nan)
    padded[..., offset : offset + hourly.shape[-1]] = hourly
    first = start.date()
    days = [first + timedelta(days=d) for d in range(n_days)]
    return days, padded.reshape(*hourly.shape[:-1], n_days, 24)


# A replay keeps at least this many days of the year before the day it puts tomorrow: enough for
# the forecasting model to train on (forecasting.services.models) and the last weeks to show.
REPLAY_MIN_HISTORY_DAYS = 240


@dataclass(frozen=True)
class Replay:
    """The year moved onto other dates: data hour i is wall-clock hour START + shift_days + i.

    `now` (naive, the utility's wall clock, on the hour) divides the replay: the hours before it
    are the past, written as readings; the hour in progress and those after are the future,
    which no meter has sent yet. Whole days, so each hour keeps its weekday and time of day."""

    shift_days: int
    now: datetime

    @property
    def start(self) -> datetime:
        return START + timedelta(days=self.shift_days)

    @property
    def today(self) -> date:
        return self.now.date()

    def days(self, hourly: np.ndarray) -> tuple[list[date], np.ndarray]:
        """to_days on the replay's dates: (days, (..., n_days, 24)), NaN outside the data."""
        return to_days(hourly, self.start)

    def past(self, days: list[date], daily: np.ndarray, *, until: datetime | None = None):
        """`daily` (..., n_days, 24) with the hours from `until` (default: now) on set to NaN."""
        until = until or self.now
        out = np.array(daily, dtype=np.float64, copy=True)
        for position, day in enumerate(days):
            if day > until.date():
                out[..., position, :] = np.nan
            elif day == until.date():
                out[..., position, until.hour :] = np.nan
        return out


def daily_peaks(load_kwh: np.ndarray) -> tuple[list[date], np.ndarray]:
    """Each nominal day's peak of the homes' total, kW (NaN for the two partial days)."""
    days, daily = to_days(load_kwh)
    total = daily.sum(axis=0)  # NaN in any hour outside the data
    complete = np.isfinite(total).all(axis=1)
    peaks = np.full(len(days), np.nan)
    peaks[complete] = total[complete].max(axis=1)
    return days, peaks


def replay_at(load_kwh: np.ndarray, now: datetime) -> Replay:
    """The replay whose tomorrow (the day after `now`, a naive local time) is the year's most
    strained day on tomorrow's weekday: the highest peak of the homes' total among the days with
    REPLAY_MIN_HISTORY_DAYS before them and a day after. Matching the weekday keeps the data's
    weekdays on the calendar's (its Day Type column), so only a whole number of weeks moves."""
    tomorrow = now.date() + timedelta(days=1)
    days, peaks = daily_peaks(load_kwh)
    candidates = [
        i
        for i in range(REPLAY_MIN_HISTORY_DAYS, len(days) - 1)
        if days[i].weekday() == tomorrow.weekday() and np.isfinite(peaks[i])
    ]
    strained = max(candidates, key=lambda i: peaks[i])
    return Replay(
        shift_days=(tomorrow - days[strained]).days,
        now=now.replace(minute=0, second=0, microsecond=0, tzinfo=None),
    )
