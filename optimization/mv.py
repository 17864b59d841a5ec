"""Measurement and verification of what a building delivered in an event. Pure numpy.

Two counterfactuals for the event window:

- the forecast: the P50 the forecast run gave for those hours;
- the standard X-of-Y baseline (CAISO-style "10 of 10"): the mean load of the same hours on the
  last Y eligible days (same kind of day, no event), with a day-of adjustment: the ratio of the
  actual to the baseline load over the ADJUST_HOURS hours that end ADJUST_GAP_H hour(s) before the
  event starts, capped at +/- ADJUST_CAP.

Delivered kW = mean over the window of (baseline - actual); complied = delivered reaches
COMPLY_SHARE of the requested kW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADJUST_HOURS = 3
ADJUST_GAP_H = 1
ADJUST_CAP = 0.2
# Hours before an event (ending ADJUST_GAP_H before it) that show the day's shared forecast error.
COMPARISON_HOURS = 6
COMPARISON_TRIM = 0.05
COMPARISON_MIN_BUILDINGS = 1000
HALF_MIN_BUILDINGS = 50
COMPLY_SHARE = 0.8


def x_of_y_baseline(
    history: np.ndarray,
    eligible: np.ndarray,
    event_day: np.ndarray,
    start_h: int,
    end_h: int,
    *,
    x: int = 10,
    y: int = 10,
    day_temperature: np.ndarray | None = None,
    event_temperature: float | None = None,
) -> np.ndarray:
    """Baseline kW for each hour of the window [start_h, end_h) of the event day.

    history: (days, 24) kW before the event day, oldest first; eligible: (days,) bool (same kind
    of day and no event); event_day: (24,) kW actually metered that day (for the adjustment).
    Uses the last `y` eligible days (at least one), of which the `x` with the highest load over
    the window (X of Y; X = Y is the plain average).

    Weather-matched variant: with `day_temperature` (days,) and `event_temperature`, the `y`
    eligible days of the closest temperature are used instead of the last `y`; on the hottest
    days of a season the plain 10-of-10 under-states the counterfactual badly.
    """
    days = np.flatnonzero(eligible)
    if day_temperature is not None and event_temperature is not None and days.size:
        closest = np.argsort(np.abs(day_temperature[days] - event_temperature), kind="stable")[:y]
        days = np.sort(days[closest])
    else:
        days = days[-y:]
    if days.size == 0:
        raise ValueError("no eligible day to build a baseline from")
    window = history[days][:, start_h:end_h]
    if x < days.size:
        keep = np.argsort(window.mean(axis=1))[-x:]
        days, window = days[keep], window[keep]
    baseline = window.mean(axis=0)
    adjust_end = start_h - ADJUST_GAP_H
    adjust_start = adjust_end - ADJUST_HOURS
    if adjust_start >= 0:
        before = history[days][:, adjust_start:adjust_end].mean()
        actual = event_day[adjust_start:adjust_end].mean()
        if before > 0:
            ratio = float(np.clip(actual / before, 1 - ADJUST_CAP, 1 + ADJUST_CAP))
            baseline = baseline * ratio
    return baseline


def comparison_ratio(
    forecast: np.ndarray, actual: np.ndarray, weight: np.ndarray | None = None
) -> float:
    """The day's shared forecast error as actual / forecast, from a comparison sample: rows are
    buildings (not asked over the window, or any in the hours before the event), columns hours
    (or one total per building).

    The ratio of the sample's totals (weighted by `weight`, a building's precision, where
    known), with the buildings whose own ratio is in the outer COMPARISON_TRIM on either side
    left out against meter faults. A total reads the shared error without bias whichever side
    carries a building's own noise; the mean of each building's forecast / actual does not
    where readings are noisier than the forecast (a noisy denominator pushes the mean up: on a
    synthetic utility of 100,000 buildings it read 0.73 for a day whose total was 1.07).
    Capped at +/- ADJUST_CAP like the X-of-Y day-of adjustment."""
    forecast, actual = np.asarray(forecast, float), np.asarray(actual, float)
    if forecast.ndim == 1:  # one total per building
        forecast, actual = forecast[:, None], actual[:, None]
    forecast_sum, actual_sum = forecast.sum(axis=1), actual.sum(axis=1)
    usable = (forecast_sum > 0) & (actual_sum > 0) & np.isfinite(forecast_sum + actual_sum)
    if not usable.any():
        return 1.0
    readings = forecast_sum[usable] / actual_sum[usable]
    weights = np.ones(readings.size) if weight is None else np.asarray(weight, float)[usable]
    low, high = np.quantile(readings, [COMPARISON_TRIM, 1 - COMPARISON_TRIM])
    kept = (readings >= low) & (readings <= high) & (weights > 0)
    if not kept.any():
        return 1.0
    shared = float(
        np.sum(weights[kept] * actual_sum[usable][kept])
        / np.sum(weights[kept] * forecast_sum[usable][kept])
    )
    return float(np.clip(shared, 1 - ADJUST_CAP, 1 + ADJUST_CAP))


def forecast_correction(
    forecast: np.ndarray,
    actual: np.ndarray,
    asked: np.ndarray,
    start_h: int,
    end_h: int,
    weight: np.ndarray | None = None,
    held_out: int = 0,
) -> float:
    """The factor that takes the day's shared error out of every building's day-ahead forecast
    (comparison_ratio), read from what the event did not touch: the window itself of the
    buildings not asked where there are COMPARISON_MIN_BUILDINGS of them, or where the plan
    held a comparison group out (`held_out` buildings, drawn at random: fewer, but not
    biased; half of them are enough, some may lack readings); otherwise those and every
    building's COMPARISON_HOURS before the event (ending ADJUST_GAP_H before it).
    forecast, actual: (n, 24) kW of the day; asked: (n,) bool."""
    forecast, actual = np.asarray(forecast, float), np.asarray(actual, float)
    control = ~np.asarray(asked, bool)
    needed = COMPARISON_MIN_BUILDINGS
    if held_out > 0:
        needed = min(needed, max(held_out // 2, 1))
    if control.sum() >= needed:
        # Enough buildings not asked: the window's own hours say it best (a forecast's error
        # drifts over the day, and the hours before the event may not share the window's).
        return comparison_ratio(
            forecast[control, start_h:end_h], actual[control, start_h:end_h],
            weight=None if weight is None else np.asarray(weight, float)[control],
        )  # fmt: skip
    before = morning_hours(max(start_h - ADJUST_GAP_H, 1))
    return comparison_ratio(
        forecast[:, before].sum(axis=1) + forecast[:, start_h:end_h].sum(axis=1) * control,
        actual[:, before].sum(axis=1) + actual[:, start_h:end_h].sum(axis=1) * control,
        weight=weight,
    )


def morning_hours(end_before: int) -> slice:
    """The COMPARISON_HOURS hours of the day that end at hour `end_before` (not included)."""
    return slice(max(end_before - COMPARISON_HOURS, 0), end_before)


def halves_difference(
    forecast: np.ndarray, actual: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """comparison_ratio of a random half of the rows (buildings nobody asked) minus that of the
    other half, over windows of 1, 2, ... hours (one per column of hours given, each in their
    middle; the same halves for all): its spread is twice the whole group's error over such a
    window, each half having twice its variance. A window of one hour reads the day's error
    from fewer readings than one of five, so it errs more. None under 2 x HALF_MIN_BUILDINGS
    rows."""
    if len(forecast) < 2 * HALF_MIN_BUILDINGS:
        return None
    half = rng.random(len(forecast)) < 0.5
    hours = forecast.shape[1]
    differences = []
    for length in range(1, hours + 1):
        window = slice((hours - length) // 2, (hours - length) // 2 + length)
        differences.append(
            comparison_ratio(forecast[half, window], actual[half, window])
            - comparison_ratio(forecast[~half, window], actual[~half, window])
        )
    return np.array(differences)


def ratio_sd(differences, hours: int) -> float:
    """The comparison group's error over a window of `hours` (one sd, a share of load) from
    days' halves_difference (a window longer than was measured takes the longest); 0 before
    two days."""
    days = [np.asarray(day, float).ravel() for day in differences]
    if len(days) < 2:
        return 0.0
    length = max(int(round(hours)), 1)
    column = np.array([day[min(length, day.size) - 1] for day in days])
    return float(np.sqrt(np.mean(column**2)) / 2.0)


def baseline_error_sd(
    history: np.ndarray, eligible: np.ndarray, start_h: int, end_h: int, *, y: int = 10
) -> float | None:
    """How far the X-of-Y baseline of the window is likely off (kW, one sd): the building's own
    day-to-day spread of the window's load over the last `y` eligible days, which the event
    day shares, plus the error of their mean. None with fewer than two such days. The day-of
    adjustment takes some of it out, so this errs on the side of caution."""
    days = np.flatnonzero(eligible)[-y:]
    if days.size < 2:
        return None
    window = history[days][:, start_h:end_h].mean(axis=1)
    return float(np.std(window, ddof=1) * np.sqrt(1.0 + 1.0 / days.size))


# Which baseline a building's delivered kW is settled on (Recommendation.Settlement's values).
SETTLED_ON_FORECAST = "forecast"
SETTLED_ON_X_OF_Y = "x_of_y"


@dataclass(frozen=True)
class Verification:
    baseline_kw: float  # the X-of-Y baseline, mean over the window
    actual_kw: float
    delivered_kw: float  # against the X-of-Y baseline
    delivered_vs_forecast_kw: float | None  # against the corrected forecast, where there is one
    settled_on: str  # SETTLED_ON_FORECAST where there is a forecast, else SETTLED_ON_X_OF_Y
    settled_kw: float  # delivered kW as settled
    complied: bool  # as settled


def complies(delivered_kw, requested_kw):
    """Whether a building delivered at least COMPLY_SHARE of its ask: a bool, or elementwise
    over arrays (None: not measured)."""
    if delivered_kw is None:
        return None
    requested = np.asarray(requested_kw, float)
    met = (requested > 0) & (np.asarray(delivered_kw, float) >= COMPLY_SHARE * requested)
    return bool(met) if met.ndim == 0 else met


def verify(
    *,
    baseline: np.ndarray,
    actual: np.ndarray,
    requested_kw: float,
    forecast: np.ndarray | None = None,
) -> Verification:
    """Delivered kW against the X-of-Y baseline and, when given, against the forecast
    counterfactual (corrected for the day's shared error), which then settles: events fall on
    the hottest days, when the ten days before run well below the day (in the season simulator
    the 10-of-10 baseline, day-of adjusted, read our events at -1.1x what was delivered)."""
    delivered = float(np.mean(baseline - actual))
    versus_forecast = None if forecast is None else float(np.mean(forecast - actual))
    settled = delivered if versus_forecast is None else versus_forecast
    return Verification(
        baseline_kw=float(np.mean(baseline)),
        actual_kw=float(np.mean(actual)),
        delivered_kw=delivered,
        delivered_vs_forecast_kw=versus_forecast,
        settled_on=SETTLED_ON_X_OF_Y if versus_forecast is None else SETTLED_ON_FORECAST,
        settled_kw=settled,
        complied=complies(settled, requested_kw),
    )


@dataclass(frozen=True)
class Settlement:
    """What verified asks earned and saved, elementwise over the asks given."""

    delivered_kwh: np.ndarray  # energy shed over the window (never below 0)
    asked_kwh: np.ndarray
    incentive_usd: np.ndarray  # pay for performance: delivered kWh up to the ask, at the rate
    cost_saved_usd: np.ndarray  # the shed kWh at the building's tariff
    carbon_saved_kg: np.ndarray  # the shed kWh at the building's carbon factor


def settle(
    *,
    delivered_kw,
    requested_kw,
    hours,
    incentive_usd_per_kwh,
    tariff_usd_per_kwh,
    carbon_kg_per_kwh,
) -> Settlement:
    """Settle verified asks (arrays of one length, or scalars): the kWh each shed over its
    window (delivered kW x hours, 0 where it delivered nothing or more load), the incentive on
    what it shed up to what it was asked (no pay beyond the ask), and its bill and carbon
    savings. Every page, report and KPI that says what a building earned or saved reads it
    from here."""
    delivered = np.clip(np.asarray(delivered_kw, float), 0.0, None)
    requested = np.asarray(requested_kw, float)
    hours = np.asarray(hours, float)
    delivered_kwh = delivered * hours
    paid_kwh = np.minimum(delivered, requested) * hours
    return Settlement(
        delivered_kwh=delivered_kwh,
        asked_kwh=requested * hours,
        incentive_usd=paid_kwh * np.asarray(incentive_usd_per_kwh, float),
        cost_saved_usd=delivered_kwh * np.asarray(tariff_usd_per_kwh, float),
        carbon_saved_kg=delivered_kwh * np.asarray(carbon_kg_per_kwh, float),
    )
