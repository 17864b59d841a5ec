"""Planning an event: who is asked and how deep (the solver), what each building is told (the
recommendations), and the answers (accept, or decline and the rest re-planned)."""

from __future__ import annotations

import tracemalloc
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from forecasting import compliance
from forecasting.lstm import TEMP_CENTRE_C
from forecasting.models import BuildingForecast, ForecastRun, GridStatusHour, SeriesDay
from forecasting.services.compliance import compliance_predict
from forecasting.services.windows import readings_window, series_window
from stakeholders.models import Building

from .. import mv
from ..models import DemandResponseEvent, EventStatus, OptimizationRun, Recommendation
from ..portfolio import (
    DELIVERY_SHARE,
    DEPTH_LEVELS_PCT,
    Candidates,
    TrackRecord,
    build_problem,
    comparison_order,
    expected_kw,
    track_record,
    with_comparison_group,
)
from ..recommend import advise, depth_limit_pct
from ..solver import own_sd_kw, solve_fast
from .advice import ACTIVE_ANSWERS, advice_refresh, back_to_back
from .events import EventError, event_transition

Z90 = 1.2815515655446004
# Without a forecast interval for a building, its counterfactual is taken as this uncertain.
DEFAULT_FORECAST_SD_SHARE = 0.1
# Verification's own common error is read from the utility's last days (comparison_ratio_sd).
RATIO_HISTORY_DAYS = 7
# The utility's last days are read from up to this many of its buildings (sampled_buildings).
HISTORY_SAMPLE = 4_000


def _local_window(event: DemandResponseEvent):
    tz = ZoneInfo(event.utility.timezone)
    start, end = event.starts_at.astimezone(tz), event.ends_at.astimezone(tz)
    last_hour = (end - timedelta(microseconds=1)).hour + 1 if end.date() == start.date() else 24
    return start.date(), start.hour, last_hour


def event_features(
    *, event: DemandResponseEvent, buildings: list[Building], now: datetime | None = None
) -> compliance.Events:
    """What the compliance model needs for each building at each depth level, as of `now`."""
    ids = [building.pk for building in buildings]
    earlier = Recommendation.objects.filter(
        building_id__in=ids, event__starts_at__lt=event.starts_at
    )
    verified = dict(
        earlier.filter(complied__isnull=False)
        .values("building_id")
        .annotate(asked=Count("id"), complied=Count("id", filter=Q(complied=True)))
        .values_list("building_id", "asked")
    )
    complied = dict(
        earlier.filter(complied=True)
        .values("building_id")
        .annotate(n=Count("id"))
        .values_list("building_id", "n")
    )
    shares = _verified_shares(utility=event.utility, before=event.starts_at)
    recent = dict(
        earlier.filter(
            event__starts_at__gte=event.starts_at - timedelta(days=30), status__in=ACTIVE_ANSWERS
        )
        .values("building_id")
        .annotate(n=Count("id"))
        .values_list("building_id", "n")
    )
    day, first_hour, last_hour = _local_window(event)
    temperature = series_window(
        utility=event.utility, series=SeriesDay.Series.TEMPERATURE_C, first_day=day, days=1
    )[0]
    window_temp = temperature[first_hour:last_hour]
    # A missing temperature is read as the model's neutral centre, not as a made-up reading.
    temp = float(np.nanmax(window_temp)) if np.isfinite(window_temp).any() else TEMP_CENTRE_C
    now = now or timezone.now()
    notice_h = (
        max((event.starts_at - now).total_seconds() / 3600, 0.0) if not event.simulated else 18.0
    )
    k = len(DEPTH_LEVELS_PCT)

    def each(values) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype=float), k)

    n = len(buildings)
    return compliance.Events(
        building_type=np.repeat(np.array([b.building_type for b in buildings]), k),
        curtailable_kw=each([b.curtailable_kw for b in buildings]),
        past_asked=each([verified.get(i, 0) for i in ids]),
        past_complied=each([complied.get(i, 0) for i in ids]),
        past_share=each([shares.get(i, shares[None]) for i in ids]),
        events_30d=each([recent.get(i, 0) for i in ids]),
        notice_h=np.full(n * k, notice_h),
        temperature_c=np.full(n * k, temp),
        start_hour=np.full(n * k, float(first_hour)),
        duration_h=np.full(n * k, event.duration_h),
        depth_pct=np.tile(np.asarray(DEPTH_LEVELS_PCT), n),
        incentive_usd_per_kwh=np.full(n * k, event.incentive_usd_per_kwh),
    )


