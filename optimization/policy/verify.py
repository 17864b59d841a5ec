"""What an event delivered, as the program reads it. Pure numpy.

Each asked building's counterfactual is its day-ahead forecast corrected for the day's
shared error (mv.forecast_correction: read from what the event did not touch) and for its own
error of the day (own_adjustment: read from its morning), and what it delivered is the mean
over the window of that counterfactual less its readings.
"""

from __future__ import annotations

import numpy as np

from .. import mv


def day_correction(
    predicted: np.ndarray, readings: np.ndarray, asked: np.ndarray, start: int, end: int,
    held_out: int, own: np.ndarray,
) -> float | None:  # fmt: skip
    """The factor that takes the day's shared error out of every forecast, over every
    building with a forecast and a whole day of readings ((n, 24) kW, NaN where not read);
    asked: (n,) bool, asked in any event of the day (no comparison); held_out: the plan's
    comparison group's size; own: (n,) each building's own_adjustment, taken out first (the
    buildings not asked may be those forecast high: a plan picks the low ones). None without
    any such building. Each building counts once, unweighted (a weight per building would
    need its own error history)."""
    complete = np.isfinite(readings).all(axis=1)
    if not complete.any():
        return None
    adjusted = np.asarray(predicted, float)[complete] * np.asarray(own, float)[complete, None]
    return mv.forecast_correction(
        adjusted, readings[complete], np.asarray(asked, bool)[complete], start, end,
        held_out=held_out,
    )  # fmt: skip


def own_adjustment(predicted: np.ndarray, readings: np.ndarray, start: int) -> np.ndarray:
    """Per building (n,): how far its own forecast ran off that day, read from the morning
    (mv.morning_hours, ending ADJUST_GAP_H before the event's start): its readings over its
    forecast there, over everyone's (the shared part, which day_correction takes out), capped
    at +/- mv.ADJUST_CAP; 1 where the morning is not read. A forecast's own error runs on over
    the day; left in, a plan that happens to pick buildings forecast low (their baselines look
    the least uncertain) has its delivery read low, and the model learns that nobody
    delivers. predicted, readings: (n, 24) kW of the day (NaN where not read)."""
    morning = mv.morning_hours(max(start - mv.ADJUST_GAP_H, 1))
    forecast = np.asarray(predicted, float)[:, morning].sum(axis=1)
    actual = np.asarray(readings, float)[:, morning].sum(axis=1)
    read = np.isfinite(forecast) & np.isfinite(actual) & (forecast > 0) & (actual > 0)
    if not read.any():
        return np.ones(len(forecast))
    shared = mv.comparison_ratio(forecast[read], actual[read])
    own = np.ones(len(forecast))
    own[read] = actual[read] / forecast[read] / shared
    return np.clip(own, 1 - mv.ADJUST_CAP, 1 + mv.ADJUST_CAP)


def delivered_kw(
    forecast_window: np.ndarray, actual_window: np.ndarray, correction: float, own: np.ndarray
) -> np.ndarray:
    """Per asked building, (m, hours) kW: the corrected forecast (x the day's correction, x
    each building's own_adjustment, (m,)) less the readings, over the window's mean."""
    return (counterfactual_kw(forecast_window, correction, own) - actual_window).mean(axis=1)


def counterfactual_kw(forecast_window: np.ndarray, correction: float, own: np.ndarray):
    """(m, hours) kW: what the asked buildings would have drawn, their forecast corrected."""
    return np.asarray(forecast_window, float) * correction * np.asarray(own, float)[:, None]
