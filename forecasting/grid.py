"""Summing building forecasts into feeder and utility forecasts, and grading grid strain.
Pure numpy.

Intervals of a sum: each building's P10-P90 is read as a normal spread (P90 - P10 = 2 x 1.2816
sigma) and buildings are taken as independent, so sigma of the sum is the root of the sum of
squares. (Summing the P90s would give an interval far too wide: almost no hour has every
building at its own P90.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z90 = 1.2815515655446004


@dataclass(frozen=True)
class Quantiles:
    """(..., hours) kW arrays."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    mean: np.ndarray


def aggregate(forecasts: Quantiles, groups: np.ndarray, n_groups: int) -> Quantiles:
    """Sum (b, hours) building forecasts into (n_groups, hours) by group index (b,)."""
    hours = forecasts.p50.shape[1]
    p50 = np.zeros((n_groups, hours))
    mean = np.zeros((n_groups, hours))
    variance = np.zeros((n_groups, hours))
    np.add.at(p50, groups, forecasts.p50)
    np.add.at(mean, groups, forecasts.mean)
    sigma = (forecasts.p90 - forecasts.p10) / (2 * Z90)
    np.add.at(variance, groups, sigma.astype(np.float64) ** 2)
    spread = Z90 * np.sqrt(variance)
    return Quantiles(p10=np.maximum(p50 - spread, 0.0), p50=p50, p90=p50 + spread, mean=mean)


@dataclass(frozen=True)
class Strain:
    strain_pct: np.ndarray
    level: np.ndarray  # "NORMAL" / "HIGH" / "CRITICAL"
    kw_above_high: np.ndarray
    kw_above_critical: np.ndarray


def grade(
    forecast_kw: np.ndarray, capacity_kw: float, high_pct: float, critical_pct: float
) -> Strain:
    """Strain = forecast / capacity; HIGH at or above high_pct, CRITICAL at or above critical_pct."""
    if capacity_kw <= 0:
        raise ValueError("capacity must be above 0 kW")
    strain = 100.0 * forecast_kw / capacity_kw
    level = np.where(
        strain >= critical_pct, "CRITICAL", np.where(strain >= high_pct, "HIGH", "NORMAL")
    )
    return Strain(
        strain_pct=strain,
        level=level,
        kw_above_high=np.maximum(forecast_kw - capacity_kw * high_pct / 100.0, 0.0),
        kw_above_critical=np.maximum(forecast_kw - capacity_kw * critical_pct / 100.0, 0.0),
    )
