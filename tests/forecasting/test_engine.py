"""The pure forecasting engine: metrics, baselines, cleaning, grid strain, the LSTM, holidays.

No database: small deterministic inputs and figures worked out by hand.
"""

import math
from dataclasses import asdict
from datetime import date

import numpy as np
import pytest
import torch

from forecasting import baselines, cleaning, grid, lstm
from forecasting.calendar import holiday_dates
from forecasting.metrics import cv_rmse_pct, interval_coverage, nmbe_pct

# A test-sized model: a step floor of 10 (the default is 2,000) keeps each training a blink.
TINY = lstm.LSTMConfig(epochs=3, hidden=8, head_hidden=16, patience=2, min_steps=10, max_steps=200)


# --- metrics ---------------------------------------------------------------------------------

# actual   = [2, 4, 6, 8]   mean 5
# forecast = [3, 4, 5, 10]
# actual - forecast = [-1, 0, 1, -2]; squares 1 + 0 + 1 + 4 = 6; sum of errors = -2
# CV(RMSE), p=0: 100 * sqrt(6 / 4) / 5 = 100 * 1.2247449 / 5 = 24.494897 %
# CV(RMSE), p=1: 100 * sqrt(6 / 3) / 5 = 100 * 1.4142136 / 5 = 28.284271 %
# NMBE,     p=0: 100 * -2 / (4 * 5) = -10 %
# NMBE,     p=1: 100 * -2 / (3 * 5) = -13.333333 %
ACTUAL = np.array([2.0, 4.0, 6.0, 8.0])
FORECAST = np.array([3.0, 4.0, 5.0, 10.0])


def test_cv_rmse_matches_the_hand_computation():
    assert cv_rmse_pct(ACTUAL, FORECAST) == pytest.approx(24.494897, abs=1e-6)


def test_cv_rmse_with_one_parameter_divides_by_n_minus_1():
    assert cv_rmse_pct(ACTUAL, FORECAST, p=1) == pytest.approx(28.284271, abs=1e-6)


def test_nmbe_matches_the_hand_computation_and_is_negative_when_forecast_is_high():
    assert nmbe_pct(ACTUAL, FORECAST) == pytest.approx(-10.0)
    assert nmbe_pct(ACTUAL, FORECAST, p=1) == pytest.approx(-13.333333, abs=1e-6)


def test_perfect_forecast_scores_zero():
    assert cv_rmse_pct(ACTUAL, ACTUAL) == 0.0
    assert nmbe_pct(ACTUAL, ACTUAL) == 0.0


@pytest.mark.parametrize("metric", [cv_rmse_pct, nmbe_pct])
def test_metrics_refuse_a_zero_mean(metric):
    with pytest.raises(ValueError, match="non-zero mean"):
        metric(np.array([1.0, -1.0, 2.0, -2.0]), np.zeros(4))


@pytest.mark.parametrize("metric", [cv_rmse_pct, nmbe_pct])
def test_metrics_refuse_as_many_parameters_as_values(metric):
    with pytest.raises(ValueError, match="more values than parameters"):
        metric(ACTUAL, FORECAST, p=4)


def test_interval_coverage_counts_values_inside_the_bounds_inclusive():
    # 2 in [2, 3] yes (on the low bound); 4 in [5, 6] no; 6 in [5, 6] yes (on the high bound);
    # 8 in [7, 9] yes -> 3 of 4
    low = np.array([2.0, 5.0, 5.0, 7.0])
    high = np.array([3.0, 6.0, 6.0, 9.0])
    assert interval_coverage(ACTUAL, low, high) == 0.75


# --- baselines -------------------------------------------------------------------------------


@pytest.fixture
def ten_days():
    """(1, 10, 24): day d hour h holds 100 d + h."""
    return (100.0 * np.arange(10)[:, None] + np.arange(24)[None, :])[None]


def test_previous_day_repeats_yesterday(ten_days):
    out = baselines.previous_day(ten_days)
    assert out.shape == ten_days.shape
    assert np.isnan(out[0, 0]).all()
    for d in range(1, 10):
        np.testing.assert_array_equal(out[0, d], 100.0 * (d - 1) + np.arange(24))


def test_previous_week_repeats_the_same_weekday(ten_days):
    out = baselines.previous_week(ten_days)
    assert np.isnan(out[0, :7]).all()
    for d in range(7, 10):
        np.testing.assert_array_equal(out[0, d], 100.0 * (d - 7) + np.arange(24))


