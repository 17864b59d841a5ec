"""Day-ahead evaluation of the LSTM beside the persistence baselines (DATA.md's split: the first
242 days train, the last 122 test; forecasts issued at midnight). Pure numpy / torch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from . import lstm
from .baselines import BASELINES
from .calendar import us_holidays
from .metrics import cv_rmse_pct, interval_coverage, nmbe_pct

TRAIN_DAYS, TEST_DAYS = 242, 122


@dataclass
class DailyData:
    """Aligned daily arrays: load (b, days, 24) kW, weather and calendar (days, ...)."""

    load: np.ndarray
    temperature: np.ndarray
    temperature_forecast: np.ndarray
    calendar: np.ndarray
    static: np.ndarray
    first_day: date


def static_features(load: np.ndarray, pv_kw: np.ndarray) -> np.ndarray:
    mean_kw = np.nanmean(load.reshape(load.shape[0], -1), axis=1) + lstm.EPS_KW
    return np.stack([np.log(mean_kw), pv_kw / mean_kw / 10.0], axis=1).astype(np.float32)


def daily_data(
    load_hourly: np.ndarray,
    temperature_hourly: np.ndarray,
    temperature_forecast_24h: np.ndarray,
    pv_kw: np.ndarray,
    first_day: date,
    *,
    skip_hours: int = 0,
) -> DailyData:
    """Cut hourly series (starting `skip_hours` before midnight of `first_day`) into days.

    `temperature_forecast_24h[t]` is the forecast made at hour t for hour t + 24, so the
    forecast for day d, issued by the midnight that starts it, is the value 24 h earlier.
    """
    days = (load_hourly.shape[-1] - skip_hours) // 24
    cut = slice(skip_hours, skip_hours + days * 24)
    # The first day has no forecast issued a day before it in the data: it uses the actuals.
    forecast = np.concatenate([temperature_hourly[cut][:24], temperature_forecast_24h[cut][:-24]])
    return make_daily(
        load_hourly[..., cut].reshape(load_hourly.shape[0], days, 24),
        temperature_hourly[cut].reshape(days, 24),
        forecast.reshape(days, 24),
        pv_kw,
        first_day,
    )


def make_daily(
    load: np.ndarray,
    temperature: np.ndarray,
    temperature_forecast: np.ndarray,
    pv_kw: np.ndarray,
    first_day: date,
    *,
    static_days: int = TRAIN_DAYS,
) -> DailyData:
    """DailyData from arrays already cut into days; calendar features from the dates."""
    days = load.shape[1]
    dates = [first_day + timedelta(days=d) for d in range(days)]
    weekday = np.array([day.weekday() for day in dates])
    holidays = us_holidays({day.year for day in dates})
    holiday = np.array([day in holidays for day in dates], dtype=np.float32)
    return DailyData(
        load=load,
        temperature=temperature,
        temperature_forecast=temperature_forecast,
        calendar=lstm.calendar_features(weekday, holiday),
        static=static_features(load[:, :static_days], pv_kw),
        first_day=first_day,
    )


@dataclass
class Scores:
    name: str
    per_building_cvrmse: np.ndarray
    total_cvrmse: float
    per_building_nmbe: np.ndarray
    total_nmbe: float

    @property
    def median_cvrmse(self) -> float:
        return float(np.median(self.per_building_cvrmse))


def score(name: str, actual: np.ndarray, forecast: np.ndarray) -> Scores:
    """actual, forecast: (b, days, 24) -> CV(RMSE) and NMBE per building and on the total."""
    return Scores(
        name=name,
        per_building_cvrmse=np.array(
            [cv_rmse_pct(a, f) for a, f in zip(actual, forecast, strict=True)]
        ),
        total_cvrmse=cv_rmse_pct(actual.sum(axis=0), forecast.sum(axis=0)),
        per_building_nmbe=np.array([nmbe_pct(a, f) for a, f in zip(actual, forecast, strict=True)]),
        total_nmbe=nmbe_pct(actual.sum(axis=0), forecast.sum(axis=0)),
    )


@dataclass
class Evaluation:
    scores: dict[str, Scores]
    coverage_p10_p90: float
    total_coverage_p10_p90: float
    trained: lstm.TrainedModel
    train_days: tuple[int, int]
    test_days: tuple[int, int]


def evaluate(
    data: DailyData,
    config: lstm.LSTMConfig,
    *,
    train_end: int = TRAIN_DAYS,
    test_end: int | None = None,
    device: str | None = None,
    progress=None,
) -> Evaluation:
    """Train on days [lookback, train_end), forecast days [train_end, test_end) day-ahead."""
    test_end = test_end or data.load.shape[1]
    train_targets = np.arange(config.lookback_days, train_end - config.horizon_days + 1)
    samples = lstm.build_samples(
        data.load, data.temperature, data.temperature_forecast, data.calendar, data.static,
        train_targets, config,
    )  # fmt: skip
    # Time-ordered so that early stopping validates on the latest training days.
    order = np.argsort(np.tile(train_targets, data.load.shape[0]), kind="stable")
    samples = lstm.Samples(
        samples.sequence[order], samples.known[order], samples.scale[order], samples.target[order]
    )
    trained = lstm.train(samples, config, device=device, progress=progress)
    test_targets = np.arange(train_end, test_end)
    test = lstm.build_samples(
        data.load, data.temperature, data.temperature_forecast, data.calendar, data.static,
        test_targets, lstm.LSTMConfig(**{**config.__dict__, "horizon_days": 1}),
    ) if config.horizon_days == 1 else None  # fmt: skip
    if test is None:
        raise ValueError("day-ahead evaluation scores the first 24 h: use horizon_days=1")
    predicted = lstm.predict(trained, test, device=device)  # (b * t, 24, 4)
    b = data.load.shape[0]
    predicted = predicted.reshape(b, test_targets.size, 24, 4)
    actual = data.load[:, train_end:test_end]
    scores = {"lstm": score("lstm", actual, predicted[..., 3])}
    for name, baseline in BASELINES.items():
        scores[name] = score(name, actual, baseline(data.load)[:, train_end:test_end])
    return Evaluation(
        scores=scores,
        coverage_p10_p90=interval_coverage(actual, predicted[..., 0], predicted[..., 2]),
        total_coverage_p10_p90=interval_coverage(
            actual.sum(axis=0), predicted[..., 0].sum(axis=0), predicted[..., 2].sum(axis=0)
        ),
        trained=trained,
        train_days=(int(config.lookback_days), int(train_end)),
        test_days=(int(train_end), int(test_end)),
    )
