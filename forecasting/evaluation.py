"""Day-ahead evaluation of the LSTM beside the persistence baselines (DATA.md's split: the first
242 days train, the last 122 test; forecasts issued at midnight). Pure numpy / torch."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from . import cleaning, lstm
from .baselines import BASELINES
from .metrics import cv_rmse_pct, interval_coverage, nmbe_pct
from .weather import temperature_forecast

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
    holidays: Collection[date],
    skip_hours: int = 0,
) -> DailyData:
    """Cut hourly series (starting `skip_hours` before midnight of `first_day`) into days.

    `temperature_forecast_24h[t]` is the forecast made at hour t for hour t + 24, so the
    forecast for day d, issued by the midnight that starts it, is the value 24 h earlier.
    The first day has none in the data and takes the stand-in (forecasting.weather).
    """
    days = (load_hourly.shape[-1] - skip_hours) // 24
    cut = slice(skip_hours, skip_hours + days * 24)
    temperature = temperature_hourly[cut].reshape(days, 24)
    stored = np.concatenate([np.full(24, np.nan), temperature_forecast_24h[cut][:-24]])
    day_before = temperature_hourly[skip_hours - 24 : skip_hours] if skip_hours >= 24 else None
    forecast = temperature_forecast(temperature, stored.reshape(days, 24), day_before_c=day_before)
    return make_daily(
        load_hourly[..., cut].reshape(load_hourly.shape[0], days, 24),
        temperature,
        cleaning.fill_gaps(forecast.forecast_c.reshape(1, -1)).reshape(days, 24),
        pv_kw,
        first_day,
        holidays=holidays,
    )


def make_daily(
    load: np.ndarray,
    temperature: np.ndarray,
    temperature_forecast: np.ndarray,
    pv_kw: np.ndarray,
    first_day: date,
    *,
    holidays: Collection[date],
    static_days: int = TRAIN_DAYS,
) -> DailyData:
    """DailyData from arrays already cut into days; calendar features from the dates and the
    utility's `holidays`."""
    days = load.shape[1]
    dates = [first_day + timedelta(days=d) for d in range(days)]
    weekday = np.array([day.weekday() for day in dates])
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


def score_summary(scores: Scores) -> dict:
    """The held-out figures of one forecaster, rounded, as a model record keeps them."""
    return {
        "median_cvrmse_pct": round(scores.median_cvrmse, 2),
        "min_cvrmse_pct": round(float(scores.per_building_cvrmse.min()), 2),
        "max_cvrmse_pct": round(float(scores.per_building_cvrmse.max()), 2),
        "total_cvrmse_pct": round(scores.total_cvrmse, 2),
        "median_nmbe_pct": round(float(np.median(scores.per_building_nmbe)), 2),
        "total_nmbe_pct": round(scores.total_nmbe, 2),
    }


def held_out_rows(scores: dict[str, Scores], **columns) -> list[dict]:
    """One row per forecaster (the LSTM, then the baselines) for a comparison table; each row
    starts with `columns` (say temperature_forecast="stand-in") to tell evaluations apart."""
    return [
        {**columns, "forecaster": name, **score_summary(scored)} for name, scored in scores.items()
    ]


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
    if config.horizon_days != 1:
        raise ValueError("day-ahead evaluation scores the first 24 h: use horizon_days=1")
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
    predicted = held_out_forecast(
        trained, data, train_end=train_end, test_end=test_end, device=device
    )
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


def held_out_forecast(
    trained: lstm.TrainedModel,
    data: DailyData,
    *,
    train_end: int,
    test_end: int | None = None,
    device: str | None = None,
) -> np.ndarray:
    """-> (b, days, 24, 4) kW: a trained model's day-ahead P10 / P50 / P90 / mean of days
    [train_end, test_end). ValueError where it cannot forecast them: a horizon other than a
    day, a lookback reaching before the data, or inputs of another shape than it learnt."""
    config = trained.config
    if config.horizon_days != 1:
        raise ValueError(f"it forecasts {config.horizon_h} h, day-ahead evaluation scores 24 h")
    if train_end < config.lookback_days:
        raise ValueError(f"its {config.lookback_days}-day lookback reaches before the data")
    test_end = test_end or data.load.shape[1]
    targets = np.arange(train_end, test_end)
    test = lstm.build_samples(
        data.load, data.temperature, data.temperature_forecast, data.calendar, data.static,
        targets, config,
    )  # fmt: skip
    shape = (test.sequence.shape[2], test.known.shape[1])
    if shape != (trained.sequence_features, trained.known_features):
        raise ValueError(
            f"it reads {trained.sequence_features} + {trained.known_features} features, "
            f"these days give {shape[0]} + {shape[1]}"
        )
    predicted = lstm.predict(trained, test, device=device)  # (b * days, 24, 4)
    return predicted.reshape(data.load.shape[0], targets.size, 24, 4)


def held_out_score(
    trained: lstm.TrainedModel, data: DailyData, *, train_end: int, test_end: int | None = None
) -> Scores:
    """A trained model's scores on days [train_end, test_end), as `evaluate` scores its own."""
    predicted = held_out_forecast(trained, data, train_end=train_end, test_end=test_end)
    return score(
        "lstm", data.load[:, train_end : test_end or data.load.shape[1]], predicted[..., 3]
    )


PROMOTION_METRIC = "median_cvrmse_pct"


def promotion_decision(
    *,
    candidate: Scores | None,
    active: Scores | None,
    active_version: int | None,
    why_unscored: str = "",
) -> dict:
    """Whether a new model becomes active on its own (metrics["promotion"]): only where no
    model is active, or where it beats the active one's median CV(RMSE) on the same held-out
    days (a tie keeps the model that is serving). `why_unscored` says why a side is missing."""
    if active_version is None:
        return {"promoted": True, "reason": "No version was active."}
    if candidate is None or active is None:
        return {
            "promoted": False,
            "reason": (
                f"Not compared with version {active_version} on the same held-out days "
                f"({why_unscored}): promote it by hand to replace that one."
            ),
        }
    new, old = candidate.median_cvrmse, active.median_cvrmse
    promoted = new < old
    return {
        "promoted": promoted,
        "reason": (
            f"Median CV(RMSE) {new:.2f} % {'beats' if promoted else 'does not beat'} "
            f"version {active_version}'s {old:.2f} % on the same held-out days."
        ),
        "metric": PROMOTION_METRIC,
        "candidate": round(new, 2),
        "active": round(old, 2),
        "active_version": active_version,
    }
