"""An event's plan revisited on its day, with the morning's readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from stakeholders.localtime import window_of
from stakeholders.models import Utility

from .. import history, mv
from ..models import OPEN, DemandResponseEvent, EventStatus, OptimizationRun
from ..policy import calls
from .events import EventError, event_cancel, event_note, event_propose, strain_of
from .planning import event_optimize

# The morning is read up to the latest hour whose COMPARISON_HOURS before it at least this share
# of the forecast buildings have sent: where meters report late, the earlier hours of all of
# them tell the day better than the latest hours of the few that are in.
MORNING_READ_SHARE = 0.5

REVISABLE = (EventStatus.OPTIMIZED, EventStatus.DISPATCHED)


def event_revisit(*, event: DemandResponseEvent, user=None, now: datetime | None = None) -> dict:
    """Before the window opens, the morning's readings show how far the day's forecast is off
    for everyone (mv.comparison_ratio over the hours before the event, none of them curtailed).
    The target is set again from the forecast corrected by it (the kW above the HIGH threshold
    over the window), the change kept in the event's history, and the plan re-optimized: asks
    already accepted stand, pending ones a smaller need no longer calls for are withdrawn, and
    others are asked with the notice that is left. An event no longer needed is cancelled.
    (The season simulator's Season._day_of does the same; see bench/season.py --day-of.)
    Where the corrected forecast is above the HIGH threshold in hours next to the window, the
    window cannot be stretched (asks were made for it), so an event is proposed for each such
    run of hours, at the notice that is left (as the simulator's season does)."""
    if event.status not in REVISABLE:
        raise EventError(
            f"Event #{event.pk} is {event.get_status_display().lower()}; only a planned or "
            "dispatched event can be revisited."
        )
    now = now or timezone.now()
    if not event.simulated and now >= event.starts_at:
        raise EventError(f"Event #{event.pk} has started; revisit it before its window opens.")
    day, first_hour, last_hour = history.local_window(event)
    # The hours before the event (ending ADJUST_GAP_H before it) that have been read by now.
    end_before = max(first_hour - mv.ADJUST_GAP_H, 1)
    local_now = now.astimezone(ZoneInfo(event.utility.timezone))
    if local_now.date() < day:
        raise EventError(
            f"Event #{event.pk} is on {day}: revisit it on its day, once the morning is read."
        )
    if local_now.date() == day:
        end_before = min(end_before, local_now.hour)
    past = history.PastDays(event.utility, day)
    read = morning_read(
        utility=event.utility, day=day, end_before=end_before, hours=slice(first_hour, last_hour),
        building_ids=_feeder_buildings(event) if event.feeder_id else None, past=past,
    )  # fmt: skip
    capacity, high_pct = event.utility.capacity_kw, event.utility.high_strain_pct
    if event.feeder_id:
        capacity = event.feeder.capacity_kw
    excess = read.load_kw - capacity * high_pct / 100.0
    # On the day, from the next hour; a day replayed later, as if revisited at the usual hour.
    earliest = (local_now.hour if local_now.date() == day else settings.EVENT_REVISIT_HOUR) + 1
    decision = calls.revisit(excess, first_hour, last_hour, earliest)
    before = event.target_kw
    off = read.note()
    if decision.target_kw is None:
        DemandResponseEvent.objects.filter(pk=event.pk).update(revisited_at=now)
        event_cancel(
            event=event, user=user,
            reason=f"Not needed after all: {off}, and the window stays under the HIGH threshold.",
        )  # fmt: skip
        return {"forecast_ratio": read.ratio, "target_before_kw": before, "cancelled": True}
    with transaction.atomic():
        DemandResponseEvent.objects.filter(pk=event.pk).update(
            target_kw=decision.target_kw, revisited_at=now
        )
        event_note(
            event=event, user=user,
            note=f"Target {before:,.1f} -> {decision.target_kw:,.1f} kW: {off}.",
        )  # fmt: skip
        event.refresh_from_db()
        pending = set(event.recommendations.filter(status="pending").values_list("pk", flat=True))
        run: OptimizationRun = event_optimize(event=event, user=user, now=now, past=past)
    withdrawn = event.recommendations.filter(pk__in=pending, status="withdrawn").count()
    proposed = _propose_next_to(event, day, decision.next_to, capacity, user, now)
    return {
        "forecast_ratio": read.ratio,
        "target_before_kw": before,
        "target_kw": event.target_kw,
        "cancelled": False,
        "optimization_run_id": run.pk,
        "selected": run.selected,
        "withdrawn": withdrawn,
        "proposed": proposed,
    }


@dataclass(frozen=True)
class MorningRead:
    """A day's forecast as its morning's readings correct it."""

    ratio: float  # readings / forecast over the morning's hours (mv.comparison_ratio)
    hours: slice  # the local hours read
    # The error still to come after such a correction (one sd, a share of load), as the last
    # days show it (policy.calls.error_sd); None where they are too few to tell.
    remaining: float | None
    # (24,) kW per local hour: the forecast corrected by the ratio, on the P90 of what is still
    # to come where that is known (on its P50 where not).
    load_kw: np.ndarray

    def note(self) -> str:
        """What the morning said, for an event's history."""
        return (
            f"the readings of {self.hours.start:02d}:00-{self.hours.stop:02d}:00 put the forecast "
            f"{1 / self.ratio - 1:+.1%} off"
        ) + (
            f"; {self.remaining:.1%} of load may still be to come (one sd, the last days' "
            "error after such a correction), so the target is set on its P90"
            if self.remaining
            else ""
        )


def morning_read(
    *, utility, day: date, end_before: int, hours: slice, building_ids=None,
    past: history.PastDays | None = None,
) -> MorningRead:  # fmt: skip
    """The day's forecast corrected by the readings of the COMPARISON_HOURS before local hour
    `end_before` (earlier, where most meters have not sent those yet: _read_up_to), nobody
    curtailed in them (mv.comparison_ratio over every building read), with the error still to
    come over `hours` judged on the utility's last days after a correction by the same hours;
    the load of `building_ids` only, where given (a feeder's)."""
    ids, predicted, readings = history.forecast_and_readings(utility, day)
    if not ids.size:
        raise EventError(f"No complete forecast of {day} for {utility}: nothing to correct.")
    if end_before < 1:
        raise EventError(f"No readings yet for {day}: it has only just begun.")
    end = _read_up_to(readings, end_before)
    if end < 1:
        wanted = mv.morning_hours(end_before)
        raise EventError(
            f"No readings yet for {day}, {wanted.start:02d}:00-{wanted.stop:02d}:00: nothing "
            "to correct the forecast with."
        )
    morning = mv.morning_hours(end)
    complete = np.isfinite(readings[:, morning]).all(axis=1)
    ratio = mv.comparison_ratio(predicted[complete, morning], readings[complete, morning])
    if building_ids is not None:
        predicted = predicted[np.isin(ids, list(building_ids))]
    days = (past or history.PastDays(utility, day)).latest(calls.ERROR_DAYS)
    remaining = calls.error_sd(
        calls.day_error(one.predicted, one.actual, hours, morning) for one in days
    )
    load = calls.p90_excess(predicted.sum(axis=0), 0.0, ratio=ratio, error=remaining)
    return MorningRead(ratio=ratio, hours=morning, remaining=remaining, load_kw=load)


def _read_up_to(readings: np.ndarray, end_before: int) -> int:
    """The latest hour, at most `end_before`, whose mv.morning_hours before it at least
    MORNING_READ_SHARE of the buildings have every reading of; 0 where there is none.
    readings: (n, 24) kW, NaN where an hour is not read."""
    for end in range(end_before, 0, -1):
        read = np.isfinite(readings[:, mv.morning_hours(end)]).all(axis=1)
        if read.mean() >= MORNING_READ_SHARE:
            return end
    return 0


def day_of_call(
    *, utility, now: datetime | None = None, day: date | None = None, user=None
) -> dict:
    """The morning's check of a day the day-ahead forecast called no event for: the forecast
    corrected by the morning's readings (morning_read, up to the current hour) and, where the
    hours left today reach the HIGH threshold, an event called for them at the notice that is
    left: the window around their peak (policy.calls.call, at most MAX_WINDOW_H), the
    target the kW above HIGH there, CRITICAL where that reaches the CRITICAL threshold. Its
    target already reads the morning, so it is not revisited. (The season simulator's
    Season._day_of does the same.) A day that has had an event, even one cancelled or over, is
    left to that event's revisit and to the operators (hours curtailed since would read as a
    forecast error). `day`: the local day the call is for (a job's), nothing done once it is
    over."""
    now = now or timezone.now()
    tz = ZoneInfo(utility.timezone)
    local_now = now.astimezone(tz)
    earliest = local_now.hour + 1
    result = {"day": str(day or local_now.date()), "event_id": None}
    if day is not None and day != local_now.date():
        return {**result, "reason": f"too late: it is {local_now:%Y-%m-%d %H:%M} there"}
    day = local_now.date()
    if _has_event(utility, day):
        return {**result, "reason": "the day has had an event: its revisit reads the morning"}
    read = morning_read(
        utility=utility, day=day, end_before=local_now.hour, hours=slice(earliest, 24)
    )
    high = utility.capacity_kw * utility.high_strain_pct / 100.0
    excess = read.load_kw - high
    result["forecast_ratio"] = read.ratio
    called = calls.call(excess, earliest=earliest)
    if called is None:
        return {**result, "reason": f"{read.note()}; no hour left today reaches HIGH"}
    start, end, kw = called.start, called.end, called.target_kw
    starts_at, ends_at = window_of(day, start, end, tz)
    with transaction.atomic():
        # Checked again under the utility's lock: another call may have been quicker.
        Utility.objects.select_for_update().filter(pk=utility.pk).first()
        if _has_event(utility, day):
            return {**result, "reason": "the day has had an event: its revisit reads the morning"}
        event = event_propose(
            utility=utility, starts_at=starts_at, ends_at=ends_at, target_kw=kw,
            source=DemandResponseEvent.Source.GRID_STATUS,
            strain=strain_of(kw, utility.capacity_kw, utility),
            simulated=starts_at <= now, user=user, now=now,
        )  # fmt: skip
        DemandResponseEvent.objects.filter(pk=event.pk).update(revisited_at=now)
        event_note(
            event=event, user=user,
            note=f"Called on the day: {read.note()}, and {start:02d}:00-{end:02d}:00 is "
            f"{kw:,.1f} kW above HIGH.",
        )  # fmt: skip
    return {
        **result, "event_id": event.pk, "window": f"{start:02d}:00-{end:02d}:00",
        "target_kw": event.target_kw, "strain": event.strain,
    }  # fmt: skip


def _propose_next_to(event, day, runs, capacity_kw: float, user, now) -> list[int]:
    """Propose an event for each run of hours next to `event`'s window (policy.calls.revisit's
    next_to) that no other open event covers already, CRITICAL where its target reaches the
    CRITICAL threshold on `capacity_kw` (events.strain_of); the reason, or why it could not be
    proposed, is kept in `event`'s history."""
    tz = ZoneInfo(event.utility.timezone)
    proposed = []
    for run in runs:
        hours = f"{run.start:02d}:00-{run.end:02d}:00"
        kw = run.target_kw
        starts_at, ends_at = window_of(day, run.start, run.end, tz)
        if (
            DemandResponseEvent.objects.filter(
                utility=event.utility, status__in=OPEN, starts_at__lt=ends_at,
                ends_at__gt=starts_at,
            )
            .exclude(pk=event.pk)
            .exists()
        ):  # fmt: skip
            continue  # already called (by an earlier revisit, or the grid)
        try:
            other = event_propose(
                utility=event.utility, starts_at=starts_at, ends_at=ends_at, target_kw=kw,
                source=DemandResponseEvent.Source.GRID_STATUS,
                strain=strain_of(kw, capacity_kw, event.utility),
                feeder=event.feeder, risk_eps=event.risk_eps,
                incentive_usd_per_kwh=event.incentive_usd_per_kwh, simulated=event.simulated,
                user=user, now=now,
            )  # fmt: skip
        except EventError as error:
            note = (
                f"The forecast is {kw:,.1f} kW above HIGH at {hours}, outside the window: {error}"
            )
        else:
            proposed.append(other.pk)
            note = (
                f"The forecast is {kw:,.1f} kW above HIGH at {hours}, outside the window: "
                f"event #{other.pk} proposed for those hours."
            )
        event_note(event=event, user=user, note=note)
    return proposed


def events_due_for_revisit(*, now: datetime | None = None) -> list[DemandResponseEvent]:
    """Planned or dispatched events that start later on their utility's day, once the utility
    has reached settings.EVENT_REVISIT_HOUR in its own time, and were not revisited yet."""
    now = now or timezone.now()
    candidates = DemandResponseEvent.objects.filter(
        status__in=REVISABLE, revisited_at__isnull=True, starts_at__gt=now,
        starts_at__lt=now + timedelta(days=1),
    ).select_related("utility", "feeder")  # fmt: skip
    due = []
    for event in candidates.order_by("starts_at", "pk"):
        tz = ZoneInfo(event.utility.timezone)
        local = now.astimezone(tz)
        if local.hour >= settings.EVENT_REVISIT_HOUR and event.starts_at.astimezone(tz).date() == (
            local.date()
        ):
            due.append(event)
    return due


def days_due_for_a_call(*, now: datetime | None = None) -> list[tuple[Utility, date]]:
    """(utility, local day) for each utility that has reached settings.EVENT_REVISIT_HOUR in
    its own time, with hours of the day still to come, a complete forecast of the day, and no
    event on it: the days day_of_call checks (the caller makes sure it does so once)."""
    now = now or timezone.now()
    due = []
    for utility in Utility.objects.order_by("pk"):
        tz = ZoneInfo(utility.timezone)
        local = now.astimezone(tz)
        if not settings.EVENT_REVISIT_HOUR <= local.hour < 23:
            continue
        day = local.date()
        if history.latest_run(utility, day) is not None and not _has_event(utility, day):
            due.append((utility, day))
    return due


def _has_event(utility, day: date) -> bool:
    """Whether an event of the utility, in any state, starts on its local `day`."""
    midnight, next_midnight = window_of(day, 0, 24, ZoneInfo(utility.timezone))
    return DemandResponseEvent.objects.filter(
        utility=utility, starts_at__gte=midnight, starts_at__lt=next_midnight
    ).exists()


def _feeder_buildings(event: DemandResponseEvent) -> set[int]:
    return set(event.feeder.buildings.values_list("pk", flat=True))
