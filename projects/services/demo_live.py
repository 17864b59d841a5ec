"""The live demo that `make run` loads: the CityLearn year replayed onto dates around today
(forecasting.citylearn.Replay), a grid strained tomorrow, events in every state, and one login
per role. Everything here is written through the product's services.

Once per replay, that is on the first run of a day (a later run that day only brings today's
readings up to the hour and checks the logins; a run on a later day moves the replay and
builds it all again, demo_history_clear):

1. The 17 homes' readings up to the hour in progress, on the replay's dates: the year's most
   strained day on tomorrow's weekday falls tomorrow. Homes 1-8 belong to a property manager
   (PROPERTY_MANAGER), the others to their households.
2. The forecasting LSTM trained on them (kept while the replay stays the same).
3. The grid's capacity from tomorrow's forecast (demo_capacity_kw): its peak hour CRITICAL,
   the hours next to it HIGH.
4. The program's past events (demo_event_days), called by the operator, simulated: planned,
   dispatched, answered (most accept, DECLINE_SHARE decline), run, and the accepting homes'
   response written into their readings (_Behaviour).
5. Day-ahead forecasts of today and tomorrow, each run by its jobs right here (the worker,
   started later, finds them done), whose grid status proposes and plans events as the
   product does. Today's, where its window has begun, is cancelled (too late to ask anyone);
   tomorrow's is dispatched, its asks awaiting answers. Then the past events are verified, all
   but the latest (completed), and the compliance model learns from them. The operator
   proposes one more event for the day after tomorrow (the heat holds), left to plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

import forecasting.tasks  # noqa: F401 -- registers the forecasting job kinds
import optimization.tasks  # noqa: F401 -- registers the DR job kinds
from forecasting import citylearn
from forecasting.models import ComplianceModelVersion, ForecastModel, ForecastRun, GridStatusHour
from forecasting.services.citylearn_import import (
    DEMO_UTILITY,
    REPLAY_LABEL,
    citylearn_store,
    replay_now,
    replay_stored,
)
from forecasting.services.forecasts import forecast_chunk_compute, forecast_run_create
from forecasting.services.models import (
    active_model,
    forecast_model_promote,
    forecast_model_train,
)
from forecasting.services.readings import meter_days_upsert
from forecasting.services.windows import readings_window
from jobs.models import JobRun
from jobs.services import JobError
from jobs.tasks import jobs_run_here
from optimization import mv
from optimization.models import DemandResponseEvent, EventStatus, Recommendation
from optimization.services.events import (
    event_activate,
    event_cancel,
    event_complete,
    event_dispatch,
    event_propose,
)
from optimization.services.planning import (
    event_optimize,
    recommendation_accept,
    recommendation_decline,
)
from optimization.services.verification import HISTORY_DAYS, event_verify
from optimization.simulator import (
    NON_PERFORMER,
    PERFORMER,
    RELIABILITY,
    BehaviorParams,
    true_compliance,
)
from stakeholders.localtime import window_of
from stakeholders.models import Building, DataOrigin, Membership, Organization, Role, Utility
from stakeholders.portal.models import StakeholderReport
from stakeholders.services import (
    building_upsert,
    feeder_ensure,
    membership_grant,
    organization_ensure,
    user_ensure,
    utility_ensure,
)

from .demo import PROGRAM_TEAM

PROPERTY_MANAGER = "Sierra Lakes Property Management"
OWNED_HOMES = range(1, 9)  # CL22-01 .. CL22-08 belong to the property manager
PAST_DAYS = 14
# The program's past events: on up to EVENT_DAYS hot days of the last PAST_DAYS (at least
# MIN_EVENT_DAYS), over one of the tariff's peak windows (local hours, end exclusive), for a
# share of capacity; see demo_event_days for which days.
EVENT_DAYS = 5
MIN_EVENT_DAYS = 3
EVENT_WINDOWS = ((16, 19), (17, 20), (15, 18))
EVENT_TARGET_PCT = 5.0
FAIR_BASELINE_KW = 1.5
# Tomorrow's forecast peak sits at this share of capacity: CRITICAL from CRITICAL_PCT on,
# HIGH from HIGH_PCT. A narrow band above HIGH keeps the kW asked within what 17 homes can shed
# (a few kW: 5-10 % of their peak), as a real program's targets are.
PEAK_PCT = 96.0
HIGH_PCT = 90.0
CRITICAL_PCT = 95.0
# The behaviour model's fixed seed, and the share of asks a home declines.
SEED = 2022
DECLINE_SHARE = 0.15
DECLINE_REASONS = (
    "Away that afternoon: the house has to stay cool for the dog.",
    "Working from home; cannot raise the thermostat.",
    "Guests staying this week.",
)
FACILITY_HOMES = 3  # the facility manager looks after this many of the property manager's homes
PROGRAM_TEAM_GROUP = "Program team (demo)"


class DemoError(RuntimeError):
    """The demo could not be set up; the message says what went wrong."""


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    organization: str
    sees: str


# username, (role, organization key) for each membership (the first is the one they land on),
# what they see. Organization keys: utility, owner, team.
LOGINS = [
    ("operator", [(Role.GRID_OPERATOR, "utility"), (Role.EMERGENCY_TEAM, "utility")],
     "grid status, the 48 h outlook, events to plan and dispatch; switches to emergency team"),
    ("trader", [(Role.ENERGY_TRADER, "utility")],
     "hourly forecast with intervals, DR capacity per hour, DR cost vs the tariff"),
    ("engineer", [(Role.SYSTEM_ENGINEER, "utility")],
     "feeder loading, forecast and compliance model accuracy, data quality, job timings"),
    ("emergency", [(Role.EMERGENCY_TEAM, "utility")],
     "tomorrow's CRITICAL alert and the emergency protocol to acknowledge"),
    ("executive", [(Role.EXECUTIVE, "utility")],
     "grid stability gained, savings and ROI from the verified events, the program"),
    ("analyst", [(Role.DATA_SCIENCE, "utility")], "the technical report: models, data, jobs"),
    ("engineering", [(Role.ENGINEERING, "utility")], "the technical report"),
    ("security", [(Role.SECURITY, "utility")], "the technical report"),
    ("operations", [(Role.OPERATIONS, "utility")], "the technical report"),
    ("owner", [(Role.BUILDING_OWNER, "owner")],
     "homes 1-8: kWh, cost and carbon saved, incentives earned, ROI"),
    ("energymanager", [(Role.ENERGY_MANAGER, "owner")], "the same for the energy manager"),
    ("facility", [(Role.FACILITY_MANAGER, "owner")],
     "the requests for its homes: accept or decline (two or more await an answer)"),
    ("tenant", [(Role.TENANT, "owner")], "a plain notice of tomorrow's window in its home"),
    ("pm", [(Role.OPERATIONS, "team")], "the back office (admin): the program's records"),
]  # fmt: skip


@dataclass
class DemoLive:
    """What the demo set up, for the command to print."""

    utility: Utility
    replay: citylearn.Replay
    built: bool  # False: this replay was set up already, only today's readings were refreshed
    model_version: int
    trained: bool
    capacity_kw: float
    hours_high: dict = field(default_factory=dict)  # local day -> HIGH hours in its forecast
    hours_critical: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)  # status -> count
    logins: list[Login] = field(default_factory=list)
    timings_s: dict = field(default_factory=dict)
    label: str = REPLAY_LABEL


@dataclass
class _Cast:
    """The users who act in the demo's events."""

    operator: object
    facility: object
    pm: object
    owner_org: Organization


