"""Measurement and verification after an event, and learning from what was verified."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction

from forecasting import compliance
from forecasting.models import BuildingForecast, ComplianceModelVersion, ForecastRun
from forecasting.services.compliance import MIN_OUTCOMES, compliance_model_train
from forecasting.services.windows import readings_window

from .. import mv
from ..models import DemandResponseEvent, EventStatus, Recommendation
from .events import EventError, event_transition
from .planning import ACTIVE_ANSWERS, _local_window

HISTORY_DAYS = 20


def event_verify(*, event: DemandResponseEvent, user=None) -> dict:
    """Baseline, delivered kW and compliance for every building asked, then the event's total
    against its target; outcomes go to the compliance model."""
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
    forecast = _forecast_window(event, day, first_hour, last_hour)
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
            check = mv.verify(
                baseline=baseline, actual=actual, requested_kw=rec.requested_kw,
                forecast=forecast.get(rec.building_id),
            )  # fmt: skip
            Recommendation.objects.filter(pk=rec.pk).update(
                baseline_kw=check.baseline_kw,
                delivered_kw=check.delivered_kw,
                complied=check.complied,
            )
            delivered_total += check.delivered_kw
            verified += 1
        event_transition(
            event=event, to=EventStatus.VERIFIED, user=user,
            note=f"{verified} verified, {unverifiable} without readings; delivered {delivered_total:,.1f} kW",
            delivered_kw=delivered_total, target_met=delivered_total >= event.target_kw,
        )  # fmt: skip
    model = compliance_learn(utility=event.utility)
    return {
        "verified": verified,
        "unverifiable": unverifiable,
        "delivered_kw": round(delivered_total, 3),
        "target_met": delivered_total >= event.target_kw,
        "compliance_model_version": model.version if model else None,
    }


def _forecast_window(event, day, first_hour, last_hour) -> dict[int, np.ndarray]:
    run = (
        ForecastRun.objects.filter(
            utility=event.utility, day=day, status=ForecastRun.Status.COMPLETE
        )
        .order_by("-created_at")
        .first()
    )
    if run is None:
        return {}
    return {
        building_id: np.frombuffer(bytes(p50), "<f4")[first_hour:last_hour].astype(float)
        for building_id, p50 in BuildingForecast.objects.filter(run=run).values_list(
            "building_id", "p50_kw"
        )
    }


def verified_outcomes(*, utility) -> compliance.Events | None:
    """Every verified ask of the utility's buildings, oldest first, as the model sees them:
    its features, whether it complied, and the share of the kW asked it delivered."""
    rows = list(
        Recommendation.objects.filter(
            event__utility=utility, complied__isnull=False, delivered_kw__isnull=False
        )
        .exclude(features={})
        .order_by("event__starts_at", "pk")
        .values_list("features", "complied", "delivered_kw", "requested_kw")
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
    return compliance.Events(
        **columns,
        complied=np.array([complied for _, complied, _, _ in rows]),
        delivered_share=np.array([delivered / requested for _, _, delivered, requested in rows]),
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