def _verified_shares(*, utility, before: datetime) -> dict:
    """Each building's verified share of the kW asked in the utility's events before `before`,
    weighted by each measurement's precision (its baseline's likely error, where kept) and
    shrunk towards everyone's (compliance.shrunk_share); key None: everyone's, or the prior's
    when nothing has been verified yet."""
    rows = list(
        Recommendation.objects.filter(
            event__utility=utility, event__starts_at__lt=before, delivered_kw__isnull=False,
            requested_kw__gt=0,
        ).values_list("building_id", "delivered_kw", "requested_kw", "baseline_sd_kw")
    )  # fmt: skip
    prior = DELIVERY_SHARE * compliance.PRIOR_A / (compliance.PRIOR_A + compliance.PRIOR_B)
    share = np.array([d / r for _, d, r, _ in rows])
    weight = compliance.share_weight(np.array([(sd or 0.0) / r for _, _, r, sd in rows]))
    population = float(np.average(share, weights=weight)) if rows else prior
    totals: dict[int, list[float]] = {}
    for (building_id, *_), one, w in zip(rows, share, weight, strict=True):
        total = totals.setdefault(building_id, [0.0, 0.0])
        total[0] += w * one
        total[1] += w
    shares = {
        building_id: float(compliance.shrunk_share(total[0], total[1], population))
        for building_id, total in totals.items()
    }
    shares[None] = population
    return shares


def plan_record(*, utility) -> TrackRecord:
    """How the utility's verified events' plans compared with what was delivered, each against
    what the compliance model expected of it (track_record). Only plans a trained model made:
    one made from the priors alone says nothing of what the model has learnt since, which has
    learnt from that very event."""
    rows = list(
        DemandResponseEvent.objects.filter(
            utility=utility, status=EventStatus.VERIFIED, model_expected_kw__gt=0,
            delivered_kw__isnull=False,
        ).values_list("model_expected_kw", "delivered_kw", "own_sd_kw")
    )  # fmt: skip
    expected, delivered, own = zip(*rows, strict=True) if rows else ((), (), ())
    return track_record(expected, delivered, [sd or 0.0 for sd in own])


def latest_run(utility, day: date) -> ForecastRun | None:
    """The utility's latest complete forecast run of `day`."""
    return (
        ForecastRun.objects.filter(utility=utility, day=day, status=ForecastRun.Status.COMPLETE)
        .order_by("-created_at")
        .first()
    )