def test_mean_of_last_7_days_averages_the_week_before(ten_days):
    out = baselines.mean_of_last_7_days(ten_days)
    assert np.isnan(out[0, :7]).all()
    # days d-7 .. d-1 hold 100 (d-7) + h ... 100 (d-1) + h, whose mean is 100 (d-4) + h
    for d in range(7, 10):
        np.testing.assert_allclose(out[0, d], 100.0 * (d - 4) + np.arange(24))


def test_mean_of_last_7_days_skips_missing_hours():
    days = np.ones((1, 8, 24))
    days[0, 3, 5] = np.nan
    days[0, 4, 5] = 8.0
    out = baselines.mean_of_last_7_days(days)
    # hour 5 of day 7: six measured values, 1 1 1 8 1 1 -> 13 / 6
    assert out[0, 7, 5] == pytest.approx(13 / 6)
    assert out[0, 7, 4] == pytest.approx(1.0)


def test_mean_of_last_7_days_stays_exact_for_float32_over_years():
    rng = np.random.default_rng(7)
    days = (5_000 + 1_000 * rng.random((2, 3_650, 24))).astype(np.float32)
    out = baselines.mean_of_last_7_days(days)
    exact = np.lib.stride_tricks.sliding_window_view(days.astype(np.float64), 7, axis=1)
    expected = exact.mean(axis=-1)[:, :-1]  # the window ending on day d-1 forecasts day d
    np.testing.assert_allclose(out[:, 7:], expected, rtol=1e-6)


# --- cleaning --------------------------------------------------------------------------------


def test_remove_spikes_drops_a_meter_glitch_but_keeps_a_real_peak():
    rng = np.random.default_rng(1)
    load = 10 + rng.random((1, 240))
    load[0, 100] = 25.0  # a busy hour: above the usual range, well within 5x the 99th percentile
    p99 = np.percentile(load, 99)
    load[0, 50] = 10 * p99
    cleaned, count = cleaning.remove_spikes(load)
    assert count == 1
    assert np.isnan(cleaned[0, 50])
    assert cleaned[0, 100] == 25.0
    assert np.isfinite(np.delete(cleaned[0], 50)).all()
    assert load[0, 50] == 10 * p99  # the input is left alone


def test_fill_gaps_interpolates_a_two_hour_gap_linearly():
    load = np.arange(48, dtype=float)[None] * 2.0  # 0, 2, 4, ...
    load[0, 10:12] = np.nan
    filled = cleaning.fill_gaps(load)
    np.testing.assert_allclose(filled[0, 10:12], [20.0, 22.0])
    assert not np.isnan(load[0, 9])  # neighbours untouched
    assert np.isnan(load[0, 10])  # the input is left alone


def test_fill_gaps_fills_a_long_gap_from_the_previous_day():
    # day d hour h holds 10 d + h; 30 hours missing from day 2 00:00 to day 3 05:00
    days = 10.0 * np.arange(5)[:, None] + np.arange(24)[None, :]
    load = days.reshape(1, -1).copy()
    load[0, 48:78] = np.nan
    filled = cleaning.fill_gaps(load)
    # day 2 takes day 1; day 3's first six hours take day 2's, i.e. day 1's again
    np.testing.assert_array_equal(filled[0, 48:72], days[1])
    np.testing.assert_array_equal(filled[0, 72:78], days[1, :6])
    np.testing.assert_array_equal(filled[0, 78:], days.ravel()[78:])


def test_fill_gaps_never_leaves_nan():
    rng = np.random.default_rng(3)
    load = 1 + rng.random((4, 24 * 6))
    load[0, :5] = np.nan  # at the very start: no previous day
    load[1, -30:] = np.nan  # at the very end
    load[2, rng.random(24 * 6) < 0.5] = np.nan  # half the hours, scattered
    load[3, :] = np.nan  # nothing at all
    filled = cleaning.fill_gaps(load)
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[3], 0.0)


def test_too_little_history_flags_buildings_under_80_percent_measured():
    lookback_h = 100
    load = np.ones((3, 150))
    load[1, -21:] = np.nan  # 79 % of the window measured
    load[2, -20:] = np.nan  # 80 %: enough
    load[0, :50] = np.nan  # missing before the window does not count
    np.testing.assert_array_equal(
        cleaning.too_little_history(load, lookback_h), [False, True, False]
    )


# --- grid ------------------------------------------------------------------------------------


