"""When an event is called, its window and target, and what the morning's readings change.
Pure numpy.

An event is called on the P90 of the system forecast: the P50 total times
(1 + Z90 x the error the utility's forecast has shown on its last days), read over the
afternoon for the whole utility (buildings' own errors largely cancel in a total; the day's
shared error does not). Its window is the hours around the peak where that P90 reaches HIGH
(windows.peak_window), its target the most kW it is above HIGH there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .. import mv
from ..windows import MAX_WINDOW_H, peak_window, runs_next_to

Z90 = 1.2815515655446004
# The hours whose past error sets how far a target looks beyond the forecast: the afternoon,
# where the strain is.
ERROR_HOURS = slice(12, 20)
# The error is read over the utility's last ERROR_DAYS days with a forecast and readings, at
# least ERROR_MIN_DAYS of them (below that, the forecast as it is).
ERROR_DAYS = 14
ERROR_MIN_DAYS = 5
# An event lasts at most this many hours; a run of HIGH hours next to a window is cut to it.
MAX_DURATION_H = 8
# A target is kept to the watt.
TARGET_DECIMALS = 3
# Verification's own common error is read from the last COMPARISON_DAYS days (comparison_error).
COMPARISON_DAYS = 7


@dataclass(frozen=True)
class Call:
    """An event's window [start, end) in local hours of its day and its target kW."""

    start: int
    end: int
    target_kw: float


def day_error(
    predicted: np.ndarray, actual: np.ndarray, hours: slice, morning: slice | None = None
) -> float | None:
    """One past day's error of the forecast total over `hours` (actual / forecast - 1), once
    corrected by the readings of the `morning` hours (mv.comparison_ratio; None: the forecast
    as it was), over the buildings (rows; (n, 24) kW, NaN where not read) read in those hours.
    None where none is."""
    read = np.isfinite(actual[:, hours]).all(axis=1)
    if morning is not None:
        read &= np.isfinite(actual[:, morning]).all(axis=1)
    if not read.any() or predicted[read, hours].sum() <= 0:
        return None
    ratio = (
        1.0
        if morning is None
        else mv.comparison_ratio(predicted[read, morning], actual[read, morning])
    )
    return float(actual[read, hours].sum() / (predicted[read, hours].sum() * ratio) - 1.0)


def error_sd(errors: Iterable[float | None]) -> float | None:
    """The forecast's error (one sd, a share of load) from past days' day_error, latest first:
    their root mean square over the first ERROR_DAYS known; None under ERROR_MIN_DAYS."""
    known = [error for error in errors if error is not None][:ERROR_DAYS]
    if len(known) < ERROR_MIN_DAYS:
        return None
    return float(np.sqrt(np.mean(np.square(known))))


def p90_excess(
    system_kw: np.ndarray, high_kw: float, *, ratio: float = 1.0, error: float | None = None
) -> np.ndarray:
    """kW above HIGH of the system forecast's P90, per hour: the P50 total (24,) times the
    morning's `ratio`, on the P90 of the `error` still to come (error_sd; None: the P50)."""
    return np.asarray(system_kw, float) * ratio * (1.0 + Z90 * (error or 0.0)) - high_kw


def call(excess: np.ndarray, earliest: int = 0, max_hours: int = MAX_WINDOW_H) -> Call | None:
    """The event that `excess` (p90_excess) calls from local hour `earliest` on: the window
    around its peak, at most `max_hours`, and its target; None where no hour reaches HIGH."""
    found = peak_window(excess, max_hours, earliest=earliest)
    if found is None:
        return None
    return Call(found[0], found[1], target_of(excess, *found))


def target_of(excess: np.ndarray, start: int, end: int) -> float:
    """The target of a window: the most kW its hours are above HIGH (to the watt)."""
    return round(float(np.max(excess[start:end])), TARGET_DECIMALS)


@dataclass(frozen=True)
class Revisit:
    """A called event as the morning reads it: its new target (None: not needed, cancel it)
    and the runs of HIGH hours right next to its window, events of their own."""

    target_kw: float | None
    next_to: tuple[Call, ...]


def revisit(excess: np.ndarray, start: int, end: int, earliest: int) -> Revisit:
    """The morning's decision on an event of window [start, end): its target on the
    corrected forecast's excess; where it is still needed, each run of hours above HIGH right
    before it (from `earliest` on) or right after it, cut to MAX_DURATION_H next to the window,
    as an event of its own at the notice that is left (the window itself cannot stretch: its
    asks were made for it)."""
    target = target_of(excess, start, end)
    if target <= 0:
        return Revisit(None, ())
    runs = (
        (max(a, start - MAX_DURATION_H), min(b, end + MAX_DURATION_H))
        for a, b in runs_next_to(excess, start, end, earliest)
    )
    return Revisit(target, tuple(Call(a, b, target_of(excess, a, b)) for a, b in runs))


def comparison_error(
    days: Iterable[tuple[np.ndarray, np.ndarray]], hours: float, rng: np.random.Generator
) -> tuple[float, float]:
    """(sd, group): how far verification's comparison group errs in reading a day's forecast
    error over a window of `hours` (one sd, a share of load), and the size of the groups it was
    measured on: two random halves of each past day's quiet buildings ((predicted, actual),
    (n, 24) kW, latest first) read windows of their afternoon (mv.halves_difference).
    (0, 1) without two such days."""
    differences, sizes = [], []
    for predicted, actual in days:
        complete = np.isfinite(actual[:, ERROR_HOURS]).all(axis=1)
        difference = mv.halves_difference(
            predicted[complete, ERROR_HOURS], actual[complete, ERROR_HOURS], rng
        )
        if difference is not None:
            differences.append(difference)
            sizes.append(int(complete.sum()))
    return mv.ratio_sd(differences, hours), float(np.mean(sizes)) if len(sizes) >= 2 else 1.0
