"""Import benchmark: the 17 CityLearn homes (a year, hourly) on SQLite and on PostgreSQL,
100,000 synthetic buildings x 14 days into PostgreSQL (SQLite when PostgreSQL is absent), and a
50 MB buildings CSV and a 50 MB readings CSV through the import commands (5 MB with --quick), on
PostgreSQL (in a database of their own, emptied each run) and on SQLite.

    python bench/import_data.py [--quick] [--file-mb MB]

Prints a table, then one JSON line: homes_import_s, synthetic_buildings, synthetic_days,
synthetic_rows_per_s (building-days per second), synthetic_peak_mb, and for each file
(buildings_file_*, readings_file_*) its mb, rows, s, rows_per_s and peak_mb (peak resident MB of
the importing process; the goal is under 500), with _sqlite_ figures beside them.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from _common import POSTGRES_BENCH_URL, PeakMemory, postgres_available, setup_django


def run_part(part: str, database_url: str, args: list[str]) -> dict:
    """Each measurement runs in its own process: a fresh Django, a fresh memory baseline."""
    command = [sys.executable, __file__, "--part", part, "--database-url", database_url, *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{part} on {database_url} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def part_homes() -> dict:
    from forecasting.services.citylearn_import import citylearn_load, citylearn_store

    data = citylearn_load()  # reading the wheel is not part of the import's time
    started = time.perf_counter()
    counts = citylearn_store(data=data)
    return {
        "seconds": time.perf_counter() - started,
        "hours": counts["hours"],
        "meter_days": counts["meter_days"],
    }


def part_synthetic(buildings: int, days: int) -> dict:
    from django.db import connection

    from forecasting import citylearn
    from forecasting.models import MeterDay
    from forecasting.services.citylearn_import import citylearn_load
    from forecasting.services.synthetic import synthetic_buildings_create, synthetic_readings_write
    from forecasting.synthetic import synthetic_spec
    from stakeholders.models import Building
    from stakeholders.services import utility_ensure

    data = citylearn_load()
    utility = utility_ensure(
        name="Synthetic scale-test utility (synthetic)",
        capacity_kw=1e6,
        timezone="America/Los_Angeles",
        country="US",
    )
    MeterDay.objects.filter(building__utility=utility).delete()
    Building.objects.filter(utility=utility).delete()
    spec = synthetic_spec(buildings, profiles=citylearn.HOMES, seed=7)
    mean_kw = data.load_kwh.mean(axis=1)[spec.source] * spec.scale
    started = time.perf_counter()
    ids = synthetic_buildings_create(
        utility=utility,
        spec=spec,
        feeders=200,
        tariff_usd_per_kwh=0.3,
        carbon_kg_per_kwh=0.16,
        mean_kw=mean_kw,
    )
    buildings_s = time.perf_counter() - started
    first_hour = 24 * 180 + 1  # a summer fortnight, starting at midnight of day 181
    with PeakMemory() as memory:
        started = time.perf_counter()
        rows = synthetic_readings_write(
            building_ids=ids,
            spec=spec,
            profiles=data.load_kwh,
            first_day=citylearn.START.date(),
            first_hour=first_hour,
            days=days,
        )
        seconds = time.perf_counter() - started
    stored = MeterDay.objects.filter(building__utility=utility).count()
    assert stored == rows == buildings * days, (stored, rows)
    return {
        "vendor": connection.vendor,
        "buildings_s": buildings_s,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "values_per_s": rows * 24 / seconds,
        "peak_mb": memory.peak_mb,
        "baseline_mb": memory.baseline_mb,
        "mean_building_kw": float(np.mean(mean_kw)),
    }


FILES_DATABASE = "energyrec_bench_files"
ZONE = "America/Chicago"
FALL_BACK_DAY = date(2026, 11, 1)  # America/Chicago repeats 01:00, first at -05:00 then -06:00
OWNER = "Bench file-import owner (synthetic)"
BUILDINGS_UTILITY = "Bench buildings-file utility (synthetic)"
READINGS_UTILITY = "Bench readings-file utility (synthetic)"
FEEDERS = [f"F{number:02d}" for number in range(1, 61)]
FEEDER_KW = 50_000
BUILDING_TYPES = [
    "residential", "office", "retail", "school", "hospital", "warehouse", "restaurant", "hotel",
]  # fmt: skip
TYPE_SHARES = [0.70, 0.08, 0.07, 0.03, 0.01, 0.04, 0.04, 0.03]
TYPICAL_AREA_M2 = [150, 4_000, 2_500, 6_000, 20_000, 8_000, 400, 9_000]
STREETS = [
    "Oak Street", "Maple Avenue", "Lake Shore Drive", "Halsted Street", "Archer Avenue",
    "Prairie Avenue", "Cicero Avenue", "Western Avenue",
]  # fmt: skip
CONSENTERS = ["Maria Garcia", "James Johnson", "Mei Chen", "Olu Adeyemi", "Anna Kowalski"]
BUILDINGS_HEADER = (
    "code,name,building_type,floor_area_m2,tariff_usd_per_kwh,carbon_kg_per_kwh,curtailable_kw,"
    "feeder,pv_kw,battery_kwh,max_setpoint_change_c,max_events_per_month,enrolled_on,consent_by\n"
)
CHUNK_ROWS = 20_000
READINGS_BUILDINGS = 2_000


def _optional(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.1f}"


def _building_lines(rng, first: int, count: int) -> list[str]:
    """`count` plausible building rows (about 100 bytes each), codes from BLD{first}."""

    kind = rng.choice(len(BUILDING_TYPES), size=count, p=TYPE_SHARES)
    area = np.array(TYPICAL_AREA_M2, dtype=float)[kind] * rng.lognormal(0.0, 0.4, count)
    curtailable = area * rng.uniform(0.004, 0.012, count)
    pv = np.where(rng.random(count) < 0.3, area * rng.uniform(0.01, 0.05, count), np.nan)
    battery = np.where(rng.random(count) < 0.15, curtailable * rng.uniform(1, 3, count), np.nan)
    enrolled = rng.random(count) < 0.4
    enrolled_day = rng.integers(0, 800, count)
    columns = zip(
        range(first, first + count),
        kind.tolist(),
        np.where(rng.random(count) < 0.05, np.nan, area).tolist(),
        rng.uniform(0.09, 0.24, count).tolist(),
        rng.uniform(0.35, 0.55, count).tolist(),
        curtailable.tolist(),
        rng.integers(0, len(FEEDERS), count).tolist(),
        pv.tolist(),
        battery.tolist(),
        rng.choice([1.0, 1.5, 2.0, 2.5, 3.0], count).tolist(),
        rng.integers(2, 11, count).tolist(),
        enrolled.tolist(),
        enrolled_day.tolist(),
        strict=True,
    )
    first_enrolment = date(2024, 1, 15)
    return [
        f"BLD{code:07d},{code % 9_000 + 1} {STREETS[code % len(STREETS)]},{BUILDING_TYPES[k]},"
        f"{_optional(m2)},{tariff:.4f},{carbon:.3f},{kw:.1f},{FEEDERS[feeder]},{_optional(pv_kw)},"
        f"{_optional(kwh)},{setpoint:.1f},{events},"
        + (
            f"{first_enrolment + timedelta(days=day)},{CONSENTERS[code % len(CONSENTERS)]}\n"
            if on
            else ",\n"
        )
        for code, k, m2, tariff, carbon, kw, feeder, pv_kw, kwh, setpoint, events, on, day in columns
    ]


def buildings_csv_write(path: Path, *, size_bytes: int = 0, count: int = 0, seed: int = 11) -> int:
    """Write a buildings CSV of about `size_bytes` (or of exactly `count` rows). Returns rows."""

    rng = np.random.default_rng(seed)
    rows = written = 0
    with path.open("w", encoding="ascii", newline="", buffering=2**20) as out:
        out.write(BUILDINGS_HEADER)
        while (rows < count) if count else (written < size_bytes):
            chunk = min(CHUNK_ROWS, count - rows) if count else CHUNK_ROWS
            text = "".join(_building_lines(rng, rows, chunk))
            out.write(text)
            written += len(text)
            rows += chunk
    return rows


def local_hour_stamps(first_day: date, days: int) -> tuple[list[str], list[int]]:
    """Every hour of `days` local days from `first_day` in ZONE: its start in ISO form with the
    UTC offset of the moment (the fall-back day's repeated hour twice), and its wall-clock hour."""
    tz = ZoneInfo(ZONE)
    moment = datetime.combine(first_day, clock(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=days), clock(0), tzinfo=tz).astimezone(UTC)
    stamps, hours = [], []
    while moment < end:
        local = moment.astimezone(tz)
        stamps.append(local.isoformat())
        hours.append(local.hour)
        moment += timedelta(hours=1)
    return stamps, hours


def readings_csv_write(path: Path, *, codes: list[str], first_day: date, days: int) -> int:
    """Write hourly kWh of every building for `days` days, building by building. Returns rows."""

    rng = np.random.default_rng(13)
    stamps, hours = local_hour_stamps(first_day, days)
    shape = 1.0 + 0.5 * np.sin((np.array(hours) - 9) / 24 * 2 * np.pi)
    base_kwh = rng.lognormal(0.3, 0.8, len(codes))
    with path.open("w", encoding="ascii", newline="", buffering=2**20) as out:
        out.write("building_code,timestamp,kwh\n")
        for code, base in zip(codes, base_kwh.tolist(), strict=True):
            kwh = base * shape * rng.uniform(0.8, 1.2, len(stamps))
            out.write(
                "".join(
                    f"{code},{stamp},{value:.3f}\n"
                    for stamp, value in zip(stamps, kwh.tolist(), strict=True)
                )
            )
    return len(codes) * len(stamps)


def _directory_create(utility: str) -> None:
    """The utility, its feeders and the owner, by the product's own commands."""
    from django.core.management import call_command

    call_command(
        "create_utility", utility, timezone=ZONE, capacity_kw=len(FEEDERS) * FEEDER_KW,
        country="US", region="IL", feeder=[f"{name}={FEEDER_KW}" for name in FEEDERS],
        stdout=io.StringIO(),
    )  # fmt: skip
    call_command("create_organization", OWNER, kind="building_owner", stdout=io.StringIO())


def _file_figures(path: str, rows: int, seconds: float, memory: PeakMemory) -> dict:
    from django.db import connection

    return {
        "vendor": connection.vendor,
        "mb": Path(path).stat().st_size / 1e6,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_mb": memory.peak_mb,
        "baseline_mb": memory.baseline_mb,
    }


def part_buildings_file(csv_path: str) -> dict:
    from django.core.management import call_command

    from stakeholders.models import Building

    _directory_create(BUILDINGS_UTILITY)
    with PeakMemory() as memory:
        started = time.perf_counter()
        call_command(
            "import_buildings", csv_path, utility=BUILDINGS_UTILITY, owner=OWNER,
            stdout=io.StringIO(),
        )  # fmt: skip
        seconds = time.perf_counter() - started
    rows = Building.objects.filter(utility__name=BUILDINGS_UTILITY).count()
    with open(csv_path, encoding="ascii") as stream:
        assert rows == sum(1 for _ in stream) - 1, rows
    return _file_figures(csv_path, rows, seconds, memory)


def part_readings_file(csv_path: str, buildings_csv: str) -> dict:
    from django.core.management import call_command

    from forecasting.models import MeterDay

    _directory_create(READINGS_UTILITY)
    call_command(
        "import_buildings", buildings_csv, utility=READINGS_UTILITY, owner=OWNER,
        stdout=io.StringIO(),
    )  # fmt: skip
    with PeakMemory() as memory:
        started = time.perf_counter()
        call_command(
            "import_readings", csv_path, utility=READINGS_UTILITY, stdout=io.StringIO(),
            stderr=io.StringIO(),
        )  # fmt: skip
        seconds = time.perf_counter() - started
    with open(csv_path, encoding="ascii") as stream:
        rows = sum(1 for _ in stream) - 1
    stored = MeterDay.objects.filter(building__utility__name=READINGS_UTILITY)
    repeated = stored.filter(day=FALL_BACK_DAY, repeated_kwh__isnull=False).count()
    with open(buildings_csv, encoding="ascii") as stream:
        assert repeated == sum(1 for _ in stream) - 1, repeated
    return {**_file_figures(csv_path, rows, seconds, memory), "building_days": stored.count()}


def files_write(folder: Path, size_mb: float, quick: bool) -> dict[str, str]:
    """The CSVs the file parts import, written before anything is timed."""
    started = time.perf_counter()
    paths = {name: folder / f"{name}.csv" for name in ("buildings", "meters", "readings")}
    buildings_csv_write(paths["buildings"], size_bytes=int(size_mb * 1e6))
    meters = READINGS_BUILDINGS // 10 if quick else READINGS_BUILDINGS
    buildings_csv_write(paths["meters"], count=meters, seed=12)
    codes = [f"BLD{code:07d}" for code in range(meters)]
    row_bytes = len(f"{codes[0]},2026-10-25T00:00:00-05:00,1.234\n")
    days = math.ceil(size_mb * 1e6 / (meters * 24 * row_bytes))
    readings_csv_write(
        paths["readings"], codes=codes, first_day=FALL_BACK_DAY - timedelta(days=days // 2),
        days=days,
    )  # fmt: skip
    print(f"(files written in {time.perf_counter() - started:.1f} s, not timed)", file=sys.stderr)
    return {name: str(path) for name, path in paths.items()}


def postgres_drop(database: str) -> None:
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=3
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="10,000 synthetic buildings, 5 MB files"
    )
    parser.add_argument("--part", choices=["homes", "synthetic", "buildings_file", "readings_file"])
    parser.add_argument("--database-url")
    parser.add_argument("--buildings", type=int)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--file-mb", type=float, help="size of each CSV (50 MB, 5 with --quick)")
    parser.add_argument("--csv", help="the file a file part imports")
    parser.add_argument("--buildings-csv", help="the buildings of the readings file")
    args = parser.parse_args()
    buildings = args.buildings or (10_000 if args.quick else 100_000)
    if args.part:
        setup_django(args.database_url)
        if args.part == "homes":
            result = part_homes()
        elif args.part == "synthetic":
            result = part_synthetic(buildings, args.days)
        elif args.part == "buildings_file":
            result = part_buildings_file(args.csv)
        else:
            result = part_readings_file(args.csv, args.buildings_csv)
        print(json.dumps(result))
        return

    sqlite_url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    pg = postgres_available()
    homes = {"SQLite": run_part("homes", sqlite_url, [])}
    if pg:
        homes["PostgreSQL"] = run_part("homes", POSTGRES_BENCH_URL, [])
    synthetic = run_part(
        "synthetic",
        POSTGRES_BENCH_URL if pg else sqlite_url,
        ["--buildings", str(buildings), "--days", str(args.days)],
    )
    file_mb = args.file_mb or (5.0 if args.quick else 50.0)
    files = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = files_write(Path(folder), file_mb, args.quick)
        databases = {"SQLite": sqlite_url}
        if pg:
            postgres_drop(FILES_DATABASE)
            postgres_available(FILES_DATABASE)
            databases["PostgreSQL"] = POSTGRES_BENCH_URL.rsplit("/", 1)[0] + f"/{FILES_DATABASE}"
        for name, url in databases.items():
            files[("buildings", name)] = run_part(
                "buildings_file", url, ["--csv", paths["buildings"]]
            )
            files[("readings", name)] = run_part(
                "readings_file",
                url,
                ["--csv", paths["readings"], "--buildings-csv", paths["meters"]],
            )
        if pg:
            postgres_drop(FILES_DATABASE)
    print("CityLearn 2022 homes: 17 buildings x 8,760 h (measured data)")
    print(f"{'database':<12}{'seconds':>10}{'hourly values':>16}{'building-days':>15}")
    for name, result in homes.items():
        print(
            f"{name:<12}{result['seconds']:>10.2f}{result['hours']:>16,}{result['meter_days']:>15,}"
        )
    print()
    print(
        f"Synthetic portfolio (synthetic data): {buildings:,} buildings x {args.days} days on {synthetic['vendor']}"
    )
    print(f"  buildings created     {synthetic['buildings_s']:.1f} s")
    print(
        f"  readings written      {synthetic['rows']:,} building-days in {synthetic['seconds']:.1f} s"
    )
    print(
        f"  throughput            {synthetic['rows_per_s']:,.0f} building-days/s ({synthetic['values_per_s']:,.0f} hourly values/s)"
    )
    print(
        f"  peak memory           {synthetic['peak_mb']:.0f} MB (process baseline {synthetic['baseline_mb']:.0f} MB)"
    )
    print()
    main_database = "PostgreSQL" if pg else "SQLite"
    readings = files[("readings", main_database)]
    print(
        f"CSV files through import_buildings and import_readings (synthetic data; readings: "
        f"{readings['building_days']:,} building-days, fall-back day {FALL_BACK_DAY} included)"
    )
    print(
        f"{'file':<11}{'database':<12}{'MB':>7}{'rows':>12}{'seconds':>10}{'rows/s':>10}"
        f"{'peak MB':>9}{'baseline MB':>13}"
    )
    for (file, database), result in files.items():
        print(
            f"{file:<11}{database:<12}{result['mb']:>7.1f}{result['rows']:>12,}"
            f"{result['seconds']:>10.1f}{result['rows_per_s']:>10,.0f}{result['peak_mb']:>9.0f}"
            f"{result['baseline_mb']:>13.0f}"
        )
    file_figures = {"files_database": main_database}
    for file in ("buildings", "readings"):
        result = files[(file, main_database)]
        sqlite = files[(file, "SQLite")]
        file_figures.update(
            {
                f"{file}_file_mb": round(result["mb"], 1),
                f"{file}_file_rows": result["rows"],
                f"{file}_file_s": round(result["seconds"], 2),
                f"{file}_file_rows_per_s": round(result["rows_per_s"]),
                f"{file}_file_peak_mb": round(result["peak_mb"], 1),
                f"{file}_file_sqlite_s": round(sqlite["seconds"], 2),
                f"{file}_file_sqlite_peak_mb": round(sqlite["peak_mb"], 1),
            }
        )
    file_figures["readings_file_building_days"] = readings["building_days"]
    homes_s = homes.get("PostgreSQL", homes["SQLite"])["seconds"]
    print(
        json.dumps(
            {
                "homes_import_s": round(homes_s, 3),
                "homes_import_sqlite_s": round(homes["SQLite"]["seconds"], 3),
                "synthetic_buildings": buildings,
                "synthetic_days": args.days,
                "synthetic_rows_per_s": round(synthetic["rows_per_s"]),
                "synthetic_peak_mb": round(synthetic["peak_mb"], 1),
                **file_figures,
            }
        )
    )


if __name__ == "__main__":
    main()
