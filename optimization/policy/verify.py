"""What an event delivered, as the program reads it. Pure numpy.

Each asked building's counterfactual is its day-ahead forecast corrected for the day's
shared error (mv.forecast_correction: read from what the event did not touch), and what it
delivered is the mean over the window of that counterfactual less its readings.
"""

from __future__ import annotations

import numpy as np

from .. import mv


def day_correction(
    predicted: np.ndarray, readings: np.ndarray, asked: np.ndarray, start: int, end: int,
    held_out: int,
) -> float | None:  # fmt: skip
    """The factor that takes the day's shared error out of every forecast, over every
    building with a forecast and a whole day of readings ((n, 24) kW, NaN where not read);
    asked: (n,) bool, asked in any event of the day (no comparison); held_out: the plan's
    comparison group's size. None without any such building. Each building counts once,
    unweighted (a weight per building would need its own error history)."""
    complete = np.isfinite(readings).all(axis=1)
    if not complete.any():
        return None
    return mv.forecast_correction(
        predicted[complete], readings[complete], np.asarray(asked, bool)[complete], start, end,
        held_out=held_out,
    )  # fmt: skip


def delivered_kw(forecast_window: np.ndarray, actual_window: np.ndarray, correction: float):
    """Per asked building, (m, hours) kW: the corrected forecast less the readings, over the
    window's mean."""
    return (np.asarray(forecast_window, float) * correction - actual_window).mean(axis=1)
