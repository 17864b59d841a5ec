"""The rule for gaps and spikes in hourly readings, applied before any model sees them.

1. Spikes: a value above SPIKE_RATIO x the building's 99th percentile is treated as missing
   (a meter glitch, not a busy hour: real peaks of homes and offices stay within a few times
   their 99th percentile). Negative values cannot be stored at all.
2. Gaps of up to SHORT_GAP_H hours are filled by linear interpolation between their neighbours.
3. Longer gaps take the same hour of the previous day that has it, else the building's mean
   profile for that hour.
4. A building needs MIN_COVERAGE of its lookback window measured (before filling) for the LSTM;
   otherwise it gets the 7-day-mean baseline forecast and is flagged (see `too_little_history`).

Pure numpy; input (b, hours) with NaN for missing, output without NaN.
"""

import numpy as np

SPIKE_RATIO = 5.0
SHORT_GAP_H = 3
MIN_COVERAGE = 0.8


def remove_spikes(load: np.ndarray) -> tuple[np.ndarray, int]:
    """Mark values far above a building's usual range as missing; returns (load, count)."""
    load = np.array(load, dtype=np.float64, copy=True)
    # np.percentile is many times faster than np.nanpercentile: use it when nothing is missing.
    percentile = np.nanpercentile if np.isnan(load).any() else np.percentile
    with np.errstate(invalid="ignore"):
        limit = SPIKE_RATIO * percentile(load, 99, axis=1, keepdims=True) + 1e-9
        spikes = load > limit
    load[spikes] = np.nan
    return load, int(spikes.sum())


def fill_gaps(load: np.ndarray) -> np.ndarray:
    """Fill NaN by the rule above; a building with no value at all becomes zeros."""
    load = np.array(load, dtype=np.float64, copy=True)
    hours = np.arange(load.shape[1])
    for row in load:
        missing = np.isnan(row)
        if not missing.any():
            continue
        if missing.all():
            row[:] = 0.0
            continue
        # Length of the gap each missing hour belongs to.
        edges = np.flatnonzero(np.diff(np.concatenate([[0], missing.astype(np.int8), [0]])))
        short = np.zeros_like(missing)
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if stop - start <= SHORT_GAP_H and start > 0 and stop < row.size:
                short[start:stop] = True
        row[short] = np.interp(hours[short], hours[~missing], row[~missing])
        remaining = np.flatnonzero(np.isnan(row))
        if remaining.size:
            profile = np.array(
                [
                    np.nanmean(row[h::24]) if np.isfinite(row[h::24]).any() else np.nanmean(row)
                    for h in range(24)
                ]
            )
            for index in remaining:
                previous = index - 24
                while previous >= 0 and np.isnan(row[previous]):
                    previous -= 24
                row[index] = row[previous] if previous >= 0 else profile[index % 24]
    return load


def too_little_history(load: np.ndarray, lookback_h: int) -> np.ndarray:
    """(b,) True where the last `lookback_h` hours are less than MIN_COVERAGE measured."""
    window = load[:, -lookback_h:]
    measured = np.isfinite(window).sum(axis=1)
    return measured < MIN_COVERAGE * lookback_h