def demo_live_setup(
    *, data: citylearn.CityLearnData, password: str, now: datetime | None = None, log=None
) -> DemoLive:
    """Set up (or bring up to date) the live demo; safe to run again (module docstring)."""
    log = log or (lambda message: None)
    now = now or timezone.now()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with transaction.atomic():
        replay = replay_now(data=data, now=now)
        utility = Utility.objects.filter(name=DEMO_UTILITY).first()
        # Set up today already: the same dates, and tomorrow forecast.
        same_day = (
            utility is not None
            and replay_stored(replay=replay)
            and ForecastRun.objects.filter(
                utility=utility, day=replay.today + timedelta(days=1),
                status=ForecastRun.Status.COMPLETE,
            ).exists()
        )  # fmt: skip
        if utility is not None and not same_day:
            log("The replay moves to today: the last one's forecasts and events are cleared.")
            demo_history_clear(utility=utility)
        citylearn_store(
            data=data, replay=replay, keep_past=same_day,
            capacity_kw=utility.capacity_kw if same_day else None,
        )  # fmt: skip
        utility = Utility.objects.get(name=DEMO_UTILITY)
        if same_day:  # citylearn_store leaves the default thresholds
            utility = _strain_set(utility, utility.capacity_kw)
        owner_org = _homes_reown()
        logins, cast = _logins_ensure(utility=utility, owner_org=owner_org, password=password)
        timings["import_s"] = time.perf_counter() - started
        model, trained = _model_ensure(utility=utility, replay=replay, log=log)
        timings["train_s"] = time.perf_counter() - started - timings["import_s"]
        built = not same_day
        if built:
            log("The past two weeks' events, then the forecasts of today and tomorrow...")
            utility = _strain_set(utility, demo_capacity_kw(utility=utility, replay=replay))
            _days_run(utility=utility, replay=replay, data=data, cast=cast, now=now)
        _facility_tie(utility=utility, replay=replay, owner_org=owner_org)
        timings["forecast_events_s"] = (
            time.perf_counter() - started - timings["import_s"] - timings["train_s"]
        )
    summary = DemoLive(
        utility=utility,
        replay=replay,
        built=built,
        model_version=model.version,
        trained=trained,
        capacity_kw=utility.capacity_kw,
        logins=logins,
        timings_s={key: round(value, 1) for key, value in timings.items()},
    )
    for day in (replay.today, replay.today + timedelta(days=1)):
        levels = _levels(utility, day)
        summary.hours_high[day] = levels.count("HIGH")
        summary.hours_critical[day] = levels.count("CRITICAL")
    for status in EventStatus.values:
        summary.events[status] = DemandResponseEvent.objects.filter(
            utility=utility, status=status
        ).count()
    return summary


