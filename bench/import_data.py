"""Import benchmark: the 17 CityLearn homes (a year, hourly) on SQLite and on PostgreSQL, and
100,000 synthetic buildings x 14 days into PostgreSQL (SQLite when PostgreSQL is absent).

    python bench/import_data.py [--quick]

Prints a table, then one JSON line: homes_import_s, synthetic_buildings, synthetic_days,
synthetic_rows_per_s (building-days per second), synthetic_peak_mb.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    import numpy as np
    from django.db import connection

    from forecasting import citylearn
    from forecasting.models import MeterDay
    from forecasting.services.citylearn_import import citylearn_load
    from forecasting.services.synthetic import synthetic_buildings_create, synthetic_readings_write
    from forecasting.synthetic import synthetic_spec
    from stakeholders.models import Building
    from stakeholders.services import utility_ensure

    data = citylearn_load()
    utility = utility_ensure(name="Synthetic scale-test utility (synthetic)", capacity_kw=1e6)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 synthetic buildings")
    parser.add_argument("--part", choices=["homes", "synthetic"])
    parser.add_argument("--database-url")
    parser.add_argument("--buildings", type=int)
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args()
    buildings = args.buildings or (10_000 if args.quick else 100_000)
    if args.part:
        setup_django(args.database_url)
        result = part_homes() if args.part == "homes" else part_synthetic(buildings, args.days)
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
            }
        )
    )


if __name__ == "__main__":
    main()
