"""Writing hourly readings and series in bulk, and importing readings from CSV.

Readings are a row per building-day (forecasting.hourly packs the 24 values). On PostgreSQL they
move with COPY into a temporary table and one INSERT ... ON CONFLICT; elsewhere with bulk_create.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection, transaction
from django.db.models import Max

from stakeholders.csvimport import (
    PROGRESS_EVERY,
    CsvImportError,
    RowError,
    RowErrors,
    open_csv,
    parse_float,
)
from stakeholders.localtime import hour_starts, parse_local_hour
from stakeholders.models import Building, DataOrigin, Utility

from ..hourly import HOURS, pack_days, unpack_days
from ..models import MeterDay, SeriesDay

_UPSERT_FIELDS = ["kwh", "present_mask", "repeated_kwh", "total_kwh", "peak_kw", "origin"]
BULK_BATCH = 5000


def _day_rows(
    values: np.ndarray,
) -> tuple[np.ndarray, list[bytes], np.ndarray, np.ndarray, np.ndarray]:
    """Which rows hold any measured hour, with their blobs, masks, totals and peaks."""
    keep = ~np.isnan(values).all(axis=1)
    kept = values[keep]
    blobs, masks = pack_days(kept)
    return keep, blobs, masks, np.nansum(kept, axis=1), np.nanmax(kept, axis=1)


def meter_days_upsert(
    *,
    building_ids: np.ndarray,
    days: list[date],
    kwh: np.ndarray,
    origin: str,
    repeated: np.ndarray | None = None,
) -> int:
    """Write (n, 24) hourly kWh for n building-days, replacing rows that exist. Returns rows.

    NaN marks an hour that was not measured; a day with no measured hour is not stored.
    `repeated` (n,) is the second pass of a fall-back day's repeated hour, NaN on other days.
    """
    kwh = np.asarray(kwh, dtype=np.float64)
    if (
        kwh.ndim != 2
        or kwh.shape[1] != HOURS
        or not (kwh.shape[0] == len(days) == len(building_ids))
    ):
        raise ValueError("building_ids, days and kwh must describe the same n building-days")
    extra = np.full(kwh.shape[0], np.nan) if repeated is None else np.asarray(repeated, float)
    if (kwh[~np.isnan(kwh)] < 0).any() or (extra[~np.isnan(extra)] < 0).any():
        raise ValueError("hourly kWh cannot be negative")
    # A day is stored when any of its hours was measured, the repeated one included.
    keep = ~np.isnan(kwh).all(axis=1) | ~np.isnan(extra)
    kept, extra = kwh[keep], extra[keep]
    blobs, masks = pack_days(kept)
    has_extra = ~np.isnan(extra)
    totals = np.nansum(kept, axis=1) + np.where(has_extra, extra, 0.0)
    peaks = np.fmax(
        np.nanmax(np.where(np.isnan(kept), -np.inf, kept), axis=1),
        np.nan_to_num(extra, nan=-np.inf),
    )
    extras = [
        float(value) if present else None for value, present in zip(extra, has_extra, strict=True)
    ]
    ids = np.asarray(building_ids)[keep].tolist()
    kept_days = [day for day, kept in zip(days, keep, strict=True) if kept]
    rows = zip(
        ids, kept_days, blobs, masks.tolist(), extras, totals.tolist(), peaks.tolist(), strict=True
    )
    if not ids:
        return 0
    if connection.vendor == "postgresql":
        return _copy_upsert(
            rows,
            origin=origin,
            building_ids=sorted(set(ids)),
            first=min(kept_days),
            last=max(kept_days),
        )
    with transaction.atomic():
        MeterDay.objects.bulk_create(
            (
                MeterDay(
                    building_id=b, day=d, kwh=blob, present_mask=m, repeated_kwh=r, total_kwh=t,
                    peak_kw=p, origin=origin,
                )
                for b, d, blob, m, r, t, p in rows
            ),
            batch_size=BULK_BATCH,
            update_conflicts=True,
            unique_fields=["building", "day"],
            update_fields=_UPSERT_FIELDS,
        )  # fmt: skip
    return len(ids)


_COLUMNS = "building_id, day, kwh, present_mask, repeated_kwh, total_kwh, peak_kw"
_COPY_TYPES = ["int8", "date", "bytea", "int4", "float8", "float8", "float8"]


def _copy_upsert(rows, *, origin: str, building_ids: list[int], first: date, last: date) -> int:
    """COPY straight into the table when none of these building-days exist yet (the usual
    case for new data), else through a temporary table and INSERT ... ON CONFLICT."""
    table = MeterDay._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # A crash may lose this transaction whole, never half of it; the import is re-run.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE building_id = ANY(%s) "
            "AND day BETWEEN %s AND %s)",
            [building_ids, first, last],
        )
        overlaps = cursor.fetchone()[0]
        target = "_meterday_load" if overlaps else table
        if overlaps:
            # Within an outer transaction an earlier call's table is still there: start afresh.
            cursor.execute("DROP TABLE IF EXISTS _meterday_load")
            cursor.execute(
                "CREATE TEMP TABLE _meterday_load (building_id bigint, day date, kwh bytea, "
                "present_mask integer, repeated_kwh double precision, "
                "total_kwh double precision, peak_kw double precision, "
                "origin varchar(10)) ON COMMIT DROP"
            )
        with cursor.cursor.copy(
            f"COPY {target} ({_COLUMNS}, origin) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types([*_COPY_TYPES, "text"])
            count = 0
            for row in rows:
                copy.write_row((*row, origin))
                count += 1
        if overlaps:
            cursor.execute(
                f"INSERT INTO {table} ({_COLUMNS}, origin) SELECT {_COLUMNS}, origin "
                "FROM _meterday_load ON CONFLICT (building_id, day) DO UPDATE SET "
                "kwh = EXCLUDED.kwh, present_mask = EXCLUDED.present_mask, "
                "repeated_kwh = EXCLUDED.repeated_kwh, "
                "total_kwh = EXCLUDED.total_kwh, peak_kw = EXCLUDED.peak_kw, "
                "origin = EXCLUDED.origin"
            )
        return count


def series_days_upsert(
    *, utility: Utility, series: str, days: list[date], values: np.ndarray, origin: str
) -> int:
    """Write (n_days, 24) hourly values of one utility-wide series, replacing what exists."""
    if series not in SeriesDay.Series.values:
        raise ValueError(f"unknown series {series!r}")
    keep, blobs, masks, _, _ = _day_rows(np.asarray(values, dtype=np.float64))
    kept_days = [day for day, kept in zip(days, keep, strict=True) if kept]
    SeriesDay.objects.bulk_create(
        [
            SeriesDay(
                utility=utility, series=series, day=day, values=blob, present_mask=mask,
                origin=origin,
            )
            for day, blob, mask in zip(kept_days, blobs, masks.tolist(), strict=True)
        ],
        batch_size=BULK_BATCH,
        update_conflicts=True,
        unique_fields=["utility", "series", "day"],
        update_fields=["values", "present_mask", "origin"],
    )  # fmt: skip
    return len(kept_days)


READING_COLUMNS = ["building_code", "timestamp", "kwh"]
MAX_HOURLY_KWH = 1e6  # a building drawing a gigawatt for an hour is a typo, not a reading
REVIEW_FACTOR = 10  # a reading over 10x the building's highest hour so far is flagged
MAX_REVIEW_LINES = 50
SLOTS = HOURS + 1  # the 24 wall-clock hours and the second pass of a repeated one


def readings_csv_import(
    *, utility: Utility, stream, origin: str = DataOrigin.UPLOADED, progress=None
) -> dict:
    """Import hourly readings (columns building_code, timestamp, kwh) for `utility`'s buildings.

    Timestamps are read by the utility's zone (stakeholders.localtime.parse_local_hour). Every
    bad row is reported with its line and reason (bad dates, an hour the clocks skip, negative,
    non-numeric or implausible kWh, an unknown building, an hour given twice); a file with any
    error saves nothing. Hours given replace what was stored for them; other hours of the same
    days are kept. Readings far above the building's highest hour so far are stored and listed
    for review. `progress(rows)` is called every PROGRESS_EVERY rows.
    """
    tz = ZoneInfo(utility.timezone)
    codes = dict(Building.objects.filter(utility=utility).values_list("code", "id"))
    errors = RowErrors()
    csv_file = open_csv(stream, required=READING_COLUMNS, errors=errors)
    given: dict[tuple[int, date], np.ndarray] = {}
    lines: dict[tuple[int, date], np.ndarray] = {}
    rows = 0
    for line, row in csv_file.rows:
        rows += 1
        if progress is not None and rows % PROGRESS_EVERY == 0:
            progress(rows)
        problems = []
        building_id = codes.get(row["building_code"])
        if building_id is None:
            problems.append(f"building {row['building_code'][:64]!r} is not on {utility.name}")
        hour = kwh = None
        try:
            day, hour, repeated = parse_local_hour(row["timestamp"], tz)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            kwh = parse_float(row["kwh"], name="kWh", minimum=0, maximum=MAX_HOURLY_KWH)
        except ValueError as exc:
            problems.append(str(exc))
        if building_id is not None and hour is not None:
            slot = HOURS if repeated else hour
            earlier = _first_line(lines, (building_id, day), slot, line)
            if earlier:
                again = " (its second pass)" if repeated else ""
                problems.append(
                    f"{row['building_code']} {day:%Y-%m-%d} {hour:02d}:00{again} was already "
                    f"given on line {earlier}"
                )
        if problems:
            for problem in problems:
                errors.add(line, problem)
        elif not errors:
            given.setdefault((building_id, day), np.full(SLOTS, np.nan))[slot] = kwh
    errors.raise_any()
    if not given:
        raise CsvImportError([RowError(1, "the file holds no readings")])
    keys = sorted(given)
    values = np.stack([given.pop(key) for key in keys])
    review = _far_above_history(keys, values, [lines[key] for key in keys], codes, tz)
    merged = _merge_with_stored(keys, values)
    with transaction.atomic():
        written = meter_days_upsert(
            building_ids=np.array([key[0] for key in keys]),
            days=[key[1] for key in keys],
            kwh=merged[:, :HOURS],
            repeated=merged[:, HOURS],
            origin=origin,
        )
    return {
        "rows": rows,
        "buildings": len({key[0] for key in keys}),
        "days": written,
        "encoding": csv_file.encoding,
        "ignored_columns": csv_file.ignored_columns,
        "review": review["lines"],
        "review_count": review["count"],
    }


def _first_line(lines: dict, key, slot: int, line: int) -> int:
    """The line that gave this hour first, or 0 when none did (this line is then its first)."""
    seen = lines.setdefault(key, np.zeros(SLOTS, dtype=np.int64))
    earlier = int(seen[slot])
    if not earlier:
        seen[slot] = line
    return earlier


def _far_above_history(keys, values: np.ndarray, lines, codes: dict, tz) -> dict:
    """Readings over REVIEW_FACTOR x the building's reference hour: its highest stored hour,
    or, with no history, the 95th percentile of what this file gives it."""
    building_ids = np.array([key[0] for key in keys])
    stored = dict(
        MeterDay.objects.filter(building_id__in=set(building_ids.tolist()))
        .values("building_id")
        .annotate(peak=Max("peak_kw"))
        .values_list("building_id", "peak")
    )
    code_of = {pk: code for code, pk in codes.items()}
    flagged, count = [], 0
    # Keys are sorted by building: each building's days are one block of rows.
    _, starts = np.unique(building_ids, return_index=True)
    for first, end in zip(starts, [*starts[1:], len(keys)], strict=True):
        building_id = int(building_ids[first])
        block = values[first:end]
        reference = stored.get(building_id)
        if not reference:
            given = block[~np.isnan(block)]
            reference = float(np.percentile(given, 95)) if given.size else 0.0
        if reference <= 0:
            continue
        over = np.argwhere(np.nan_to_num(block, nan=0.0) > REVIEW_FACTOR * reference)
        count += len(over)
        for row, slot in over[: max(0, MAX_REVIEW_LINES - len(flagged))]:
            day = keys[first + row][1]
            hour = int(slot) if slot < HOURS else _repeated_hour(day, tz)
            flagged.append(
                f"line {lines[first + row][slot]}: {code_of[building_id]} {day:%Y-%m-%d} "
                f"{hour:02d}:00 reads {block[row, slot]:,.1f} kWh, over {REVIEW_FACTOR}x its "
                f"usual highest hour ({reference:,.1f} kWh); stored, please check it"
            )
    return {"lines": flagged, "count": count}


def _repeated_hour(day: date, tz) -> int:
    hours = [slot for slot, _ in hour_starts(day, tz)]
    return next((slot for slot in hours if hours.count(slot) > 1), 1)


def _merge_with_stored(keys: list[tuple[int, date]], values: np.ndarray) -> np.ndarray:
    """Fill the hours a file leaves out of a day (24 slots and the repeated hour) with what is
    already stored for that day."""
    building_ids = {key[0] for key in keys}
    days = [key[1] for key in keys]
    stored = MeterDay.objects.filter(
        building_id__in=building_ids, day__gte=min(days), day__lte=max(days)
    ).values_list("building_id", "day", "kwh", "present_mask", "repeated_kwh")
    index = {key: position for position, key in enumerate(keys)}
    for building_id, day, blob, mask, repeated in stored.iterator(chunk_size=10_000):
        position = index.get((building_id, day))
        if position is None:
            continue
        old = np.append(unpack_days([blob], [mask])[0], np.nan if repeated is None else repeated)
        row = values[position]
        values[position] = np.where(np.isnan(row), old, row)
    return values


WEATHER_MEASURED = {
    "temperature_c": SeriesDay.Series.TEMPERATURE_C,
    "humidity_pct": SeriesDay.Series.HUMIDITY_PCT,
}
WEATHER_FORECAST = {"temperature_c": SeriesDay.Series.TEMPERATURE_FORECAST_C}
WEATHER_BOUNDS = {"temperature_c": (-90.0, 60.0), "humidity_pct": (0.0, 100.0)}


def weather_csv_import(
    *,
    utility: Utility,
    stream,
    forecasts: bool = False,
    origin: str = DataOrigin.UPLOADED,
    progress=None,
) -> dict:
    """Import the utility's hourly weather: measured temperature_c and (optional) humidity_pct,
    or with `forecasts` the day-ahead temperature forecast of each hour, kept apart from the
    measurements. Timestamps are read as readings are; a file with any error saves nothing.
    The second pass of a repeated fall-back hour is accepted and not kept (the series hold 24
    wall-clock slots a day)."""
    tz = ZoneInfo(utility.timezone)
    columns = WEATHER_FORECAST if forecasts else WEATHER_MEASURED
    errors = RowErrors()
    csv_file = open_csv(
        stream, required=["timestamp", "temperature_c"], optional=list(columns), errors=errors
    )
    given = {name: {} for name in columns}
    lines: dict[date, np.ndarray] = {}
    rows = repeated_hours = 0
    for line, row in csv_file.rows:
        rows += 1
        if progress is not None and rows % PROGRESS_EVERY == 0:
            progress(rows)
        problems, parsed = [], {}
        hour = None
        try:
            day, hour, repeated = parse_local_hour(row["timestamp"], tz)
        except ValueError as exc:
            problems.append(str(exc))
        for name in columns:
            if name != "temperature_c" and not row.get(name):
                continue
            low, high = WEATHER_BOUNDS[name]
            try:
                parsed[name] = parse_float(row[name], name=name, minimum=low, maximum=high)
            except ValueError as exc:
                problems.append(str(exc))
        if hour is not None:
            slot = HOURS if repeated else hour
            earlier = _first_line(lines, day, slot, line)
            if earlier:
                problems.append(f"{day:%Y-%m-%d} {hour:02d}:00 was already given on line {earlier}")
        if problems:
            for problem in problems:
                errors.add(line, problem)
        elif repeated:
            repeated_hours += 1
        elif not errors:
            for name, value in parsed.items():
                given[name].setdefault(day, np.full(HOURS, np.nan))[hour] = value
    errors.raise_any()
    if not lines:
        raise CsvImportError([RowError(1, "the file holds no weather hours")])
    days = 0
    with transaction.atomic():
        for name, series in columns.items():
            if given[name]:
                found = sorted(given[name])
                values = _merge_series(
                    utility, series, found, np.stack([given[name][d] for d in found])
                )
                days = max(days, series_days_upsert(
                    utility=utility, series=series, days=found, values=values, origin=origin
                ))  # fmt: skip
    return {
        "rows": rows,
        "days": days,
        "series": [str(columns[name].label) for name in columns if given[name]],
        "repeated_hours_not_kept": repeated_hours,
        "encoding": csv_file.encoding,
        "ignored_columns": csv_file.ignored_columns,
    }


def _merge_series(
    utility: Utility, series: str, days: list[date], values: np.ndarray
) -> np.ndarray:
    """Fill the hours a file leaves out of a day with the series' stored hours."""
    index = {day: position for position, day in enumerate(days)}
    stored = SeriesDay.objects.filter(
        utility=utility, series=series, day__gte=days[0], day__lte=days[-1]
    ).values_list("day", "values", "present_mask")
    for day, blob, mask in stored:
        position = index.get(day)
        if position is not None:
            old = unpack_days([blob], [mask])[0]
            values[position] = np.where(np.isnan(values[position]), old, values[position])
    return values


def meter_days_for(
    *, building_ids: list[int], start: date, end: date
) -> tuple[list[int], list[date], np.ndarray]:
    """Readings of buildings between two days inclusive as (ids, days, (n, 24) float32, NaN gaps)."""
    rows = list(
        MeterDay.objects.filter(building_id__in=building_ids, day__gte=start, day__lte=end)
        .order_by("building_id", "day")
        .values_list("building_id", "day", "kwh", "present_mask")
    )
    values = unpack_days([row[2] for row in rows], [row[3] for row in rows])
    return [row[0] for row in rows], [row[1] for row in rows], values
