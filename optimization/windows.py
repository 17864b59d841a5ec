"""Event windows on a day's hours. Pure numpy."""

from __future__ import annotations

import numpy as np

# An event called on the forecast covers at most this many hours around the peak: the product's
# proposals from grid status and its day-of calls, and the season simulator's events alike.
MAX_WINDOW_H = 6


def runs_next_to(excess: np.ndarray, start: int, end: int, earliest: int = 0):
    """The runs of hours with excess > 0 (kW above HIGH, one per hour of the day) right before
    the window [start, end), from `earliest` on, and right after it, as (start, end) pairs."""
    before = start
    while before - 1 >= max(earliest, 0) and excess[before - 1] > 0:
        before -= 1
    after = end
    while after < len(excess) and excess[after] > 0:
        after += 1
    return [(a, b) for a, b in ((before, start), (end, after)) if a < b]


def peak_window(excess: np.ndarray, max_hours: int, earliest: int = 0) -> tuple[int, int] | None:
    """The window [start, end) around the highest excess (kW above HIGH, one per hour) from
    `earliest` on, grown an hour at a time on the side whose hour is higher while that hour is
    at or above HIGH (excess >= 0), up to max_hours; None where no hour from `earliest` on is."""
    excess = np.asarray(excess, dtype=float)
    earliest = max(earliest, 0)
    if earliest >= excess.size or excess[earliest:].max() < 0:
        return None
    start = earliest + int(excess[earliest:].argmax())
    end = start + 1
    while end - start < max_hours:
        left = excess[start - 1] if start - 1 >= earliest else -np.inf
        right = excess[end] if end < excess.size else -np.inf
        if max(left, right) < 0:
            break
        if left >= right:
            start -= 1
        else:
            end += 1
    return start, end
