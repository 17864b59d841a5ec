"""Event windows on a day's hours. Pure numpy."""

from __future__ import annotations

import numpy as np


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
