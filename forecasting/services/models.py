"""Training forecasting models into the registry, and promoting or rolling them back."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import asdict, dataclass, replace
from datetime import timedelta

import numpy as np
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from stakeholders.models import DataOrigin, Utility

from .. import cleaning, lstm, weather
from ..evaluation import (
    TEST_DAYS,
    TRAIN_DAYS,
    DailyData,
    Scores,
    evaluate,
    held_out_score,
    make_daily,
    promotion_decision,
    score_summary,
)
from ..hourly import FULL_MASK
from ..models import ForecastModel, MeterDay, SeriesDay
from ..selectors import utility_holidays
from .windows import readings_window, series_window

MIN_TRAIN_DAYS = 60


class ForecastError(ValueError):
    """A forecasting operation that cannot be done as asked."""


def _fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


@dataclass
class TrainingData:
    """A utility's history ready to learn from: `data` splits at `train_days` into the days a
    model trains on and the held-out days it is scored on."""

    data: DailyData
    train_days: int
    spikes: int  # readings removed as meter glitches
    temperature_forecast: weather.TemperatureForecast  # and where it came from


def training_data(*, utility: Utility, stored_forecasts: bool = True) -> TrainingData:
    """The utility's measured and uploaded readings, cleaned, with weather.

    A day's temperature forecast is the stored one, else the stand-in (forecasting.weather);
    `stored_forecasts=False` takes the stand-in throughout, to see what stored ones are worth.
    """
    buildings = list(
        utility.buildings.exclude(origin=DataOrigin.SYNTHETIC)
        .order_by("pk")
        .values_list("pk", "pv_kw")
    )
    if not buildings:
        raise ForecastError(f"{utility} has no buildings with measured readings to learn from.")
    span = MeterDay.objects.filter(building__utility=utility).exclude(origin=DataOrigin.SYNTHETIC)
    bounds = span.aggregate(first=Min("day"), last=Max("day"))
    if bounds["first"] is None:
        raise ForecastError(f"{utility} has no readings yet.")
    # Partial first and last days (the CityLearn year starts at 23:00) would only add gaps.
    full = span.filter(present_mask=FULL_MASK).aggregate(first=Min("day"), last=Max("day"))
    first = max(bounds["first"], full["first"] or bounds["first"])
    last = min(bounds["last"], full["last"] or bounds["last"])
    days = (last - first).days + 1
    if days < MIN_TRAIN_DAYS + lstm.LSTMConfig().lookback_days:
        raise ForecastError(
            f"{utility} has {days} days of readings; training needs at least "
            f"{MIN_TRAIN_DAYS + lstm.LSTMConfig().lookback_days}."
        )
    ids = np.array([pk for pk, _ in buildings])
    load = readings_window(building_ids=ids, first_day=first, days=days)
    flat, spikes = cleaning.remove_spikes(load.reshape(len(ids), -1))
    load = cleaning.fill_gaps(flat).reshape(len(ids), days, 24)
    # From the day before the first, whose temperatures stand in for the first day's forecast.
    measured = series_window(
        utility=utility,
        series=SeriesDay.Series.TEMPERATURE_C,
        first_day=first - timedelta(days=1),
        days=days + 1,
    )
    stored = series_window(
        utility=utility, series=SeriesDay.Series.TEMPERATURE_FORECAST_C, first_day=first, days=days
    )
    if not stored_forecasts:
        stored[:] = np.nan
    forecast = weather.temperature_forecast(measured[1:], stored, day_before_c=measured[0])
    temperature = cleaning.fill_gaps(measured[1:].reshape(1, -1)).reshape(days, 24)
    forecast_c = cleaning.fill_gaps(forecast.forecast_c.reshape(1, -1)).reshape(days, 24)
    pv = np.array([pv or 0.0 for _, pv in buildings])
    train_days = round(days * TRAIN_DAYS / (TRAIN_DAYS + TEST_DAYS))
    holidays = utility_holidays(utility=utility, years=range(first.year, last.year + 1))
    data = make_daily(
        load, temperature, forecast_c, pv, first, holidays=holidays, static_days=train_days
    )
    return TrainingData(
        data=data, train_days=train_days, spikes=spikes, temperature_forecast=forecast
    )


@dataclass
class _HeldOut:
    """A new version's held-out days and its score there, to judge the active version by."""

    data: DailyData
    train_end: int
    scores: Scores


def forecast_model_train(
    *, utility: Utility, config: lstm.LSTMConfig | None = None, job=None, progress=None
) -> ForecastModel:
    """Train on the first two thirds of the history, score on the last third, and register.

    A utility without enough measured temperature gets a model that learns without it. The new
    version becomes active where none is, or where it beats the active one on the same held-out
    days (evaluation.promotion_decision); otherwise it waits as a candidate for promotion.
    """
    config = config or lstm.LSTMConfig()
    prepared = training_data(utility=utility)
    data, train_days = prepared.data, prepared.train_days
    temperature = prepared.temperature_forecast.record
    if prepared.temperature_forecast.source == weather.NONE:
        config = replace(config, use_temperature=False)
    elif not config.use_temperature:
        temperature = {
            **temperature,
            "source": weather.NONE,
            "label": "Trained without temperature",
        }
    result = evaluate(data, config, train_end=train_days, progress=progress)
    metrics = {name: score_summary(scores) for name, scores in result.scores.items()}
    metrics["p10_p90_coverage"] = round(result.coverage_p10_p90, 3)
    metrics["spikes_removed"] = prepared.spikes
    metrics["epochs"] = len(result.trained.history)
    metrics["training"] = result.trained.training
    metrics["temperature_forecast"] = temperature
    return _register(
        utility=utility,
        held_out=_HeldOut(data=data, train_end=train_days, scores=result.scores["lstm"]),
        hyperparameters=asdict(config),
        train_start=data.first_day + timedelta(days=config.lookback_days),
        train_end=data.first_day + timedelta(days=train_days - 1),
        test_start=data.first_day + timedelta(days=train_days),
        test_end=data.first_day + timedelta(days=data.load.shape[1] - 1),
        buildings=data.load.shape[0],
        data_fingerprint=_fingerprint(data.load, data.temperature),
        metrics=metrics,
        weights=result.trained.to_bytes(),
        device=lstm.pick_device(),
        job=job,
    )


