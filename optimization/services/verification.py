"""Measurement and verification after an event, and learning from what was verified."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction

from forecasting import compliance
from forecasting.models import ComplianceModelVersion
from forecasting.services.compliance import MIN_OUTCOMES, compliance_model_train
from forecasting.services.windows import readings_window

from .. import mv
from ..models import DemandResponseEvent, EventStatus, Recommendation
from ..portfolio import DELIVERY_SHARE
from .events import EventError, event_transition
from .planning import (
    ACTIVE_ANSWERS,
    _forecast_spread,
    _local_window,
    asked_that_day,
    forecast_and_readings,
    latest_run,
)

HISTORY_DAYS = 20


def event_verify(*, event: DemandResponseEvent, user=None) -> dict:
    """Baseline, delivered kW and compliance for every building asked, then the event's total
    against its target; outcomes go to the compliance model.

    Where the day had a forecast, each building's forecast counterfactual, corrected for the
    day's shared forecast error by what the event did not touch (the plan's comparison group,
    or the buildings not asked and the hours before the event), settles (mv.verify); the X-of-Y
    baseline is kept beside it, and settles where there is no forecast. Each settled figure
    keeps how far its baseline is likely off, so that the compliance model knows how noisy
    each outcome is."""
    if event.status != EventStatus.COMPLETED:
        raise EventError(
            f"Event #{event.pk} is {event.get_status_display().lower()}; verify it once completed."
        )
    day, first_hour, last_hour = _local_window(event)
    recommendations = list(
        event.recommendations.filter(status__in=ACTIVE_ANSWERS)
        .select_related("building")
        .order_by("building_id")
    )
    ids = np.array([rec.building_id for rec in recommendations])
    first_day = day - timedelta(days=HISTORY_DAYS)
    load = readings_window(building_ids=ids, first_day=first_day, days=HISTORY_DAYS + 1).astype(
        float
    )
    weekend = np.array(
        [(first_day + timedelta(days=d)).weekday() >= 5 for d in range(HISTORY_DAYS)]
    )
    same_kind = weekend == (day.weekday() >= 5)
    other_events = set(
        Recommendation.objects.filter(
            building_id__in=ids.tolist(), status__in=ACTIVE_ANSWERS,
            event__starts_at__gte=event.starts_at - timedelta(days=HISTORY_DAYS + 1),
            event__starts_at__lt=event.starts_at,
        ).values_list("building_id", "event__starts_at")
    )  # fmt: skip
    forecast_ids, predicted, readings = forecast_and_readings(event.utility, day)
    # Not a comparison: the buildings asked in this or any other event of the day.
    asked = np.isin(forecast_ids, list(set(ids.tolist()) | asked_that_day(event)))
    correction = _forecast_correction(
        predicted, readings, asked, first_hour, last_hour, event.comparison_group
    )
    forecast = dict(zip(forecast_ids.tolist(), predicted, strict=True))
    # The forecast's own error over the window, per building, from its P10-P90 (an hour's,
    # taken for the window's: a forecast's errors run on from hour to hour, as planning takes
    # them too).
    hourly_sd, known, _ = _forecast_spread(
        event, [rec.building for rec in recommendations], latest_run(event.utility, day)
    )
    window_sd = np.where(known, hourly_sd, np.nan)
    delivered_total, verified, unverifiable = 0.0, 0, 0
    with transaction.atomic():
        for position, rec in enumerate(recommendations):
            history, today = load[position, :HISTORY_DAYS], load[position, HISTORY_DAYS]
            event_days = {
                (starts.astimezone(ZoneInfo(event.utility.timezone)).date() - first_day).days
                for building_id, starts in other_events
                if building_id == rec.building_id
            }
            eligible = same_kind & np.isfinite(history).all(axis=1)
            eligible[[d for d in event_days if 0 <= d < HISTORY_DAYS]] = False
            actual = today[first_hour:last_hour]
            if not eligible.any() or not np.isfinite(actual).all():
                unverifiable += 1
                continue
            baseline = mv.x_of_y_baseline(
                history, eligible, np.nan_to_num(today), first_hour, last_hour
            )
            counterfactual = None
            if correction is not None and rec.building_id in forecast:
                counterfactual = forecast[rec.building_id][first_hour:last_hour] * correction
            check = mv.verify(
                baseline=baseline, actual=actual, requested_kw=rec.requested_kw,
                forecast=counterfactual,
            )  # fmt: skip
            # How far the settled baseline is likely off: the forecast's own spread where it
            # settles and has one, else the X-of-Y baseline's.
            sd = (
                float(window_sd[position])
                if check.settled_on == mv.SETTLED_ON_FORECAST and np.isfinite(window_sd[position])
                else mv.baseline_error_sd(history, eligible, first_hour, last_hour)
            )
            Recommendation.objects.filter(pk=rec.pk).update(
                baseline_kw=check.baseline_kw,
                baseline_sd_kw=sd,
                delivered_kw=check.settled_kw,
                complied=check.complied,
                settled_on=check.settled_on,
                forecast_baseline_kw=None
                if counterfactual is None
                else float(np.mean(counterfactual)),
                delivered_vs_forecast_kw=check.delivered_vs_forecast_kw,
            )
            delivered_total += check.settled_kw
            verified += 1
        event_transition(
            event=event, to=EventStatus.VERIFIED, user=user,
            note=f"{verified} verified, {unverifiable} without readings; delivered {delivered_total:,.1f} kW",
            delivered_kw=delivered_total, target_met=delivered_total >= event.target_kw,
            forecast_correction=correction,
        )  # fmt: skip
    model = compliance_learn(utility=event.utility)
    return {
        "verified": verified,
        "unverifiable": unverifiable,
        "delivered_kw": round(delivered_total, 3),
        "target_met": delivered_total >= event.target_kw,
        "forecast_correction": correction,
        "compliance_model_version": model.version if model else None,
    }


def _forecast_correction(
    predicted, readings, asked, first_hour, last_hour, held_out
) -> float | None:
    """mv.forecast_correction over every building with a forecast and a whole day of readings
    (`held_out` of them were kept out of the plan as its comparison group); None without any."""
    complete = np.isfinite(readings).all(axis=1)
    if not complete.any():
        return None
    return mv.forecast_correction(
        predicted[complete], readings[complete], asked[complete], first_hour, last_hour,
        held_out=held_out,
    )  # fmt: skip


def verified_outcomes(*, utility) -> compliance.Events | None:
    """Every verified ask of the utility's buildings, oldest first, as the model sees them:
    its features, whether it complied, the share of the kW asked it delivered, and how noisy
    both are (from the baseline's likely error; taken as exact where it is not known)."""
    rows = list(
        Recommendation.objects.filter(
            event__utility=utility, complied__isnull=False, delivered_kw__isnull=False
        )
        .exclude(features={})
        .order_by("event__starts_at", "pk")
        .values_list("features", "complied", "delivered_kw", "requested_kw", "baseline_sd_kw")
    )
    if not rows:
        return None
    columns = {
        name: np.array(
            [features.get(name) for features, *_ in rows],
            dtype=object if name == "building_type" else float,
        )
        for name in compliance.FEATURE_FIELDS
        if all(name in features for features, *_ in rows)
    }
    columns["building_type"] = columns["building_type"].astype(str)
    complied = np.array([row[1] for row in rows], dtype=bool)
    delivered, requested = (np.array([row[i] for row in rows], dtype=float) for i in (2, 3))
    spread = np.array([0.0 if row[4] is None else row[4] for row in rows], dtype=float)
    q0, q1 = compliance.label_noise(
        requested, spread, comply_share=mv.COMPLY_SHARE, delivery_share=DELIVERY_SHARE
    )
    return compliance.Events(
        **columns,
        complied=complied,
        label_q0=q0,
        label_q1=q1,
        delivered_share=delivered / requested,
        delivered_share_sd=spread / requested,
    )


def compliance_learn(*, utility) -> ComplianceModelVersion | None:
    """Retrain on all verified outcomes once there are enough of both kinds."""
    outcomes = verified_outcomes(utility=utility)
    if (
        outcomes is None
        or len(outcomes.complied) < MIN_OUTCOMES
        or len(np.unique(outcomes.complied)) < 2
    ):
        return None
    return compliance_model_train(utility=utility, events=outcomes)
