"""The temperature forecast a model reads: stored where there is one, else the same hours of
the day before; never the day's own measured temperature. Pure numpy, no database."""

import numpy as np
import pytest

from forecasting import weather
from forecasting.weather import temperature_forecast

NAN_DAY = np.full(24, np.nan)


@pytest.fixture
def measured():
    """(4, 24) °C: day d hour h measured 10 d + h / 10, a different value every day."""
    return 10.0 * np.arange(4)[:, None] + np.arange(24)[None, :] / 10.0


def test_without_stored_forecasts_each_day_takes_the_day_before(measured):
    stored = np.full_like(measured, np.nan)
    day_before = np.full(24, -5.0)
    out = temperature_forecast(measured, stored, day_before_c=day_before)
    np.testing.assert_array_equal(out.forecast_c[0], day_before)
    for day in range(1, 4):
        np.testing.assert_array_equal(out.forecast_c[day], measured[day - 1])
    assert not np.isclose(out.forecast_c, measured).any()  # never its own measured temperature
    assert (out.source, out.stored_share) == (weather.PREVIOUS_DAY, 0.0)


def test_the_first_day_has_no_stand_in_without_the_day_before(measured):
    out = temperature_forecast(measured, np.full_like(measured, np.nan))
    assert np.isnan(out.forecast_c[0]).all()
    np.testing.assert_array_equal(out.forecast_c[1], measured[0])


def test_stored_hours_are_kept_and_the_rest_take_the_day_before(measured):
    stored = np.full_like(measured, np.nan)
    stored[2, :12] = 99.0  # the morning of day 2 was forecast and stored
    out = temperature_forecast(measured, stored, day_before_c=NAN_DAY)
    np.testing.assert_array_equal(out.forecast_c[2, :12], 99.0)
    np.testing.assert_array_equal(out.forecast_c[2, 12:], measured[1, 12:])
    np.testing.assert_array_equal(out.forecast_c[3], measured[2])
    assert out.source == weather.MIXED
    assert out.stored_share == pytest.approx(12 / 96)
    assert out.record == {
        "source": "mixed",
        "label": weather.LABELS[weather.MIXED],
        "stored_share": 0.125,
    }


def test_every_hour_stored_is_the_stored_source(measured):
    stored = measured + 1.5
    out = temperature_forecast(measured, stored)
    np.testing.assert_array_equal(out.forecast_c, stored)
    assert (out.source, out.stored_share) == (weather.STORED, 1.0)


def test_a_day_not_measured_passes_on_its_own_forecast(measured):
    measured = measured.copy()
    measured[1] = np.nan  # day 1 was not measured: day 2's stand-in is what day 1 was given
    out = temperature_forecast(measured, np.full_like(measured, np.nan))
    np.testing.assert_array_equal(out.forecast_c[2], measured[0])
    np.testing.assert_array_equal(out.forecast_c[3], measured[2])


def test_the_record_names_the_stand_in():
    out = temperature_forecast(np.ones((3, 24)), np.full((3, 24), np.nan))
    assert out.record == {
        "source": "previous_day",
        "label": "Stand-in: same hours of the day before",
        "stored_share": 0.0,
    }


@pytest.mark.parametrize("measured_days", [0, 1])  # none, or 1 of 3 days (33 %)
def test_too_little_measured_temperature_is_none(measured_days):
    measured = np.full((3, 24), np.nan)
    measured[:measured_days] = 15.0
    out = temperature_forecast(measured, np.full((3, 24), np.nan))
    assert out.source == weather.NONE
    assert out.label == "Trained without temperature (none imported)"
