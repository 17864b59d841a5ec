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
from datetime import datetime
from pathlib import Path

import numpy as np

WHEEL_REQUIREMENT = "CityLearn==2.1.2"
WHEEL_NAME = "CityLearn-2.1.2-py3-none-any.whl"
DATASET_DIR = "citylearn/data/citylearn_challenge_2022_phase_all/"
HOMES = 17
HOURS = 8760
START = datetime(2016, 7, 31, 23, 0)
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
    from datetime import timedelta

    offset = start.hour
    total = offset + hourly.shape[-1]
    n_days = -(-total // 24)
    padded = np.full((*hourly.shape[:-1], n_days * 24), np.nan)
    padded[..., offset : offset + hourly.shape[-1]] = hourly
    first = start.date()
    days = [first + timedelta(days=d) for d in range(n_days)]
    return days, padded.reshape(*hourly.shape[:-1], n_days, 24)
