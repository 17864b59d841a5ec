"""Persistence baselines for day-ahead forecasts, issued at midnight. Pure numpy.

All take `days`: (..., n_days, 24) hourly values and return forecasts of the same shape, NaN
where the history they need is missing (the first day, or the first week).
"""

import numpy as np


def previous_day(days: np.ndarray) -> np.ndarray:
    """Tomorrow looks like today."""
    out = np.full_like(days, np.nan, dtype=float)
    out[..., 1:, :] = days[..., :-1, :]
    return out


def previous_week(days: np.ndarray) -> np.ndarray:
    """Tomorrow looks like the same weekday last week."""
    out = np.full_like(days, np.nan, dtype=float)
    out[..., 7:, :] = days[..., :-7, :]
    return out


def mean_of_last_7_days(days: np.ndarray) -> np.ndarray:
    """Each hour of tomorrow is the mean of the same hour over the last seven days."""
    days = np.asarray(days, dtype=np.float64)  # float32 running sums drift over a year
    out = np.full_like(days, np.nan)
    cumulative = np.cumsum(np.nan_to_num(days, nan=0.0), axis=-2)
    counts = np.cumsum(~np.isnan(days), axis=-2)
    window_sum = cumulative[..., 6:, :] - np.concatenate(
        [np.zeros_like(cumulative[..., :1, :]), cumulative[..., :-7, :]], axis=-2
    )
    window_count = counts[..., 6:, :] - np.concatenate(
        [np.zeros_like(counts[..., :1, :]), counts[..., :-7, :]], axis=-2
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out[..., 7:, :] = (window_sum / window_count)[..., :-1, :]
    return out


BASELINES = {
    "prevday": previous_day,
    "prevweek": previous_week,
    "mean7": mean_of_last_7_days,
}
