"""Training forecasting models into the registry, and promoting or rolling them back."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import timedelta

import numpy as np
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from stakeholders.models import DataOrigin, Utility

from .. import cleaning, lstm
from ..evaluation import TEST_DAYS, TRAIN_DAYS, evaluate, make_daily
from ..hourly import FULL_MASK
from ..models import ForecastModel, MeterDay, SeriesDay
from .windows import readings_window, series_window

MIN_TRAIN_DAYS = 60


class ForecastError(ValueError):
    """A forecasting operation that cannot be done as asked."""


def _fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def training_data(*, utility: Utility):
    """The utility's measured and uploaded readings, cleaned, with weather, as DailyData."""
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
    temperature = series_window(
        utility=utility, series=SeriesDay.Series.TEMPERATURE_C, first_day=first, days=days
    )
    forecast = series_window(
        utility=utility, series=SeriesDay.Series.TEMPERATURE_FORECAST_C, first_day=first, days=days
    )
    # Where no day-ahead weather forecast was stored, the measured temperature stands in.
    forecast = np.where(np.isnan(forecast), temperature, forecast)
    temperature = cleaning.fill_gaps(temperature.reshape(1, -1)).reshape(days, 24)
    forecast = cleaning.fill_gaps(forecast.reshape(1, -1)).reshape(days, 24)
    pv = np.array([pv or 0.0 for _, pv in buildings])
    train_days = round(days * TRAIN_DAYS / (TRAIN_DAYS + TEST_DAYS))
    data = make_daily(load, temperature, forecast, pv, first, static_days=train_days)
    return data, train_days, spikes


def forecast_model_train(
    *, utility: Utility, config: lstm.LSTMConfig | None = None, job=None, progress=None
) -> ForecastModel:
    """Train on the first two thirds of the history, score on the last third, and register.

    The first model of a utility becomes active; later ones wait as candidates for promotion.
    """
    config = config or lstm.LSTMConfig()
    data, train_days, spikes = training_data(utility=utility)
    result = evaluate(data, config, train_end=train_days, progress=progress)
    scores = result.scores
    metrics = {
        name: {
            "median_cvrmse_pct": round(s.median_cvrmse, 2),
            "min_cvrmse_pct": round(float(s.per_building_cvrmse.min()), 2),
            "max_cvrmse_pct": round(float(s.per_building_cvrmse.max()), 2),
            "total_cvrmse_pct": round(s.total_cvrmse, 2),
            "median_nmbe_pct": round(float(np.median(s.per_building_nmbe)), 2),
            "total_nmbe_pct": round(s.total_nmbe, 2),
        }
        for name, s in scores.items()
    }
    metrics["p10_p90_coverage"] = round(result.coverage_p10_p90, 3)
    metrics["spikes_removed"] = spikes
    metrics["epochs"] = len(result.trained.history)
    return _register(
        utility=utility,
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
def _register(*, utility: Utility, **fields) -> ForecastModel:
    """Add the next version of `utility`'s models; the first one becomes active."""
    Utility.objects.select_for_update().filter(pk=utility.pk).first()  # one version at a time
    latest = ForecastModel.objects.filter(utility=utility).aggregate(v=Max("version"))["v"]
    has_active = ForecastModel.objects.filter(
        utility=utility, status=ForecastModel.Status.ACTIVE
    ).exists()
    return ForecastModel.objects.create(
        utility=utility,
        version=(latest or 0) + 1,
        status=ForecastModel.Status.CANDIDATE if has_active else ForecastModel.Status.ACTIVE,
        promoted_at=None if has_active else timezone.now(),
        **fields,
    )


def active_model(*, utility: Utility) -> ForecastModel | None:
    return ForecastModel.objects.filter(utility=utility, status=ForecastModel.Status.ACTIVE).first()


def forecast_model_transfer(*, model: ForecastModel, utility: Utility) -> ForecastModel:
    """Register a model trained elsewhere for `utility` (one with too little history of its
    own to train on, such as a new or synthetic portfolio): a new version, same weights."""
    if model.utility_id == utility.pk:
        raise ForecastError("The model already belongs to this utility.")
    return _register(
        utility=utility,
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
