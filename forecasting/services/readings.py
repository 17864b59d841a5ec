"""Writing hourly readings and series in bulk, and importing readings from CSV.

Readings are a row per building-day (forecasting.hourly packs the 24 values). On PostgreSQL they
move with COPY into a temporary table and one INSERT ... ON CONFLICT; elsewhere with bulk_create.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection, transaction

from stakeholders.csvimport import CsvImportError, RowError, parse_float, read_rows
from stakeholders.models import Building, DataOrigin, Utility

from ..hourly import HOURS, pack_days, unpack_days
from ..models import MeterDay, SeriesDay

_UPSERT_FIELDS = ["kwh", "present_mask", "total_kwh", "peak_kw", "origin"]
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
    *, building_ids: np.ndarray, days: list[date], kwh: np.ndarray, origin: str
) -> int:
    """Write (n, 24) hourly kWh for n building-days, replacing rows that exist. Returns rows.

    NaN marks an hour that was not measured; a day with no measured hour is not stored.
    """
    kwh = np.asarray(kwh, dtype=np.float64)
    if (
        kwh.ndim != 2
        or kwh.shape[1] != HOURS
        or not (kwh.shape[0] == len(days) == len(building_ids))
    ):
        raise ValueError("building_ids, days and kwh must describe the same n building-days")
    if (kwh[~np.isnan(kwh)] < 0).any():
        raise ValueError("hourly kWh cannot be negative")
    keep, blobs, masks, totals, peaks = _day_rows(kwh)
    ids = np.asarray(building_ids)[keep].tolist()
    kept_days = [day for day, kept in zip(days, keep, strict=True) if kept]
    rows = zip(ids, kept_days, blobs, masks.tolist(), totals.tolist(), peaks.tolist(), strict=True)
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
                    building_id=b, day=d, kwh=blob, present_mask=m, total_kwh=t, peak_kw=p,
                    origin=origin,
                )
                for b, d, blob, m, t, p in rows
            ),
            batch_size=BULK_BATCH,
            update_conflicts=True,
            unique_fields=["building", "day"],
            update_fields=_UPSERT_FIELDS,
        )  # fmt: skip
    return len(ids)


_COLUMNS = "building_id, day, kwh, present_mask, total_kwh, peak_kw"
_COPY_TYPES = ["int8", "date", "bytea", "int4", "float8", "float8"]


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
                "present_mask integer, total_kwh double precision, peak_kw double precision, "
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


def _parse_hour(value: str, tz: ZoneInfo) -> datetime:
    """An ISO date and hour, interval start; with an offset it is converted to the utility's
    local time, without one it is taken as local already."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"timestamp {value!r} is not a date and hour (use YYYY-MM-DD HH:00)"
        ) from None
    if moment.minute or moment.second or moment.microsecond:
        raise ValueError(f"timestamp {value!r} is not on the hour")
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz).replace(tzinfo=None)
    return moment


def readings_csv_import(*, utility: Utility, stream, origin: str = DataOrigin.UPLOADED) -> dict:
    """Import hourly readings (columns building_code, timestamp, kwh) for `utility`'s buildings.

    Every bad row is reported with its line and reason (bad dates, negative or non-numeric kWh,
    an unknown building, an hour given twice); a file with any error saves nothing. Hours given
    replace what was stored for them; other hours of the same days are kept.
    """
    tz = ZoneInfo(utility.timezone)
    codes = dict(Building.objects.filter(utility=utility).values_list("code", "id"))
    errors: list[RowError] = []
    first_line: dict[tuple[int, datetime], int] = {}
    given: dict[tuple[int, date], np.ndarray] = defaultdict(lambda: np.full(HOURS, np.nan))
    rows = 0
    for line, row in read_rows(stream, required=["building_code", "timestamp", "kwh"]):
        rows += 1
        problems = []
        building_id = codes.get(row["building_code"])
        if building_id is None:
            problems.append(f"building {row['building_code']!r} is not on {utility.name}")
        moment = kwh = None
        try:
            moment = _parse_hour(row["timestamp"], tz)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            kwh = parse_float(row["kwh"], name="kWh", minimum=0)
        except ValueError as exc:
            problems.append(str(exc))
        if building_id is not None and moment is not None:
            earlier = first_line.setdefault((building_id, moment), line)
            if earlier != line:
                problems.append(
                    f"{row['building_code']} {moment:%Y-%m-%d %H:00} was already given "
                    f"on line {earlier}"
                )
        if problems:
            errors.extend(RowError(line, problem) for problem in problems)
        else:
            given[(building_id, moment.date())][moment.hour] = kwh
    if errors:
        raise CsvImportError(errors)
    if not given:
        raise CsvImportError([RowError(1, "the file holds no readings")])
    keys = sorted(given)
    merged = _merge_with_stored(keys, np.stack([given[key] for key in keys]))
    with transaction.atomic():
        written = meter_days_upsert(
            building_ids=np.array([key[0] for key in keys]),
            days=[key[1] for key in keys],
            kwh=merged,
            origin=origin,
        )
    return {"rows": rows, "buildings": len({key[0] for key in keys}), "days": written}


def _merge_with_stored(keys: list[tuple[int, date]], values: np.ndarray) -> np.ndarray:
    """Fill the hours a file leaves out of a day with what is already stored for that day."""
    building_ids = {key[0] for key in keys}
    days = [key[1] for key in keys]
    stored = MeterDay.objects.filter(
        building_id__in=building_ids, day__gte=min(days), day__lte=max(days)
    ).values_list("building_id", "day", "kwh", "present_mask")
    index = {key: position for position, key in enumerate(keys)}
    for building_id, day, blob, mask in stored:
        position = index.get((building_id, day))
        if position is None:
            continue
        old = unpack_days([blob], [mask])[0]
        row = values[position]
        values[position] = np.where(np.isnan(row), old, row)
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
