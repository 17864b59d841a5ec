"""Packing a day of hourly values into 96 bytes and back. Pure numpy, no Django.

A day is 24 little-endian float32 values (hour 0 = 00:00-01:00, interval start) and a 24-bit
mask whose bit h is set when hour h was measured. A missing hour is stored as 0.0 with its bit
clear, so no NaN ever reaches the database.
"""

import numpy as np

HOURS = 24
DAY_BYTES = HOURS * 4
FULL_MASK = (1 << HOURS) - 1
_DTYPE = np.dtype("<f4")
_BITS = 1 << np.arange(HOURS, dtype=np.int64)


def pack_day(values: np.ndarray) -> tuple[bytes, int]:
    """(24,) floats with NaN for missing hours -> (96 bytes, presence mask)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (HOURS,):
        raise ValueError(f"a day holds {HOURS} hourly values, got shape {values.shape}")
    present = ~np.isnan(values)
    mask = int(_BITS[present].sum())
    return np.where(present, values, 0.0).astype(_DTYPE).tobytes(), mask


def pack_days(values: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    """(n, 24) floats with NaN for missing hours -> n blobs and n masks, vectorised."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != HOURS:
        raise ValueError(f"expected shape (n, {HOURS}), got {values.shape}")
    present = ~np.isnan(values)
    masks = (present * _BITS).sum(axis=1)
    raw = np.where(present, values, 0.0).astype(_DTYPE)
    return [row.tobytes() for row in raw], masks


def unpack_days(blobs: list[bytes], masks) -> np.ndarray:
    """n blobs and masks -> (n, 24) float32 with NaN where an hour is missing."""
    if not blobs:
        return np.empty((0, HOURS), dtype=np.float32)
    values = np.frombuffer(b"".join(bytes(blob) for blob in blobs), dtype=_DTYPE)
    values = values.reshape(len(blobs), HOURS).astype(np.float32)
    masks = np.asarray(masks, dtype=np.int64)
    present = (masks[:, None] & _BITS[None, :]) != 0
    values[~present] = np.nan
    return values
