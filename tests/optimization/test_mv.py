"""Measurement and verification: the 10-of-10 baseline with day-of adjustment."""

import numpy as np
import pytest

from optimization import mv


def flat_history(days: int = 12, level: float = 2.0) -> np.ndarray:
    return np.full((days, 24), level)


def test_baseline_is_the_mean_of_the_last_eligible_days_in_the_window():
    # given: twelve days, the last ten at 1..10 kW in every hour, two older days at 100 kW
    history = np.vstack(
        [np.full((2, 24), 100.0), np.arange(1, 11, dtype=float)[:, None] * np.ones((1, 24))]
    )
    event_day = np.full(24, 5.5)  # equal to the baseline before the event: no adjustment
    # when
    baseline = mv.x_of_y_baseline(history, np.ones(12, bool), event_day, 16, 19)
    # then: (1 + ... + 10) / 10 = 5.5 kW
    np.testing.assert_allclose(baseline, [5.5, 5.5, 5.5])


def test_days_with_events_or_another_day_type_are_skipped():
    history = flat_history()
    history[-1] = 50.0  # an event day (or a weekend) that must not count
    eligible = np.ones(12, bool)
    eligible[-1] = False
    baseline = mv.x_of_y_baseline(history, eligible, np.full(24, 2.0), 16, 18)
    np.testing.assert_allclose(baseline, [2.0, 2.0])


def test_day_of_adjustment_scales_and_is_capped():
    history = flat_history()
    warm = np.full(24, 2.2)  # 10 % above the baseline in hours 12-14 (3 h ending 1 h before 16)
    np.testing.assert_allclose(mv.x_of_y_baseline(history, np.ones(12, bool), warm, 16, 17), [2.2])
    hot = np.full(24, 4.0)  # 100 % above: capped at +20 %
    np.testing.assert_allclose(mv.x_of_y_baseline(history, np.ones(12, bool), hot, 16, 17), [2.4])


def test_no_eligible_day_is_an_error():
    with pytest.raises(ValueError, match="no eligible day"):
        mv.x_of_y_baseline(flat_history(), np.zeros(12, bool), np.full(24, 2.0), 16, 18)


def test_verify_measures_delivered_kw_and_compliance():
    check = mv.verify(
        baseline=np.array([10.0, 10.0]), actual=np.array([7.0, 8.0]), requested_kw=3.0,
        forecast=np.array([11.0, 11.0]),
    )  # fmt: skip
    assert check.delivered_kw == pytest.approx(2.5)
    assert check.delivered_vs_forecast_kw == pytest.approx(3.5)
    # the forecast settles where there is one
    assert check.settled_on == mv.SETTLED_ON_FORECAST
    assert check.settled_kw == pytest.approx(3.5)
    assert check.complied  # 3.5 >= 0.8 x 3.0
    without = mv.verify(baseline=np.array([10.0]), actual=np.array([8.0]), requested_kw=3.0)
    assert without.settled_on == mv.SETTLED_ON_X_OF_Y
    assert not without.complied  # 2.0 < 0.8 x 3.0
    # a forecast that reads less than the X-of-Y baseline decides against it
    lower = mv.verify(
        baseline=np.array([10.0]), actual=np.array([7.0]), requested_kw=3.0,
        forecast=np.array([8.0]),
    )  # fmt: skip
    assert lower.delivered_kw == pytest.approx(3.0)
    assert not lower.complied  # 1.0 against the forecast
    # and elementwise, as the season simulator reads its asks
    np.testing.assert_array_equal(
        mv.complies(np.array([2.5, 2.3, 1.0]), np.array([3.0, 3.0, 0.0])), [True, False, False]
    )


def test_the_weather_matched_baseline_uses_the_days_of_closest_temperature():
    # given: twelve days whose load tracks their temperature; the event day is hot
    temperature = np.array([20, 21, 22, 35, 23, 24, 36, 25, 26, 37, 27, 28], dtype=float)
    history = np.repeat(temperature[:, None] / 10.0, 24, axis=1)
    # when: the three days closest to 36 degC are asked for
    baseline = mv.x_of_y_baseline(
        history, np.ones(12, bool), np.full(24, 3.6), 16, 18, x=3, y=3,
        day_temperature=temperature, event_temperature=36.0,
    )  # fmt: skip
    # then: days at 35, 36 and 37 degC (mean 3.6 kW); the plain last-3 would give 2.73
    np.testing.assert_allclose(baseline, [3.6, 3.6])