def demo_history_clear(*, utility: Utility) -> None:
    """Remove what the demo built on the last replay's dates: its events (with their asks,
    history and snapshots), forecast runs, compliance models and reports. Only for the demo's
    own utility: nothing else is ever deleted this way."""
    if utility.name != DEMO_UTILITY:
        raise DemoError(f"{utility} is not the demo's utility.")
    StakeholderReport.objects.filter(utility=utility).delete()
    DemandResponseEvent.objects.filter(utility=utility).delete()
    ForecastRun.objects.filter(utility=utility).delete()
    ComplianceModelVersion.objects.filter(utility=utility).delete()


def demo_capacity_kw(*, utility: Utility, replay: citylearn.Replay) -> float:
    """The grid's capacity, kW: tomorrow's day-ahead forecast of the 17 homes' total (the
    active model, issued now with the readings up to this hour) peaks at PEAK_PCT of it.

    The measured year cannot give it: the LSTM's P50 on the year's hottest days stays well
    under their measured peak (39 kW against 53 kW for 21 June 2017), so a capacity from the
    measured peak (55 kW) would leave every forecast NORMAL. The forecast made after the past
    weeks' events runs some 2-3 % lower (their curtailed hours are in its history): PEAK_PCT
    leaves room for that above CRITICAL_PCT, and _days_run checks it before tomorrow's run."""
    peak_kw = _forecast_peak_kw(utility, replay.today + timedelta(days=1))
    return round(peak_kw / (PEAK_PCT / 100.0), 2)


def _forecast_peak_kw(utility: Utility, day) -> float:
    """The peak of the utility's total P50 for `day` as a run issued now would forecast it
    (computed, nothing stored)."""
    trial = ForecastRun(utility=utility, day=day, model=active_model(utility=utility))
    computed = forecast_chunk_compute(run=trial, first_id=0, last_id=2**62)
    return float(computed["quantiles"].p50.sum(axis=0).max())


