"""Reading windows of days straight into numpy arrays (no ORM instance per row)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from django.db import connection

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