def test_the_forecast_correction_reads_only_what_the_event_did_not_touch():
    # given: every building's forecast 5 % high all day; the asked half shed 30 % in 16-19
    rng = np.random.default_rng(3)
    truth = rng.uniform(1.0, 20.0, size=(400, 1)) * np.ones((1, 24))
    forecast = truth * 1.05
    asked = np.arange(400) < 200
    actual = truth.copy()
    actual[asked, 16:19] *= 0.7
    # when
    ratio = mv.forecast_correction(forecast, actual, asked, 16, 19)
    # then: the shed load is not taken for a forecast error
    assert ratio == pytest.approx(1 / 1.05, rel=1e-6)
    # and with everyone asked, the hours before the event alone tell it
    actual[:, 16:19] = truth[:, 16:19] * 0.7
    assert mv.forecast_correction(forecast, actual, np.ones(400, bool), 16, 19) == pytest.approx(
        1 / 1.05, rel=1e-6
    )


def test_the_baselines_likely_error_is_the_buildings_day_to_day_spread():
    # given: ten eligible days whose window load alternates 9 and 11 kW (sd 1.054), and two
    # older days of 100 kW the baseline does not use
    window = np.array([100.0, 100.0] + [9.0, 11.0] * 5)
    history = window[:, None] * np.ones((1, 24))
    sd = mv.baseline_error_sd(history, np.ones(12, bool), 16, 19)
    # then: the spread the event day shares, plus the error of a ten-day mean
    assert sd == pytest.approx(np.std([9.0, 11.0] * 5, ddof=1) * np.sqrt(1.1))
    # a single eligible day tells nothing about its spread
    one = np.zeros(12, bool)
    one[-1] = True
    assert mv.baseline_error_sd(history, one, 16, 19) is None


def test_with_enough_buildings_not_asked_the_window_alone_tells_the_days_error():
    # given: a forecast that drifts over the day: 2 % high in the morning, 6 % high from noon
    n = mv.COMPARISON_MIN_BUILDINGS + 300
    rng = np.random.default_rng(4)
    truth = rng.uniform(1.0, 20.0, size=(n, 1)) * np.ones((1, 24))
    drift = np.where(np.arange(24) >= 12, 1.06, 1.02)
    forecast = truth * drift[None, :]
    asked = np.arange(n) < n - mv.COMPARISON_MIN_BUILDINGS
    actual = truth.copy()
    actual[asked, 14:17] *= 0.8
    # then: the window's comparison group gives the afternoon's error, not a blend
    assert mv.forecast_correction(forecast, actual, asked, 14, 17) == pytest.approx(1 / 1.06)
    # with too few left out, the hours before the event are read too (and carry the morning's)
    few = np.arange(n) < n - mv.COMPARISON_MIN_BUILDINGS + 1
    blended = mv.forecast_correction(forecast, actual, few, 14, 17)
    assert 1 / 1.06 < blended < 1 / 1.02


def test_a_comparison_group_held_out_by_the_plan_is_read_from_the_window_however_small():
    # given: the forecast drifts over the day as above; only 30 buildings were left out, but
    # they were held out at random as the plan's comparison group
    n = 400
    rng = np.random.default_rng(5)
    truth = rng.uniform(1.0, 20.0, size=(n, 1)) * np.ones((1, 24))
    forecast = truth * np.where(np.arange(24) >= 12, 1.06, 1.02)[None, :]
    asked = np.arange(n) >= 30
    actual = truth.copy()
    actual[asked, 14:17] *= 0.8
    # then: the afternoon's error from the group; without it, a blend with the morning's
    assert mv.forecast_correction(forecast, actual, asked, 14, 17, held_out=30) == pytest.approx(
        1 / 1.06
    )
    assert mv.forecast_correction(forecast, actual, asked, 14, 17) > 1 / 1.06 + 0.01
