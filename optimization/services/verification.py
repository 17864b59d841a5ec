"""Measurement and verification after an event, and learning from what was verified."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction

from forecasting.models import ComplianceModelVersion
from forecasting.services.compliance import compliance_model_train
from forecasting.services.windows import readings_window
from stakeholders.bulk import bulk_update

from .. import history, mv
from ..models import ACTIVE_ANSWERS, DemandResponseEvent, EventStatus, Recommendation
from ..policy import plan as policy
from ..policy import verify
from ..policy.record import may_train
from .events import EventError, event_transition

HISTORY_DAYS = 20


def event_verify(*, event: DemandResponseEvent, user=None) -> dict:
    """Baseline, delivered kW and compliance for every building asked, then the event's total
    against its target; outcomes go to the compliance model.

    Where the day had a forecast, each building's forecast counterfactual, corrected for the
    day's shared forecast error by what the event did not touch (the plan's comparison group,
    or the buildings not asked and the hours before the event) and for the building's own
    error read from its morning (policy.verify), settles (mv.verify); the X-of-Y
    baseline is kept beside it, and settles where there is no forecast. Each settled figure
    keeps how far its baseline is likely off, so that the compliance model knows how noisy
    each outcome is."""
    if event.status != EventStatus.COMPLETED:
        raise EventError(
            f"Event #{event.pk} is {event.get_status_display().lower()}; verify it once completed."
        )
    day, first_hour, last_hour = history.local_window(event)
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
    # Each asked building's days of the HISTORY_DAYS before with an ask of its own (no baseline
    # day): the utility's asks of those days, read once.
    tz = ZoneInfo(event.utility.timezone)
    event_days: dict[int, set[int]] = {}
    for building_id, starts in Recommendation.objects.filter(
        event__utility=event.utility, status__in=ACTIVE_ANSWERS,
        event__starts_at__gte=event.starts_at - timedelta(days=HISTORY_DAYS + 1),
        event__starts_at__lt=event.starts_at,
    ).values_list("building_id", "event__starts_at"):  # fmt: skip
        event_days.setdefault(building_id, set()).add(
            (starts.astimezone(tz).date() - first_day).days
        )
    forecast_ids, predicted, readings = history.forecast_and_readings(event.utility, day)
    # Not a comparison: the buildings asked in this or any other event of the day.
    asked = np.isin(forecast_ids, list(set(ids.tolist()) | history.asked_that_day(event)))
    own_error = verify.own_adjustment(predicted, readings, first_hour)
    correction = verify.day_correction(
        predicted, readings, asked, first_hour, last_hour, event.comparison_group, own_error
    )
    forecast = dict(zip(forecast_ids.tolist(), predicted, strict=True))
    own = dict(zip(forecast_ids.tolist(), own_error, strict=True))
    # How far each counterfactual is likely off, as the plan took it (policy.plan).
    p10, _, p90 = history.run_quantiles(history.latest_run(event.utility, day), ids)
    window_sd = policy.baseline_sd_kw(p10, p90, first_hour, last_hour, np.full(ids.size, np.nan))
    delivered_total, verified, unverifiable = 0.0, 0, 0
    settled = []
    with transaction.atomic():
        for position, rec in enumerate(recommendations):
            before, today = load[position, :HISTORY_DAYS], load[position, HISTORY_DAYS]
            eligible = same_kind & np.isfinite(before).all(axis=1)
            days_asked = event_days.get(rec.building_id, ())
            eligible[[d for d in days_asked if 0 <= d < HISTORY_DAYS]] = False
            actual = today[first_hour:last_hour]
            if not eligible.any() or not np.isfinite(actual).all():
                unverifiable += 1
                continue
            baseline = mv.x_of_y_baseline(
                before, eligible, np.nan_to_num(today), first_hour, last_hour
            )
            counterfactual = None
            if correction is not None and rec.building_id in forecast:
                counterfactual = verify.counterfactual_kw(
                    forecast[rec.building_id][None, first_hour:last_hour], correction,
                    [own[rec.building_id]],
                )[0]  # fmt: skip
            check = mv.verify(
                baseline=baseline, actual=actual, requested_kw=rec.requested_kw,
                forecast=counterfactual,
            )  # fmt: skip
            # How far the settled baseline is likely off: the forecast's own spread where it
            # settles and has one, else the X-of-Y baseline's.
            sd = (
                float(window_sd[position])
                if check.settled_on == mv.SETTLED_ON_FORECAST and np.isfinite(window_sd[position])
                else mv.baseline_error_sd(before, eligible, first_hour, last_hour)
            )
            rec.baseline_kw, rec.baseline_sd_kw = check.baseline_kw, sd
            rec.delivered_kw, rec.complied = check.settled_kw, check.complied
            rec.settled_on = check.settled_on
            rec.forecast_baseline_kw = (
                None if counterfactual is None else float(np.mean(counterfactual))
            )
            rec.delivered_vs_forecast_kw = check.delivered_vs_forecast_kw
            settled.append(rec)
            delivered_total += check.settled_kw
            verified += 1
        bulk_update(
            Recommendation, SETTLED_FIELDS, SETTLED_TYPES,
            ((rec.pk, *(getattr(rec, name) for name in SETTLED_FIELDS)) for rec in settled),
        )  # fmt: skip
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


SETTLED_FIELDS = (
    "baseline_kw", "baseline_sd_kw", "delivered_kw", "complied", "settled_on",
    "forecast_baseline_kw", "delivered_vs_forecast_kw",
)  # fmt: skip
SETTLED_TYPES = ("float8", "float8", "float8", "bool", "text", "float8", "float8")


def compliance_learn(*, utility) -> ComplianceModelVersion | None:
    """Retrain on all verified outcomes once there are enough of both kinds."""
    outcomes = history.training_outcomes(utility)
    if outcomes is None or not may_train(outcomes.complied):
        return None
    return compliance_model_train(utility=utility, events=outcomes)