def _strain_set(utility: Utility, capacity_kw: float) -> Utility:
    utility = utility_ensure(
        name=utility.name,
        capacity_kw=capacity_kw,
        high_strain_pct=HIGH_PCT,
        critical_strain_pct=CRITICAL_PCT,
        timezone=utility.timezone,
        country=utility.country,
        region=utility.region,
    )
    for feeder in utility.feeders.all():
        feeder_ensure(utility=utility, name=feeder.name, capacity_kw=capacity_kw)
    return utility


def _homes_reown() -> Organization:
    """Homes 1-8 belong to the property manager (the owner roles' organization)."""
    owner = organization_ensure(name=PROPERTY_MANAGER, kind=Organization.Kind.BUILDING_OWNER)
    codes = [f"CL22-{number:02d}" for number in OWNED_HOMES]
    for building in Building.objects.filter(utility__name=DEMO_UTILITY, code__in=codes).exclude(
        owner=owner
    ):
        building_upsert(
            utility=building.utility,
            owner=owner,
            code=building.code,
            **{
                name: getattr(building, name)
                for name in (
                    "name", "feeder", "building_type", "floor_area_m2", "tariff_usd_per_kwh",
                    "carbon_kg_per_kwh", "curtailable_kw", "pv_kw", "battery_kwh",
                    "max_setpoint_change_c", "max_events_per_month", "enrolled", "enrolled_on",
                    "consent_by", "origin",
                )
            },
        )  # fmt: skip
    return owner


def _logins_ensure(*, utility: Utility, owner_org: Organization, password: str):
    team = organization_ensure(name=PROGRAM_TEAM, kind=Organization.Kind.PROGRAM_TEAM)
    organizations = {"utility": utility.organization, "owner": owner_org, "team": team}
    logins = [Login("admin", "superuser", "-", "the back office (admin), every organization")]
    user_ensure(username="admin", password=password, superuser=True)
    users = {}
    for username, memberships, sees in LOGINS:
        user = user_ensure(username=username, password=password, is_staff=username == "pm")
        for role, key in memberships:
            membership_grant(user=user, organization=organizations[key], role=role)
        users[username] = user
        logins.append(
            Login(
                username,
                " + ".join(Role(role).label.lower() for role, _ in memberships),
                organizations[memberships[0][1]].name,
                sees,
            )
        )
    # The program team runs the admin: its staff hold every permission there.
    group, _ = Group.objects.get_or_create(name=PROGRAM_TEAM_GROUP)
    group.permissions.set(Permission.objects.all())
    users["pm"].groups.add(group)
    cast = _Cast(
        operator=users["operator"], facility=users["facility"], pm=users["pm"],
        owner_org=owner_org,
    )  # fmt: skip
    return logins, cast


def _model_ensure(*, utility: Utility, replay: citylearn.Replay, log):
    """The active model if it learnt from this replay (its held-out days end yesterday), else a
    new one trained and made active."""
    model = active_model(utility=utility)
    yesterday = replay.today - timedelta(days=1)
    if model is not None and model.test_end == yesterday:
        return model, False
    log("Training the forecasting LSTM on the homes' replayed year (10-40 s)...")
    model = forecast_model_train(utility=utility)
    if model.status != ForecastModel.Status.ACTIVE:
        model = forecast_model_promote(model=model)
    return model, True


def _jobs_drain(after_pk: int) -> None:
    """Run every job queued since `after_pk` here (their messages reach the worker too, which
    finds them done)."""
    try:
        jobs_run_here(after_pk=after_pk, worker="demo_setup")
    except JobError as exc:
        raise DemoError(str(exc)) from None


def _forecast_day(utility: Utility, day) -> list[DemandResponseEvent]:
    """A day-ahead forecast of `day` and what its jobs did: the events its grid status proposed
    (the product's own proposal, planned by its job)."""
    last_job = JobRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last_event = DemandResponseEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    forecast_run_create(utility=utility, day=day)
    _jobs_drain(last_job)
    return list(
        DemandResponseEvent.objects.filter(utility=utility, pk__gt=last_event or 0).order_by("pk")
    )


