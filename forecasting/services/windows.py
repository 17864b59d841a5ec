"""Reading windows of days straight into numpy arrays (no ORM instance per row)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from stakeholders.models import Utility

from ..hourly import HOURS, unpack_days
from ..models import MeterDay, SeriesDay

FETCH_CHUNK = 20_000


def readings_window(*, building_ids: np.ndarray, first_day: date, days: int) -> np.ndarray:
    """(b, days, 24) float32 kWh of the buildings (sorted ids) from first_day, NaN where missing."""
    ids = np.asarray(building_ids)
    out = np.full((ids.size, days, HOURS), np.nan, dtype=np.float32)
    if ids.size == 0:
        return out
    last_day = first_day + timedelta(days=days - 1)
    rows = (
        MeterDay.objects.filter(
            building_id__gte=int(ids.min()),
            building_id__lte=int(ids.max()),
            day__gte=first_day,
            day__lte=last_day,
        )
        .order_by()
        .values_list("building_id", "day", "kwh", "present_mask")
    )
    buffer: list[tuple] = []

    def flush() -> None:
        if not buffer:
            return
        building, day, blobs, masks = zip(*buffer, strict=True)
        position = np.searchsorted(ids, np.array(building))
        found = (position < ids.size) & (
            ids[np.minimum(position, ids.size - 1)] == np.array(building)
        )
        offsets = np.array([(d - first_day).days for d in day])
        values = unpack_days(list(blobs), list(masks))
        out[position[found], offsets[found]] = values[found]
        buffer.clear()

    for row in rows.iterator(chunk_size=FETCH_CHUNK):
        buffer.append(row)
        if len(buffer) >= FETCH_CHUNK:
            flush()
    flush()
    return out


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
