"""The day-ahead temperature forecast a model reads for each day, and where it came from.

A day's measured temperature is never its own forecast: that is perfect foresight, and a
held-out score earned with it is one no utility will see. Where no forecast was stored for an
hour, the stand-in is persistence: the same hour of the day before, measured (or, where that
day was not measured either, the forecast it had). Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STORED, PREVIOUS_DAY, MIXED, NONE = "stored", "previous_day", "mixed", "none"
LABELS = {
    STORED: "Stored day-ahead forecasts",
    PREVIOUS_DAY: "Stand-in: same hours of the day before",
    MIXED: "Stored day-ahead forecasts; stand-in (same hours of the day before) where missing",
    NONE: "Trained without temperature (none imported)",
}
# Below this share of measured hours a model learns without temperature rather than from
# temperatures that are mostly gap filling.
MIN_MEASURED_SHARE = 0.5


@dataclass(frozen=True)
class TemperatureForecast:
    """forecast_c: (days, 24) °C, NaN where neither a stored forecast nor a stand-in exists."""

    forecast_c: np.ndarray
    source: str  # STORED, PREVIOUS_DAY, MIXED or NONE
    stored_share: float  # share of the hours whose forecast is a stored one

    @property
    def label(self) -> str:
        return LABELS[self.source]

    @property
    def record(self) -> dict:
        """What a model record says of its temperature forecasts (metrics["temperature_forecast"])."""
        return {
            "source": self.source,
            "label": self.label,
            "stored_share": round(self.stored_share, 3),
        }


def temperature_forecast(
    measured_c: np.ndarray,
    stored_c: np.ndarray,
    *,
    day_before_c: np.ndarray | None = None,
) -> TemperatureForecast:
    """The forecast of each day as known at the midnight that starts it.

    measured_c, stored_c: (days, 24) °C, NaN where missing (stored_c is the stored day-ahead
    forecast for each day); day_before_c: (24,) measured on the day before the first, if known.
    A stored hour is kept; any other hour takes the same hour of the day before. The source is
    NONE where fewer than MIN_MEASURED_SHARE of the hours were measured.
    """
    measured = np.asarray(measured_c, dtype=np.float64)
    stored = np.asarray(stored_c, dtype=np.float64)
    has_stored = np.isfinite(stored)
    forecast = np.empty_like(measured)
    known = np.full(measured.shape[1], np.nan) if day_before_c is None else day_before_c
    for day in range(measured.shape[0]):
        forecast[day] = np.where(has_stored[day], stored[day], known)
        # By the next midnight the day is measured; where it is not, its forecast is the best guess.
        known = np.where(np.isfinite(measured[day]), measured[day], forecast[day])
    stored_share = float(has_stored.mean()) if has_stored.size else 0.0
    if not has_stored.size or np.isfinite(measured).mean() < MIN_MEASURED_SHARE:
        source = NONE
    elif stored_share == 1.0:
        source = STORED
    elif stored_share == 0.0:
        source = PREVIOUS_DAY
    else:
        source = MIXED
    return TemperatureForecast(forecast_c=forecast, source=source, stored_share=stored_share)