def _days_run(*, utility, replay, data, cast: _Cast, now: datetime) -> None:
    tz = ZoneInfo(utility.timezone)
    behaviour = _Behaviour(utility=utility, replay=replay, data=data)
    completed = []
    for day, window in demo_event_days(replay=replay, data=data):
        event = _operator_event(utility=utility, day=day, window=window, cast=cast)
        if _past_event_run(event=event, cast=cast, behaviour=behaviour):
            completed.append(event)
    for event in _forecast_day(utility, replay.today):
        if event.starts_at <= now:
            event_cancel(
                event=event,
                user=cast.operator,
                reason="Proposed after its window had begun: too late to ask anyone.",
            )
    tomorrow = replay.today + timedelta(days=1)
    # The past days' curtailed hours are in tomorrow's history now, a little lower than when the
    # capacity was set: where that takes its peak under CRITICAL, the capacity follows it.
    peak_kw = _forecast_peak_kw(utility, tomorrow)
    if peak_kw < utility.capacity_kw * (CRITICAL_PCT + 0.5) / 100.0:
        utility = _strain_set(utility, round(peak_kw / (PEAK_PCT / 100.0), 2))
    proposed = _forecast_day(utility, tomorrow)
    if not proposed:
        raise DemoError(
            f"Tomorrow's forecast ({tomorrow}) proposed no event: its peak stays under HIGH."
        )
    dispatched = proposed[0]
    if not dispatched.recommendations.filter(status=Recommendation.Status.PENDING).exists():
        raise DemoError(
            f"Tomorrow's event #{dispatched.pk} (target {dispatched.target_kw:.2f} kW) asks "
            "nobody: the plan found it out of the homes' reach."
        )
    event_dispatch(event=dispatched, user=cast.operator)
    # Verified now, all but the latest (completed, awaiting its verification), so that
    # tomorrow's plan stands on the priors: a compliance model learnt from a few dozen
    # home-level outcomes, each read with an error larger than the ask, may find no home worth
    # asking. The compliance model learns from them here (event_verify), once there are enough.
    for event in completed[:-1]:
        event_verify(event=event, user=cast.operator)
    # The heat holds: the operator pencils in the day after tomorrow at the same hours.
    window = dispatched.ends_at - dispatched.starts_at
    starts_at = dispatched.starts_at.astimezone(tz) + timedelta(days=1)
    event_propose(
        utility=utility,
        starts_at=starts_at,
        ends_at=starts_at + window,
        target_kw=dispatched.target_kw,
        source=DemandResponseEvent.Source.OPERATOR,
        strain=DemandResponseEvent.Strain.HIGH,
        simulated=dispatched.simulated,  # only where `now` lies in the past (tests)
        user=cast.operator,
    )