def test_grade_levels_change_exactly_at_the_thresholds():
    forecast = np.array([799.0, 800.0, 949.0, 950.0, 1_100.0])
    strain = grid.grade(forecast, capacity_kw=1_000.0, high_pct=80.0, critical_pct=95.0)
    np.testing.assert_allclose(strain.strain_pct, [79.9, 80.0, 94.9, 95.0, 110.0])
    assert strain.level.tolist() == ["NORMAL", "HIGH", "HIGH", "CRITICAL", "CRITICAL"]
    np.testing.assert_allclose(strain.kw_above_high, [0.0, 0.0, 149.0, 150.0, 300.0])
    np.testing.assert_allclose(strain.kw_above_critical, [0.0, 0.0, 0.0, 0.0, 150.0])


def test_grade_refuses_a_capacity_of_zero():
    with pytest.raises(ValueError, match="capacity"):
        grid.grade(np.ones(3), capacity_kw=0.0, high_pct=80.0, critical_pct=95.0)


def _quantiles(p50, sigma):
    p50, sigma = np.asarray(p50, float), np.asarray(sigma, float)
    return grid.Quantiles(
        p10=p50 - grid.Z90 * sigma, p50=p50, p90=p50 + grid.Z90 * sigma, mean=p50 + 1.0
    )


def test_aggregate_sums_p50_and_adds_spreads_in_quadrature():
    # two buildings with sigma 3 and 4 kW in every hour: the sum has sigma 5 (3-4-5), not 7
    buildings = _quantiles([[10.0, 20.0], [30.0, 40.0]], [[3.0, 3.0], [4.0, 4.0]])
    total = grid.aggregate(buildings, np.array([0, 0]), 1)
    np.testing.assert_allclose(total.p50, [[40.0, 60.0]])
    np.testing.assert_allclose(total.mean, [[42.0, 62.0]])
    np.testing.assert_allclose(total.p90, [[40.0 + 5 * grid.Z90, 60.0 + 5 * grid.Z90]])
    np.testing.assert_allclose(total.p10, [[40.0 - 5 * grid.Z90, 60.0 - 5 * grid.Z90]])


def test_aggregate_by_group_and_never_below_zero():
    buildings = _quantiles([[1.0], [2.0], [100.0]], [[3.0], [4.0], [1.0]])
    out = grid.aggregate(buildings, np.array([1, 1, 0]), 3)
    np.testing.assert_allclose(out.p50[:, 0], [100.0, 3.0, 0.0])
    np.testing.assert_allclose(out.p90[:, 0], [100.0 + grid.Z90, 3.0 + 5 * grid.Z90, 0.0])
    # group 1: 3 - 6.4 kW is below zero, so P10 stops at 0; the empty group 2 is all zeros
    np.testing.assert_allclose(out.p10[:, 0], [100.0 - grid.Z90, 0.0, 0.0])


# --- LSTM ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(42)
    buildings, days = 3, 30
    load = (rng.random((buildings, days, 24)) * 5 + 1).astype(np.float32)
    temperature = (15 + 5 * rng.standard_normal((days, 24))).astype(np.float32)
    calendar = lstm.calendar_features(np.arange(days) % 7, np.zeros(days, dtype=np.float32))
    static = rng.random((buildings, lstm.STATIC_FEATURES)).astype(np.float32)
    targets = np.arange(TINY.lookback_days, days)
    return lstm.build_samples(load, temperature, temperature, calendar, static, targets, TINY)


@pytest.fixture(scope="module")
def trained(samples):
    return lstm.train(samples, TINY)


def test_build_samples_shapes(samples):
    n = 3 * 16
    assert samples.sequence.shape == (n, 14, 48 + lstm.CALENDAR_FEATURES)
    assert samples.known.shape == (n, 24 * 2 + lstm.CALENDAR_FEATURES + lstm.STATIC_FEATURES)
    assert samples.target.shape == (n, 24)
    assert samples.scale.shape == (n,)


def test_training_is_reproducible_with_the_same_seed(samples, trained):
    again = lstm.train(samples, TINY)
    assert trained.state.keys() == again.state.keys()
    for key, tensor in trained.state.items():
        assert torch.equal(tensor, again.state[key]), key
    assert trained.steps >= TINY.min_steps
    assert trained.training == {
        "epochs": len(trained.history),
        "steps": trained.steps,
        "stopped": "epoch_cap",
    }


def test_predict_gives_ordered_non_negative_quantiles(samples, trained):
    predicted = lstm.predict(trained, samples)
    assert predicted.shape == (samples.sequence.shape[0], 24, 4)
    assert np.isfinite(predicted).all()
    assert (predicted >= 0).all()
    assert (predicted[..., 0] <= predicted[..., 1]).all()
    assert (predicted[..., 1] <= predicted[..., 2]).all()