def forecast_and_readings(
    utility, day, building_ids=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, P50, readings) of the buildings (only `building_ids`, where given) with a P50 for
    `day` in the day's latest complete forecast run of the utility: ids sorted, P50 and
    readings (n, 24) kW, NaN where an hour is not read. Empty without a run."""
    run = latest_run(utility, day)
    rows = (
        BuildingForecast.objects.none() if run is None else BuildingForecast.objects.filter(run=run)
    )
    if building_ids is not None:
        rows = rows.filter(building_id__in=[int(i) for i in building_ids])
    p50 = dict(rows.values_list("building_id", "p50_kw"))
    ids = np.array(sorted(p50), dtype=np.int64)
    if not ids.size:
        return ids, np.zeros((0, 24)), np.zeros((0, 24))
    predicted = np.stack([np.frombuffer(bytes(p50[i]), "<f4")[:24] for i in ids]).astype(float)
    actual = readings_window(building_ids=ids, first_day=day, days=1)[:, 0].astype(float)
    return ids, predicted, actual


def sampled_buildings(utility) -> np.ndarray:
    """The ids of up to HISTORY_SAMPLE of the utility's buildings, sorted: a random sample (the
    same for the utility each time) that reads what the utility's last days say of its
    forecast."""
    ids = np.array(
        Building.objects.filter(utility=utility).order_by("pk").values_list("pk", flat=True)
    )
    if ids.size <= HISTORY_SAMPLE:
        return ids
    return np.sort(np.random.default_rng(utility.pk).choice(ids, HISTORY_SAMPLE, replace=False))


def past_days(utility, *, before: date, days: int):
    """For each of the `days` days before `before`, latest first: (day, ids, P50, readings) of
    planning.sampled_buildings that nobody asked that (local) day, as forecast_and_readings
    gives them (empty without a run): what the utility's last days say of its forecast, none
    of it read on a building curtailing, pre-cooling or rebounding (as the season simulator
    keeps only its quiet buildings' residuals)."""
    ids = sampled_buildings(utility)
    for back in range(1, days + 1):
        day = before - timedelta(days=back)
        quiet = ids[~np.isin(ids, list(asked_on(utility, day)))]
        yield (day, *forecast_and_readings(utility, day, quiet.tolist()))


def comparison_ratio_sd(*, utility, before: date, hours: int) -> tuple[float, float]:
    """(sd, group): how far verification's comparison group errs in reading a day's forecast
    error over a window of `hours` (one sd, a share of load: a short window errs more) and the
    size of the groups that was measured on: over the utility's last RATIO_HISTORY_DAYS days
    before `before` with a complete forecast and readings, two random halves of up to
    HISTORY_SAMPLE buildings nobody was asked that day read windows of their afternoon
    (mv.halves_difference). (0, 1) without two such days."""
    rng = np.random.default_rng(utility.pk)
    differences, sizes = [], []
    afternoon = slice(12, 20)
    for _, _, predicted, actual in past_days(utility, before=before, days=RATIO_HISTORY_DAYS):
        complete = np.isfinite(actual[:, afternoon]).all(axis=1)
        difference = mv.halves_difference(
            predicted[complete, afternoon], actual[complete, afternoon], rng
        )
        if difference is not None:
            differences.append(difference)
            sizes.append(int(complete.sum()))
    return mv.ratio_sd(differences, hours), float(np.mean(sizes)) if len(sizes) >= 2 else 1.0


def _forecast_spread(event: DemandResponseEvent, buildings: list[Building], run):
    """Per building, from the forecast `run` of the event's day: the forecast's hourly sd over
    the window (a default share of curtailable kW where the forecast has no P10-P90), whether
    that sd is the forecast's own, and the P50 over the window (None without a run)."""
    _, first_hour, last_hour = _local_window(event)
    sd = np.array([DEFAULT_FORECAST_SD_SHARE * b.curtailable_kw for b in buildings])
    known = np.zeros(len(buildings), dtype=bool)
    if run is None:
        return sd, known, None
    position = {b.pk: i for i, b in enumerate(buildings)}
    load = np.zeros(len(buildings))
    window = slice(first_hour, last_hour)
    for building_id, p10, p50, p90 in BuildingForecast.objects.filter(
        run=run, building_id__in=list(position)
    ).values_list("building_id", "p10_kw", "p50_kw", "p90_kw"):
        low, mid, high = (np.frombuffer(bytes(q), "<f4") for q in (p10, p50, p90))
        if low.size >= last_hour and high.size >= last_hour:
            sd[position[building_id]] = float(np.mean(high[window] - low[window])) / (2 * Z90)
            known[position[building_id]] = True
        if mid.size >= last_hour:
            load[position[building_id]] = float(mid[window].mean())
    return sd, known, load


def _feeder_excess(event: DemandResponseEvent, run) -> dict[int, float]:
    """Per feeder, the most kW above HIGH its grid status in `run` has over the event's window."""
    excess: dict[int, float] = {}
    if run is None:
        return excess
    for feeder_id, kw in GridStatusHour.objects.filter(
        run=run, feeder__isnull=False, starts_at__gte=event.starts_at, starts_at__lt=event.ends_at
    ).values_list("feeder_id", "kw_above_high"):
        excess[feeder_id] = max(excess.get(feeder_id, 0.0), kw)
    return excess


def asked_on(utility, day: date) -> set[int]:
    """The buildings with an ask standing in any event of the utility that was not cancelled,
    on its local `day`."""
    tz = ZoneInfo(utility.timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return set(
        Recommendation.objects.filter(
            event__utility=utility, status__in=ACTIVE_ANSWERS,
            event__starts_at__gte=start, event__starts_at__lt=start + timedelta(days=1),
        )
        .exclude(event__status=EventStatus.CANCELLED)
        .values_list("building_id", flat=True)
    )  # fmt: skip


def asked_that_day(event: DemandResponseEvent) -> set[int]:
    """The buildings with an ask standing in any event of the utility on `event`'s local day
    (`event` included): their pre-cooling or rebound may reach into another event's window,
    so verification reads none of them as a comparison."""
    return asked_on(event.utility, _local_window(event)[0])


def _month_counts(event: DemandResponseEvent, ids: list[int]) -> dict[int, int]:
    month_start = event.starts_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return dict(
        Recommendation.objects.filter(
            building_id__in=ids, status__in=ACTIVE_ANSWERS,
            event__starts_at__gte=month_start, event__starts_at__lt=month_start + timedelta(days=32),
        )
        .exclude(event=event)
        .values("building_id")
        .annotate(n=Count("id"))
        .values_list("building_id", "n")
    )  # fmt: skip


def event_optimize(
    *, event: DemandResponseEvent, user=None, now: datetime | None = None
) -> OptimizationRun:
    """Choose buildings and depths for the event and write their recommendations.

    Buildings that declined are left out; those that accepted keep their ask (a commitment
    costs nothing more). An infeasible target still gets the best plan there is, reported with
    its probability of meeting the target."""
    if event.status not in (EventStatus.PROPOSED, EventStatus.OPTIMIZED, EventStatus.DISPATCHED):
        raise EventError(
            f"Event #{event.pk} is {event.get_status_display().lower()}: it cannot be planned again."
        )
    buildings = Building.objects.filter(utility=event.utility, enrolled=True, curtailable_kw__gt=0)
    if event.feeder_id:
        buildings = buildings.filter(feeder_id=event.feeder_id)
    declined = set(
        event.recommendations.filter(status=Recommendation.Status.DECLINED).values_list(
            "building_id", flat=True
        )
    )
    buildings = [b for b in buildings.order_by("pk") if b.pk not in declined]
    if not buildings:
        raise EventError(f"Event #{event.pk} has no enrolled building left to ask.")
    accepted = dict(
        event.recommendations.filter(status=Recommendation.Status.ACCEPTED).values_list(
            "building_id", "depth_pct"
        )
    )
    ids = [b.pk for b in buildings]
    rows = event_features(event=event, buildings=buildings, now=now)
    probability, share, model_version = compliance_predict(
        utility=event.utility, events=rows, default_share=DELIVERY_SHARE
    )
    # What the plan adds up is kW: P(complies) through what asks have been verified to deliver,
    # corrected by how past plans fared; their spread is kept as a risk.
    record = plan_record(utility=event.utility)
    k = len(DEPTH_LEVELS_PCT)
    model_planned = np.clip(share / DELIVERY_SHARE, 0.0, 1.0).reshape(len(buildings), k)
    planned = np.clip(model_planned * (1 + record.bias), 0.0, 1.0)
    forecast_run = latest_run(event.utility, _local_window(event)[0])
    sd, _, load = _forecast_spread(event, buildings, forecast_run)
    feeder_excess = _feeder_excess(event, forecast_run)
    feeders = sorted({b.feeder_id for b in buildings if b.feeder_id})
    feeder_index = {f: i for i, f in enumerate(feeders)}
    month = _month_counts(event, ids)
    depths = np.array(DEPTH_LEVELS_PCT)
    candidates = Candidates(
        curtailable_kw=np.array([b.curtailable_kw for b in buildings]),
        compliance=planned,
        forecast_sd_kw=sd,
        feeder=np.array([feeder_index.get(b.feeder_id, len(feeders)) for b in buildings]),
        max_depth_pct=np.array([depth_limit_pct(b.max_setpoint_change_c) for b in buildings]),
        available=np.array(
            [month.get(b.pk, 0) < b.max_events_per_month or b.pk in accepted for b in buildings]
        ),
    )
    feeder_target = np.zeros(len(feeders) + 1)
    if not event.feeder_id:
        for feeder_id, excess in feeder_excess.items():
            if feeder_id in feeder_index:
                feeder_target[feeder_index[feeder_id]] = excess
    ratio_sd, measured_on = (
        (0.0, 1.0) if load is None
        else comparison_ratio_sd(
            utility=event.utility, before=_local_window(event)[0], hours=event.duration_h
        )
    )  # fmt: skip
    problem = build_problem(
        candidates, target_kw=event.target_kw, eps=event.risk_eps, duration_h=event.duration_h,
        incentive_usd_per_kwh=event.incentive_usd_per_kwh, feeder_target_kw=feeder_target,
        systematic_share=record.systematic_share, common_load_kw=load,
        common_sd_share=ratio_sd,
    )  # fmt: skip
    if accepted:
        cost, allowed = problem.cost.copy(), problem.allowed.copy()
        for i, building in enumerate(buildings):
            if building.pk in accepted:
                keep = np.isclose(depths, accepted[building.pk])
                allowed[i] = keep
                cost[i, keep] = 0.0
        problem = type(problem)(**{**problem.__dict__, "cost": cost, "allowed": allowed})
    # Not in the comparison group: asks that stand, and buildings asked in another event of
    # the day (no comparison).
    others = asked_that_day(event) - set(
        event.recommendations.filter(status__in=ACTIVE_ANSWERS).values_list(
            "building_id", flat=True
        )
    )
    excluded = np.array([b.pk in accepted or b.pk in others for b in buildings], dtype=bool)
    tracemalloc.start()
    # A comparison group held out at random: the same buildings for every plan of the
    # utility's day (this event planned again, or another event that day).
    day = _local_window(event)[0]
    plan, group, problem = with_comparison_group(
        problem, comparison_order(np.array(ids), seed=(event.utility_id, day.toordinal())),
        solve_fast,
        ratio_sd=ratio_sd, measured_on=measured_on, excluded=excluded,
    )  # fmt: skip
    own = own_sd_kw(problem, plan.level)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with transaction.atomic():
        run = OptimizationRun.objects.create(
            event=event, solver=plan.solver, candidates=len(buildings), selected=int((plan.level > 0).sum()),
            feasible=plan.feasible, objective_usd=plan.objective, bound_usd=plan.bound, gap_pct=plan.gap_pct,
            p_target_met=plan.p_target_met, expected_kw=plan.expected_kw, p10_kw=plan.p10_kw,
            solve_s=plan.solve_s, peak_mb=peak / 2**20, excluded=sorted(declined),
        )  # fmt: skip
        _write_recommendations(
            event, buildings, rows, probability.reshape(len(buildings), k), problem, plan,
            model_version,
        )  # fmt: skip
        advice_refresh(event=event)
        note = f"{run.selected} buildings, P(target met) {plan.p_target_met:.3f}"
        if not plan.feasible:
            note = (
                f"target not reachable with probability {1 - event.risk_eps:.2f}: best plan, {note}"
            )
        if group.any():
            note += f", {int(group.sum())} held out as the comparison group"
        promised = {
            "p_target_met": plan.p_target_met, "expected_kw": plan.expected_kw,
            "p10_kw": plan.p10_kw, "own_sd_kw": own, "comparison_group": int(group.sum()),
            "model_expected_kw": None if model_version is None
            else expected_kw(candidates.curtailable_kw, model_planned, plan.level),
        }  # fmt: skip
        if event.status != EventStatus.DISPATCHED:
            event_transition(
                event=event, to=EventStatus.OPTIMIZED, user=user, note=note, **promised
            )
        else:
            DemandResponseEvent.objects.filter(pk=event.pk).update(**promised)
    return run


def _write_recommendations(
    event, buildings, rows, probability, problem, plan, model_version
) -> None:
    k = len(DEPTH_LEVELS_PCT)
    chosen = {buildings[i].pk: i for i in np.flatnonzero(plan.level)}
    existing = {rec.building_id: rec for rec in event.recommendations.all()}
    for building_id, rec in existing.items():
        if building_id not in chosen and rec.status == Recommendation.Status.PENDING:
            Recommendation.objects.filter(pk=rec.pk).update(status=Recommendation.Status.WITHDRAWN)
    hours = event.duration_h
    feature_names = compliance.FEATURE_FIELDS
    before, after = back_to_back(event)
    for building_id, i in chosen.items():
        building = buildings[i]
        level = int(plan.level[i]) - 1
        depth = DEPTH_LEVELS_PCT[level]
        requested = building.curtailable_kw * depth / 100.0
        expected = float(problem.mean_kw[i, level])
        p = float(probability[i, level])
        advice = advise(
            building_type=building.building_type, depth_pct=depth, hours=hours,
            max_setpoint_change_c=building.max_setpoint_change_c,
            continues_from=before.get(building_id), continues_to=after.get(building_id),
        )  # fmt: skip
        row = i * k + level
        values = {
            "depth_pct": depth,
            "requested_kw": requested,
            "expected_kw": expected,
            "compliance_probability": p,
            "actions": advice.actions,
            "expected_kwh": expected * hours,
            "cost_saved_usd": expected * hours * building.tariff_usd_per_kwh,
            "carbon_saved_kg": expected * hours * building.carbon_kg_per_kwh,
            "comfort_impact": advice.comfort_impact,
            "guidance": advice.guidance,
            "incentive_usd": expected * hours * event.incentive_usd_per_kwh,
            "features": {name: _plain(getattr(rows, name)[row]) for name in feature_names},
            "compliance_model_version": model_version,
        }
        rec = existing.get(building_id)
        if rec is None:
            Recommendation.objects.create(event=event, building=building, **values)
        elif rec.status in (Recommendation.Status.PENDING, Recommendation.Status.WITHDRAWN):
            Recommendation.objects.filter(pk=rec.pk).update(
                status=Recommendation.Status.PENDING, **values
            )


def _plain(value):
    return value.item() if hasattr(value, "item") else value


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
    from stakeholders.models import Membership, Role

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