def demo_event_days(
    *, replay: citylearn.Replay, data: citylearn.CityLearnData
) -> list[tuple[date, tuple[int, int]]]:
    """The past days (of the last PAST_DAYS) and windows the program called its events on,
    oldest first: the EVENT_DAYS hottest days (by the homes' measured peak) whose 10-of-10
    baseline, on the homes' untouched replayed load, reads their total over one of
    EVENT_WINDOWS within FAIR_BASELINE_KW (that window, the closest; where fewer days pass,
    the closest ones).

    Why the choice: what 17 homes shed is a few kW, and on a heat wave's days the 10-of-10
    baseline under-states their total by up to 14 kW (the days before were cooler), so the
    verified kW would show no shed at all, and a compliance model learnt from them would find
    that no home ever complies. Verification is the product's own (mv.x_of_y_baseline); only
    the days are chosen."""
    days, daily = replay.days(data.load_kwh)
    today = days.index(replay.today)
    peaks = daily.sum(axis=0).max(axis=1)
    candidates = []
    for back in range(1, PAST_DAYS + 1):
        i = today - back
        history = daily[:, i - HISTORY_DAYS : i]
        weekend = np.array([days[j].weekday() >= 5 for j in range(i - HISTORY_DAYS, i)])
        eligible = weekend == (days[i].weekday() >= 5)
        errors = []
        for first, last in EVENT_WINDOWS:
            baseline = sum(
                mv.x_of_y_baseline(history[h], eligible, daily[h, i], first, last).mean()
                for h in range(daily.shape[0])
            )
            errors.append(abs(baseline - daily[:, i, first:last].mean(axis=1).sum()))
        best = int(np.argmin(errors))
        candidates.append((errors[best], -peaks[i], days[i], EVENT_WINDOWS[best]))
    fair = [c for c in candidates if c[0] <= FAIR_BASELINE_KW]
    fair = sorted(fair, key=lambda c: c[1])[:EVENT_DAYS]  # the hottest first
    if len(fair) < MIN_EVENT_DAYS:
        fair = sorted(candidates)[:MIN_EVENT_DAYS]
    return sorted((day, window) for _, _, day, window in fair)


def _operator_event(*, utility, day, window, cast: _Cast) -> DemandResponseEvent:
    """The program's call on a past hot day: `window` (local hours, the tariff's peak), a
    target of EVENT_TARGET_PCT of capacity; planned right away."""
    starts_at, ends_at = window_of(day, window[0], window[1], ZoneInfo(utility.timezone))
    event = event_propose(
        utility=utility,
        starts_at=starts_at,
        ends_at=ends_at,
        target_kw=round(utility.capacity_kw * EVENT_TARGET_PCT / 100.0, 2),
        source=DemandResponseEvent.Source.OPERATOR,
        simulated=True,
        user=cast.operator,
    )
    event_optimize(event=event, user=cast.operator)
    return event


def _past_event_run(*, event, cast: _Cast, behaviour: _Behaviour) -> bool:
    """A past day's planned event (simulated): dispatched, answered, run, and its homes'
    response written into their readings. False where it asked nobody (cancelled)."""
    if not event.recommendations.filter(status=Recommendation.Status.PENDING).exists():
        event_cancel(event=event, user=cast.operator, reason="No home was left to ask.")
        return False
    event_dispatch(event=event, user=cast.operator)
    rng = np.random.default_rng([SEED, event.starts_at.toordinal()])
    # A decline re-plans the rest, which may ask others: answer until nobody is waiting.
    while pending := list(
        event.recommendations.filter(status=Recommendation.Status.PENDING)
        .select_related("building")
        .order_by("building__code")
    ):
        for rec in pending:
            rec.refresh_from_db()
            if rec.status != Recommendation.Status.PENDING:  # withdrawn by a re-plan
                continue
            who = cast.facility if rec.building.owner_id == cast.owner_org.pk else cast.pm
            if rng.random() < DECLINE_SHARE:
                recommendation_decline(
                    recommendation=rec, user=who,
                    reason=DECLINE_REASONS[int(rng.integers(len(DECLINE_REASONS)))],
                )  # fmt: skip
            else:
                recommendation_accept(recommendation=rec, user=who)
    if not event.recommendations.filter(status=Recommendation.Status.ACCEPTED).exists():
        event_cancel(event=event, user=cast.operator, reason="Every home asked declined.")
        return False
    event_activate(event=event, user=cast.operator)
    event_complete(event=event, user=cast.operator)
    behaviour.respond(event=event, rng=rng)
    return True