def test_trained_model_round_trips_through_bytes(samples, trained):
    restored = lstm.TrainedModel.from_bytes(trained.to_bytes())
    assert restored.config == trained.config
    assert restored.history == trained.history
    assert restored.training == trained.training
    np.testing.assert_array_equal(lstm.predict(restored, samples), lstm.predict(trained, samples))


def _config(**changes) -> lstm.LSTMConfig:
    return lstm.LSTMConfig(**{**asdict(TINY), **changes})


def test_a_few_batches_still_get_the_step_floor(samples):
    # 48 samples, 40 of them training: one batch, one optimizer step an epoch. The epoch cap
    # (3) would stop at 3 steps; the floor of 25 steps outlasts it.
    trained = lstm.train(samples, _config(epochs=3, min_steps=25, patience=100))
    assert trained.training == {"epochs": 25, "steps": 25, "stopped": "epoch_cap"}
    assert [entry["steps"] for entry in trained.history] == list(range(1, 26))


def test_patience_counts_optimizer_steps_as_well_as_epochs(samples):
    # learning rate 0: the validation loss never improves after the first epoch (step 1). Two
    # epochs of patience alone would stop at epoch 3; 15 steps of patience hold on to step 16.
    trained = lstm.train(
        samples, _config(epochs=100, learning_rate=0.0, patience=2, patience_steps=15)
    )
    assert trained.training == {"epochs": 16, "steps": 16, "stopped": "early_stopping"}


def test_early_stopping_may_come_before_the_step_floor(samples):
    trained = lstm.train(
        samples, _config(learning_rate=0.0, min_steps=100, patience=2, patience_steps=0)
    )
    assert trained.training == {"epochs": 3, "steps": 3, "stopped": "early_stopping"}


def test_the_step_cap_ends_training_even_below_the_floor(samples):
    trained = lstm.train(samples, _config(epochs=100, min_steps=50, max_steps=7, patience=100))
    assert trained.training == {"epochs": 7, "steps": 7, "stopped": "step_cap"}


def test_progress_is_told_the_most_epochs_the_floor_allows(samples):
    seen = []
    lstm.train(samples, _config(epochs=3, min_steps=12), progress=lambda *a: seen.append(a[:2]))
    assert seen[-1] == (12, 12)


def test_a_model_without_temperature_reads_zeros_where_the_temperature_was():
    rng = np.random.default_rng(0)
    days = 20
    load = (1 + rng.random((2, days, 24))).astype(np.float32)
    calendar = lstm.calendar_features(np.arange(days) % 7, np.zeros(days, dtype=np.float32))
    static = np.zeros((2, lstm.STATIC_FEATURES), dtype=np.float32)
    missing = np.full((days, 24), np.nan, dtype=np.float32)
    config = _config(use_temperature=False)
    samples = lstm.build_samples(
        load, missing, missing, calendar, static, np.arange(14, days), config
    )
    assert np.isfinite(samples.sequence).all()
    assert np.isfinite(samples.known).all()
    np.testing.assert_array_equal(samples.sequence[:, :, 24:48], 0.0)
    np.testing.assert_array_equal(samples.known[:, :24], 0.0)


# --- calendar --------------------------------------------------------------------------------


def test_holidays_come_by_country_and_region_with_the_program_s_own_days():
    us = holiday_dates([2026], country="US")
    assert date(2026, 11, 26) in us  # Thanksgiving, the fourth Thursday
    assert date(2026, 7, 3) in us  # July 4th is a Saturday: observed on Friday
    assert date(2026, 5, 25) in us  # Memorial Day, the last Monday of May
    assert date(2026, 2, 12) not in us
    illinois = holiday_dates([2026], country="US", region="IL", extra=[date(2026, 8, 14)])
    assert {date(2026, 2, 12), date(2026, 8, 14)} <= illinois  # Lincoln's Birthday, a drill
    germany = holiday_dates([2026], country="DE", region="BY")
    assert date(2026, 10, 3) in germany  # German Unity Day
    assert date(2026, 1, 6) in germany  # Epiphany, in Bavaria
    assert date(2026, 11, 26) not in germany


def test_z90_is_the_normal_90th_percentile():
    assert 0.5 * (1 + math.erf(grid.Z90 / math.sqrt(2))) == pytest.approx(0.9)