@transaction.atomic
def forecast_model_promote(*, model: ForecastModel) -> ForecastModel:
    """Make `model` its utility's active model; the one it replaces is retired."""
    locked = ForecastModel.objects.select_for_update().filter(utility=model.utility_id)
    list(locked)  # lock every version of this utility while the active one changes
    model.refresh_from_db()
    if model.status == ForecastModel.Status.ACTIVE:
        raise ForecastError(f"Version {model.version} is already active.")
    locked.filter(status=ForecastModel.Status.ACTIVE).update(status=ForecastModel.Status.RETIRED)
    locked.filter(pk=model.pk).update(
        status=ForecastModel.Status.ACTIVE, promoted_at=timezone.now()
    )
    model.refresh_from_db()
    return model


@transaction.atomic
def forecast_model_rollback(*, utility: Utility) -> ForecastModel:
    """Bring back the version that was active before the current one."""
    active = ForecastModel.objects.filter(
        utility=utility, status=ForecastModel.Status.ACTIVE
    ).first()
    if active is None:
        raise ForecastError(f"{utility} has no active model to roll back from.")
    previous = (
        ForecastModel.objects.filter(
            utility=utility,
            status=ForecastModel.Status.RETIRED,
            promoted_at__isnull=False,
        )
        .order_by("-promoted_at")
        .first()
    )
    if previous is None:
        raise ForecastError(f"{utility} has no earlier active version to roll back to.")
    return forecast_model_promote(model=previous)


@transaction.atomic
def _register(
    *, utility: Utility, held_out: _HeldOut | None, metrics: dict, **fields
) -> ForecastModel:
    """Add the next version of `utility`'s models, active or a candidate as
    evaluation.promotion_decision judges it against the active version on `held_out` (the
    days the new one was scored on; None for a version never scored on this utility's days).
    The decision is kept in metrics["promotion"]."""
    Utility.objects.select_for_update().filter(pk=utility.pk).first()  # one version at a time
    latest = ForecastModel.objects.filter(utility=utility).aggregate(v=Max("version"))["v"]
    active = ForecastModel.objects.filter(
        utility=utility, status=ForecastModel.Status.ACTIVE
    ).first()
    active_scores, why_unscored = None, "it has no held-out days of this utility"
    if active is not None and held_out is not None:
        active_scores, why_unscored = _scores_on(active, held_out)
    promotion = promotion_decision(
        candidate=held_out.scores if held_out else None,
        active=active_scores,
        active_version=active.version if active else None,
        why_unscored=why_unscored,
    )
    promoted = promotion["promoted"]
    if promoted and active is not None:
        ForecastModel.objects.filter(pk=active.pk).update(status=ForecastModel.Status.RETIRED)
    return ForecastModel.objects.create(
        utility=utility,
        version=(latest or 0) + 1,
        status=ForecastModel.Status.ACTIVE if promoted else ForecastModel.Status.CANDIDATE,
        promoted_at=timezone.now() if promoted else None,
        metrics={**metrics, "promotion": promotion},
        **fields,
    )


def _scores_on(model: ForecastModel, held_out: _HeldOut) -> tuple[Scores | None, str]:
    """`model`'s scores on the held-out days, or None and why it cannot be scored there."""
    try:
        trained = lstm.TrainedModel.from_bytes(bytes(model.weights))
        return held_out_score(trained, held_out.data, train_end=held_out.train_end), ""
    except (ValueError, RuntimeError, KeyError, pickle.UnpicklingError) as exc:
        return None, f"version {model.version} cannot forecast them: {exc}"


def active_model(*, utility: Utility) -> ForecastModel | None:
    return ForecastModel.objects.filter(utility=utility, status=ForecastModel.Status.ACTIVE).first()


def forecast_model_transfer(*, model: ForecastModel, utility: Utility) -> ForecastModel:
    """Register a model trained elsewhere for `utility` (one with too little history of its
    own to train on, such as a new or synthetic portfolio): a new version, same weights."""
    if model.utility_id == utility.pk:
        raise ForecastError("The model already belongs to this utility.")
    return _register(
        utility=utility,
        held_out=None,
        architecture=model.architecture,
        hyperparameters={**model.hyperparameters, "transferred_from": model.pk},
        train_start=model.train_start,
        train_end=model.train_end,
        test_start=model.test_start,
        test_end=model.test_end,
        buildings=model.buildings,
        data_fingerprint=model.data_fingerprint,
        metrics=model.metrics,
        weights=model.weights,
        device=model.device,
    )
