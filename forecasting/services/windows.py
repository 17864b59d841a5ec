"""Reading windows of days straight into numpy arrays (no ORM instance per row)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from django.db import connection, transaction

from stakeholders.models import Utility

from ..hourly import HOURS, unpack_days
from ..models import MeterDay, SeriesDay

FETCH_CHUNK = 20_000
# Ids fewer than this share of the range they span are read by id, not as a range.
SPARSE_SHARE = 0.5


def readings_window(*, building_ids: np.ndarray, first_day: date, days: int) -> np.ndarray:
    """(b, days, 24) float32 kWh of the buildings (sorted ids) from first_day, NaN where missing."""
    ids = np.asarray(building_ids)
    out = np.full((ids.size, days, HOURS), np.nan, dtype=np.float32)
    if ids.size == 0:
        return out
    last_day = first_day + timedelta(days=days - 1)
    low, high = int(ids.min()), int(ids.max())
    # A dense run of ids is read as a range; a sample scattered over a utility by its ids (a
    # range would read every building between them).
    sparse = ids.size < SPARSE_SHARE * (high - low + 1)
    if connection.vendor == "postgresql":
        which = "building_id = ANY(%s)" if sparse else "building_id BETWEEN %s AND %s"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT building_id, day - %s, present_mask, kwh FROM {MeterDay._meta.db_table} "
                f"WHERE {which} AND day BETWEEN %s AND %s",
                [first_day, *([ids.astype(np.int64).tolist()] if sparse else [low, high]),
                 first_day, last_day],
            )  # fmt: skip
            while batch := cursor.fetchmany(FETCH_CHUNK):
                building, offset, mask, blobs = zip(*batch, strict=True)
                _place(out, ids, np.array(building), np.array(offset), unpack_days(blobs, mask))
        return out
    rows = MeterDay.objects.filter(day__gte=first_day, day__lte=last_day)
    rows = (
        rows.filter(building_id__in=ids.astype(np.int64).tolist())
        if sparse
        else rows.filter(building_id__gte=low, building_id__lte=high)
    )
    rows = rows.order_by().values_list("building_id", "day", "present_mask", "kwh")
    buffer = []
    for row in rows.iterator(chunk_size=FETCH_CHUNK):
        buffer.append(row)
        if len(buffer) == FETCH_CHUNK:
            _place_rows(out, ids, first_day, buffer)
            buffer = []
    if buffer:
        _place_rows(out, ids, first_day, buffer)
    return out


def _place_rows(out, ids, first_day: date, rows) -> None:
    building, day, mask, blobs = zip(*rows, strict=True)
    offsets = np.array([(d - first_day).days for d in day])
    _place(out, ids, np.array(building), offsets, unpack_days(blobs, mask))


def _place(out, ids, building: np.ndarray, offset: np.ndarray, values: np.ndarray) -> None:
    """Put each row's 24 values at its building's position (ids sorted) and day offset."""
    position = np.searchsorted(ids, building)
    found = (position < ids.size) & (ids[np.minimum(position, ids.size - 1)] == building)
    out[position[found], offset[found]] = values[found]


def series_window(*, utility: Utility, series: str, first_day: date, days: int) -> np.ndarray:
    """(days, 24) float32 values of a utility series, NaN where missing."""
    out = np.full((days, HOURS), np.nan, dtype=np.float32)
    rows = list(
        SeriesDay.objects.filter(
            utility=utility,
            series=series,
            day__gte=first_day,
            day__lte=first_day + timedelta(days=days - 1),
        ).values_list("day", "values", "present_mask")
    )
    if rows:
        values = unpack_days([row[1] for row in rows], [row[2] for row in rows])
        out[[(row[0] - first_day).days for row in rows]] = values
    return out


def bulk_insert(model, columns: list[str], pg_types: list[str], rows) -> int:
    """Insert rows (tuples in `columns` order): binary COPY on PostgreSQL, bulk_create elsewhere."""
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        count = 0
        with transaction.atomic(), connection.cursor() as cursor:
            names = ", ".join(columns)
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(pg_types)
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objects, batch_size=5000)
    return len(objects)


def bulk_update(model, fields: list[str], pg_types: list[str], rows) -> int:
    """Set `fields` of many rows at once (tuples of pk and then the fields' values, in
    `fields` order): on PostgreSQL one binary COPY into a temporary table and one UPDATE from
    it, elsewhere Django's bulk_update."""
    rows = list(rows)
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        objects = [model(pk=row[0], **dict(zip(fields, row[1:], strict=True))) for row in rows]
        model.objects.bulk_update(objects, list(fields), batch_size=2000)
        return len(objects)
    table = model._meta.db_table
    names = ", ".join(fields)
    with transaction.atomic(), connection.cursor() as cursor:
        columns = ", ".join(f"{name} {kind}" for name, kind in zip(fields, pg_types, strict=True))
        cursor.execute(
            f"CREATE TEMPORARY TABLE _bulk_update (id int8 PRIMARY KEY, {columns}) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            f"COPY _bulk_update (id, {names}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", *pg_types])
            for row in rows:
                copy.write_row(row)
        # Without statistics the planner takes the new table for a few rows and scans it for
        # every row updated.
        cursor.execute("ANALYZE _bulk_update")
        assignments = ", ".join(f"{name} = _bulk_update.{name}" for name in fields)
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM _bulk_update WHERE {table}.id = _bulk_update.id"
        )
        count = cursor.rowcount
        cursor.execute("DROP TABLE _bulk_update")
    return count
