"""Planning an event: who is asked and how deep (optimization.policy.plan over what
optimization.history reads), what each building is told (the recommendations, written in
bulk), and the answers (accept, or decline and the rest re-planned)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
from django.db import transaction
from django.utils import timezone

from forecasting import compliance
from forecasting.lstm import TEMP_CENTRE_C
from forecasting.models import SeriesDay
from forecasting.services.compliance import compliance_predict
from forecasting.services.windows import series_window
from stakeholders.bulk import bulk_insert, bulk_update
from stakeholders.models import Membership, Role

from .. import history
from ..models import (
    ACTIVE_ANSWERS,
    DemandResponseEvent,
    EventStatus,
    OptimizationRun,
    Recommendation,
)
from ..policy import calls
from ..policy import plan as policy
from ..portfolio import DELIVERY_SHARE, DEPTH_LEVELS_PCT, expected_kw
from ..recommend import advise, depth_limit_pct
from .advice import advice_refresh, back_to_back
from .events import EventError, event_transition

PLANNABLE = (EventStatus.PROPOSED, EventStatus.OPTIMIZED, EventStatus.DISPATCHED)


def event_optimize(
    *, event: DemandResponseEvent, user=None, now: datetime | None = None,
    past: history.PastDays | None = None,
) -> OptimizationRun:  # fmt: skip
    """Choose buildings and depths for the event and write their recommendations, as of `now`
    (policy.plan; `past`: the utility's last days, where the caller has read them already).

    Buildings that declined are left out; those that accepted keep their ask (a commitment
    costs nothing more); those already asked keep their notice, and asking them again costs
    no new ask. An infeasible target still gets the best plan there is, reported with its
    probability of meeting the target."""
    now = now or timezone.now()
    if event.status not in PLANNABLE:
        raise EventError(
            f"Event #{event.pk} is {event.get_status_display().lower()}: it cannot be planned again."
        )
    asks = history.event_asks(event)
    declined = {
        b for b, (_, status, _, _) in asks.items() if status == Recommendation.Status.DECLINED
    }
    found = history.event_candidates(event, declined)
    n = found.ids.size
    if not n:
        raise EventError(f"Event #{event.pk} has no enrolled building left to ask.")
    day, first_hour, last_hour = history.local_window(event)
    hours = event.duration_h
    standing = np.zeros(n, dtype=np.int64)
    notified = np.zeros(n, dtype=bool)
    notice = np.full(n, max((event.starts_at - now).total_seconds() / 3600, 0.0))
    features = dict(
        event.recommendations.filter(status__in=ACTIVE_ANSWERS).values_list(
            "building_id", "features"
        )
    )
    for i, building_id in enumerate(found.ids.tolist()):
        ask = asks.get(building_id)
        if ask is None or ask[1] not in ACTIVE_ANSWERS:
            continue
        notified[i] = True
        notice[i] = features.get(building_id, {}).get("notice_h", notice[i])
        if ask[1] == Recommendation.Status.ACCEPTED:
            standing[i] = DEPTH_LEVELS_PCT.index(ask[2]) + 1
    recent = history.asks_between(
        event.utility,
        found.ids,
        event.starts_at - timedelta(days=policy.MONTH_DAYS),
        event.starts_at,
    )
    temperature = series_window(
        utility=event.utility, series=SeriesDay.Series.TEMPERATURE_C, first_day=day, days=1
    )[0][first_hour:last_hour]
    rows = policy.compliance_rows(
        building_type=found.building_type, curtailable_kw=found.curtailable_kw,
        record=history.records_of(event.utility, found.ids, event.starts_at), events_30d=recent,
        notice_h=notice,
        # A missing temperature is read as the model's neutral centre, not as a made-up reading.
        temperature_c=float(np.nanmax(temperature)) if np.isfinite(temperature).any() else TEMP_CENTRE_C,
        start_hour=first_hour, duration_h=hours, incentive_usd_per_kwh=event.incentive_usd_per_kwh,
    )  # fmt: skip
    probability, share, model_version = compliance_predict(
        utility=event.utility, events=rows, default_share=DELIVERY_SHARE
    )
    track = history.utility_plans_record(event.utility)
    model_planned, planned = policy.planned_compliance(share, n, track)
    run = history.latest_run(event.utility, day)
    p10, p50, p90 = history.run_quantiles(run, found.ids)
    load = None if run is None else np.nan_to_num(p50[:, first_hour:last_hour].mean(axis=1))
    ratio_sd, measured_on = (0.0, 1.0) if run is None else calls.comparison_error(
        (
            (one.predicted, one.actual)
            for one in (past or history.PastDays(event.utility, day)).latest(calls.COMPARISON_DAYS)
        ),
        hours, np.random.default_rng(event.utility_id),
    )  # fmt: skip
    feeders = sorted(set(found.feeder_id.tolist()) - {0})
    feeder_index = np.searchsorted(np.array(feeders + [2**62], dtype=np.int64), found.feeder_id)
    feeder_index[found.feeder_id == 0] = len(feeders)
    feeder_target = np.zeros(len(feeders) + 1)
    if not event.feeder_id:
        for feeder_id, excess in history.feeder_excess(event, run).items():
            if feeder_id in feeders:
                feeder_target[feeders.index(feeder_id)] = excess
    problem = policy.plan_problem(
        curtailable_kw=found.curtailable_kw, planned=planned,
        baseline_sd_kw=policy.baseline_sd_kw(p10, p90, first_hour, last_hour, found.curtailable_kw),
        common_load_kw=load, feeder=feeder_index, feeder_target_kw=feeder_target,
        max_depth_pct=np.array([depth_limit_pct(c) for c in found.max_setpoint_change_c]),
        may_ask=policy.available(recent, found.max_events_per_month, standing),
        standing=standing, notified=notified, target_kw=event.target_kw, eps=event.risk_eps,
        duration_h=hours, incentive_usd_per_kwh=event.incentive_usd_per_kwh, record=track,
        ratio_sd=ratio_sd,
    )  # fmt: skip
    # Not in the comparison group: asks that stand, and buildings asked in another event of
    # the day (no comparison).
    others = np.fromiter(
        history.asked_that_day(event) - {b for b, ask in asks.items() if ask[1] in ACTIVE_ANSWERS},
        dtype=np.int64,
    )
    selection = policy.select(
        problem, found.ids, seed=(event.utility_id, day.toordinal()), ratio_sd=ratio_sd,
        measured_on=measured_on, excluded=(standing > 0) | np.isin(found.ids, others),
    )  # fmt: skip
    plan, level = selection.plan, selection.level
    with transaction.atomic():
        run_row = OptimizationRun.objects.create(
            event=event, solver=plan.solver, candidates=n, selected=int((level > 0).sum()),
            feasible=plan.feasible, objective_usd=plan.objective, bound_usd=plan.bound,
            gap_pct=plan.gap_pct, p_target_met=plan.p_target_met, expected_kw=plan.expected_kw,
            p10_kw=plan.p10_kw, solve_s=plan.solve_s, excluded=sorted(declined),
        )  # fmt: skip
        _write_recommendations(
            event, found, rows, probability.reshape(n, -1), selection.problem, level, asks,
            model_version,
        )  # fmt: skip
        advice_refresh(event=event)
        note = f"{run_row.selected} buildings, P(target met) {plan.p_target_met:.3f}"
        if not plan.feasible:
            note = (
                f"target not reachable with probability {1 - event.risk_eps:.2f}: best plan, {note}"
            )
        group = int(selection.comparison.sum())
        if group:
            note += f", {group} held out as the comparison group"
        promised = {
            "p_target_met": plan.p_target_met, "expected_kw": plan.expected_kw,
            "p10_kw": plan.p10_kw, "own_sd_kw": selection.own_sd_kw, "comparison_group": group,
            "model_expected_kw": None if model_version is None
            else expected_kw(found.curtailable_kw, model_planned, level),
        }  # fmt: skip
        if event.status != EventStatus.DISPATCHED:
            event_transition(
                event=event, to=EventStatus.OPTIMIZED, user=user, note=note, **promised
            )
        else:
            DemandResponseEvent.objects.filter(pk=event.pk).update(**promised)
    return run_row


RECOMMENDATION_COLUMNS = (
    "event_id", "building_id", "status", "depth_pct", "requested_kw", "expected_kw",
    "compliance_probability", "actions", "expected_kwh", "cost_saved_usd", "carbon_saved_kg",
    "comfort_impact", "guidance", "incentive_usd", "decline_reason", "features",
    "compliance_model_version", "settled_on", "created_at",
)  # fmt: skip
RECOMMENDATION_TYPES = (
    "int8", "int8", "text", "float8", "float8", "float8", "float8", "jsonb", "float8", "float8",
    "float8", "text", "text", "float8", "text", "jsonb", "int4", "text", "timestamptz",
)  # fmt: skip
# What a plan made again sets on an ask it keeps (RECOMMENDATION_COLUMNS from depth_pct on).
REPLANNED = ("status", *RECOMMENDATION_COLUMNS[3:14], "features", "compliance_model_version")
REPLANNED_TYPES = ("text", *RECOMMENDATION_TYPES[3:14], "jsonb", "int4")


def _write_recommendations(
    event, found: history.Candidates, rows, probability, problem, level, asks, model_version
) -> None:
    """Each chosen building's recommendation (new ones in one binary COPY, those asked before
    updated in bulk); pending asks no longer chosen are withdrawn."""
    k = len(DEPTH_LEVELS_PCT)
    chosen = np.flatnonzero(level)
    chosen_ids = set(found.ids[chosen].tolist())
    Recommendation.objects.filter(event=event, status=Recommendation.Status.PENDING).exclude(
        building_id__in=[b for b in asks if b in chosen_ids]
    ).update(status=Recommendation.Status.WITHDRAWN)
    hours = event.duration_h
    before, after = back_to_back(event)
    now = timezone.now()
    new, changed = [], []
    # What the compliance model read of each chosen ask, column by column (one conversion
    # each, not one per ask and field); advice depends on a few figures only, made once each.
    picked_rows = chosen * k + level[chosen] - 1
    columns = {
        name: getattr(rows, name)[picked_rows].tolist() for name in compliance.FEATURE_FIELDS
    }
    advice_of = lru_cache(maxsize=None)(advise)
    for j, i in enumerate(chosen.tolist()):
        building_id = int(found.ids[i])
        picked = int(level[i]) - 1
        depth = DEPTH_LEVELS_PCT[picked]
        expected = float(problem.mean_kw[i, picked])
        advice = advice_of(
            building_type=str(found.building_type[i]), depth_pct=depth, hours=hours,
            max_setpoint_change_c=float(found.max_setpoint_change_c[i]),
            continues_from=before.get(building_id), continues_to=after.get(building_id),
        )  # fmt: skip
        values = {
            "depth_pct": depth,
            "requested_kw": float(found.curtailable_kw[i]) * depth / 100.0,
            "expected_kw": expected,
            "compliance_probability": float(probability[i, picked]),
            "actions": advice.actions,
            "expected_kwh": expected * hours,
            "cost_saved_usd": expected * hours * float(found.tariff_usd_per_kwh[i]),
            "carbon_saved_kg": expected * hours * float(found.carbon_kg_per_kwh[i]),
            "comfort_impact": advice.comfort_impact,
            "guidance": advice.guidance,
            "incentive_usd": expected * hours * event.incentive_usd_per_kwh,
            "features": {name: columns[name][j] for name in compliance.FEATURE_FIELDS},
            "compliance_model_version": model_version,
        }
        ask = asks.get(building_id)
        if ask is None:
            new.append(
                (event.pk, building_id, Recommendation.Status.PENDING.value, *(
                    values[name] for name in RECOMMENDATION_COLUMNS[3:14]
                ), "", values["features"], model_version, "", now)
            )  # fmt: skip
        elif ask[1] in (Recommendation.Status.PENDING, Recommendation.Status.WITHDRAWN):
            values["status"] = Recommendation.Status.PENDING.value
            changed.append((ask[0], *(values[name] for name in REPLANNED)))
    bulk_insert(Recommendation, list(RECOMMENDATION_COLUMNS), list(RECOMMENDATION_TYPES), new)
    bulk_update(Recommendation, REPLANNED, REPLANNED_TYPES, changed)


def recommendation_accept(*, recommendation: Recommendation, user) -> Recommendation:
    _check_answer(recommendation, user)
    updated = Recommendation.objects.filter(
        pk=recommendation.pk, status=Recommendation.Status.PENDING
    ).update(status=Recommendation.Status.ACCEPTED, responded_at=timezone.now(), responded_by=user)
    if not updated:
        raise EventError("Only a recommendation awaiting an answer can be accepted.")
    recommendation.refresh_from_db()
    return recommendation


def recommendation_decline(
    *, recommendation: Recommendation, user, reason: str = ""
) -> Recommendation:
    """Record a decline; before the event starts, the rest of the portfolio is re-planned."""
    _check_answer(recommendation, user)
    with transaction.atomic():
        updated = Recommendation.objects.filter(
            pk=recommendation.pk, status__in=[Recommendation.Status.PENDING, Recommendation.Status.ACCEPTED]
        ).update(
            status=Recommendation.Status.DECLINED, responded_at=timezone.now(), responded_by=user,
            decline_reason=reason[:300],
        )  # fmt: skip
        if not updated:
            raise EventError("This recommendation was already declined or withdrawn.")
        event = recommendation.event
        if event.status in (EventStatus.OPTIMIZED, EventStatus.DISPATCHED) and (
            event.simulated or timezone.now() < event.starts_at
        ):
            event_optimize(event=event, user=user)
    recommendation.refresh_from_db()
    return recommendation


def _check_answer(recommendation: Recommendation, user) -> None:
    event = recommendation.event
    if event.status not in (EventStatus.OPTIMIZED, EventStatus.DISPATCHED):
        raise EventError(
            f"Event #{event.pk} is {event.get_status_display().lower()}: answers are closed."
        )
    if not event.simulated and timezone.now() >= event.starts_at:
        raise EventError("The event has started: answers are closed.")
    if user.is_staff:
        return
    may_answer = Membership.objects.filter(
        user=user, organization_id=recommendation.building.owner_id,
        role__in=[Role.FACILITY_MANAGER, Role.BUILDING_OWNER, Role.ENERGY_MANAGER],
    ).exists()  # fmt: skip
    if not may_answer:
        raise EventError(
            "Only the building's facility manager, owner or energy manager may answer."
        )
