"""Forecast accuracy as ASHRAE Guideline 14 defines it, and interval coverage. Pure numpy.

    CV(RMSE) = 100 * sqrt( sum((y - yhat)^2) / (n - p) ) / mean(y)
    NMBE     = 100 * sum(y - yhat) / ((n - p) * mean(y))

with n the number of hourly values and p the number of model parameters (0 for forecasts
judged out of sample, the default here). NMBE is positive when the forecast is too low.
"""

import numpy as np


def cv_rmse_pct(actual: np.ndarray, forecast: np.ndarray, *, p: int = 0) -> float:
    actual, forecast = np.asarray(actual, float).ravel(), np.asarray(forecast, float).ravel()
    n = actual.size
    if n - p <= 0 or actual.mean() == 0:
        raise ValueError("CV(RMSE) needs more values than parameters and a non-zero mean")
    return float(100.0 * np.sqrt(((actual - forecast) ** 2).sum() / (n - p)) / actual.mean())


def nmbe_pct(actual: np.ndarray, forecast: np.ndarray, *, p: int = 0) -> float:
    actual, forecast = np.asarray(actual, float).ravel(), np.asarray(forecast, float).ravel()
    n = actual.size
    if n - p <= 0 or actual.mean() == 0:
        raise ValueError("NMBE needs more values than parameters and a non-zero mean")
    return float(100.0 * (actual - forecast).sum() / ((n - p) * actual.mean()))


def interval_coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of values inside [low, high]: about 0.8 for a calibrated P10-P90 interval."""
    actual = np.asarray(actual, float)
    return float(((actual >= low) & (actual <= high)).mean())