class _Behaviour:
    """How the replayed homes answer an event they accepted: the season simulator's behaviour
    model (optimization.simulator.true_compliance), with a hidden reliability per home drawn
    once from SEED (its share of non-performers, as the simulator's). A home that complies
    sheds 85-110 % of the kW asked over the whole window, one that does not 0-40 %, never more
    than its load; no pre-cooling or rebound. The shed is taken off its replayed readings, and
    those building-days are marked synthetic."""

    def __init__(self, *, utility, replay, data) -> None:
        self.utility, self.params = utility, BehaviorParams()
        self.days, self.temperature = replay.days(data.temperature_c)
        rng = np.random.default_rng(SEED)
        ids = list(
            Building.objects.filter(utility=utility).order_by("code").values_list("pk", flat=True)
        )
        weak = rng.random(len(ids)) < RELIABILITY["residential"]
        reliability = np.where(
            weak, rng.beta(*NON_PERFORMER, len(ids)), rng.beta(*PERFORMER, len(ids))
        )
        self.reliability = dict(zip(ids, reliability.tolist(), strict=True))
        self.recent: dict[int, list[datetime]] = {}

    def respond(self, *, event: DemandResponseEvent, rng: np.random.Generator) -> None:
        tz = ZoneInfo(self.utility.timezone)
        start, end = event.starts_at.astimezone(tz), event.ends_at.astimezone(tz)
        day, first, last = start.date(), start.hour, end.hour or 24
        temperature = float(np.nanmax(self.temperature[self.days.index(day), first:last]))
        accepted = list(
            event.recommendations.filter(status=Recommendation.Status.ACCEPTED).order_by(
                "building_id"
            )
        )
        ids = np.array([rec.building_id for rec in accepted])
        load = readings_window(building_ids=ids, first_day=day, days=1)[:, 0].astype(float)
        for position, rec in enumerate(accepted):
            recent = [
                moment for moment in self.recent.get(rec.building_id, [])
                if moment > event.starts_at - timedelta(days=30)
            ]  # fmt: skip
            p = true_compliance(
                np.array([self.reliability[rec.building_id]]), np.array([len(recent)]),
                np.array([rec.depth_pct]), np.array([temperature]),
                np.array([event.incentive_usd_per_kwh]), np.array([18.0]), self.params,
            )[0]  # fmt: skip
            low, high = (
                self.params.delivery_if_complying
                if rng.random() < p
                else self.params.delivery_if_not
            )
            shed = rec.requested_kw * rng.uniform(low, high)
            load[position, first:last] -= min(shed, float(np.nanmin(load[position, first:last])))
            self.recent.setdefault(rec.building_id, []).append(event.starts_at)
        meter_days_upsert(
            building_ids=ids, days=[day] * ids.size, kwh=load, origin=DataOrigin.SYNTHETIC
        )


def _facility_tie(*, utility: Utility, replay: citylearn.Replay, owner_org: Organization):
    """The facility manager looks after FACILITY_HOMES of the property manager's homes: those
    asked in tomorrow's dispatched event first (so that their requests await the manager), then
    by code; the tenant lives in the first of them."""
    tz = ZoneInfo(utility.timezone)
    tomorrow_starts = datetime.combine(replay.today + timedelta(days=1), datetime.min.time(), tz)
    asked = list(
        Recommendation.objects.filter(
            event__utility=utility, event__status=EventStatus.DISPATCHED,
            event__starts_at__gte=tomorrow_starts, building__owner=owner_org,
            status__in=[Recommendation.Status.PENDING, Recommendation.Status.ACCEPTED],
        )
        .order_by("building__code")
        .values_list("building_id", flat=True)
    )  # fmt: skip
    others = list(
        Building.objects.filter(owner=owner_org, utility=utility)
        .exclude(pk__in=asked)
        .order_by("code")
        .values_list("pk", flat=True)
    )
    homes = (list(dict.fromkeys(asked)) + others)[:FACILITY_HOMES]
    for membership in Membership.objects.filter(
        organization=owner_org, role__in=[Role.FACILITY_MANAGER, Role.TENANT]
    ):
        membership.buildings.set(homes if membership.role == Role.FACILITY_MANAGER else homes[:1])


def _levels(utility: Utility, day) -> list[str]:
    run = (
        ForecastRun.objects.filter(utility=utility, day=day, status=ForecastRun.Status.COMPLETE)
        .order_by("-created_at", "-pk")
        .first()
    )
    if run is None:
        return []
    return list(
        GridStatusHour.objects.filter(run=run, feeder__isnull=True).values_list("level", flat=True)
    )
