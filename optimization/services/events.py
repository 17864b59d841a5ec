"""The life of a DR event: proposed -> optimized -> dispatched -> active -> completed ->
verified, or cancelled. Each move is a conditional update (so two requests cannot both make
it) and leaves an EventTransition behind."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from forecasting.models import GridStatus, GridStatusHour
from stakeholders.models import Building, Feeder, Utility

from .. import history
from ..models import OPEN, DemandResponseEvent, EventStatus, EventTransition
from ..policy import calls
from ..policy.calls import MAX_DURATION_H
from .advice import advice_refresh

ALLOWED = {
    EventStatus.OPTIMIZED: (EventStatus.PROPOSED, EventStatus.OPTIMIZED),
    EventStatus.DISPATCHED: (EventStatus.OPTIMIZED,),
    EventStatus.ACTIVE: (EventStatus.DISPATCHED,),
    EventStatus.COMPLETED: (EventStatus.ACTIVE,),
    EventStatus.VERIFIED: (EventStatus.COMPLETED,),
    EventStatus.CANCELLED: OPEN,
}


class EventError(ValueError):
    """An event operation its rules do not allow; the message says which rule."""


def event_transition(
    *, event: DemandResponseEvent, to: str, user=None, note: str = "", **fields
) -> DemandResponseEvent:
    """Move `event` to `to` if its current status allows it, with an audit row."""
    sources = ALLOWED[to]
    with transaction.atomic():
        current = DemandResponseEvent.objects.select_for_update().get(pk=event.pk)
        if current.status not in sources:
            raise EventError(
                f"Event #{event.pk} is {current.get_status_display().lower()}; it can become "
                f"{EventStatus(to).label.lower()} only from {', '.join(EventStatus(s).label.lower() for s in sources)}."
            )
        DemandResponseEvent.objects.filter(pk=event.pk).update(status=to, **fields)
        EventTransition.objects.create(
            event=current, from_status=current.status, to_status=to,
            by=user if user is not None and user.is_authenticated else None, note=note[:500],
        )  # fmt: skip
    event.refresh_from_db()
    return event


def event_note(*, event: DemandResponseEvent, note: str, user=None) -> None:
    """Keep `note` in the event's history, its status unchanged."""
    EventTransition.objects.create(
        event=event, from_status=event.status, to_status=event.status,
        by=user if user is not None and user.is_authenticated else None, note=note[:500],
    )  # fmt: skip


def strain_of(kw_above_high: float, capacity_kw: float, utility: Utility) -> str:
    """CRITICAL where `kw_above_high` reaches the utility's CRITICAL threshold on `capacity_kw`
    (the utility's, or a feeder's), HIGH below it."""
    critical_above_high = (
        capacity_kw * (utility.critical_strain_pct - utility.high_strain_pct) / 100
    )
    if kw_above_high >= critical_above_high:
        return DemandResponseEvent.Strain.CRITICAL
    return DemandResponseEvent.Strain.HIGH


def event_propose(
    *,
    utility: Utility,
    starts_at: datetime,
    ends_at: datetime,
    target_kw: float,
    source: str = DemandResponseEvent.Source.OPERATOR,
    strain: str = DemandResponseEvent.Strain.HIGH,
    feeder: Feeder | None = None,
    risk_eps: float = 0.05,
    incentive_usd_per_kwh: float = 0.5,
    simulated: bool = False,
    user=None,
    now: datetime | None = None,
) -> DemandResponseEvent:
    """Propose an event after checking its rules. A simulated event may lie in the past (a
    replay of history); a real one may not start before `now`."""
    now = now or timezone.now()
    if not Building.objects.filter(utility=utility, enrolled=True).exists():
        raise EventError(f"{utility} has no enrolled buildings to ask.")
    if ends_at <= starts_at:
        raise EventError("The event must end after it starts.")
    if ends_at - starts_at > timedelta(hours=MAX_DURATION_H):
        raise EventError(f"An event lasts at most {MAX_DURATION_H} hours.")
    if not simulated and starts_at <= now:
        raise EventError("The event's window has already started or passed; choose a later start.")
    if not target_kw > 0:
        raise EventError("The target must be above 0 kW.")
    if not 0 < risk_eps < 0.5:
        raise EventError("The accepted risk of missing the target must be between 0 and 0.5.")
    if feeder is not None and feeder.utility_id != utility.pk:
        raise EventError(f"Feeder {feeder.name} is not on {utility}.")
    with transaction.atomic():
        Utility.objects.select_for_update().filter(pk=utility.pk).first()  # one proposal at a time
        clash = DemandResponseEvent.objects.filter(
            utility=utility, status__in=OPEN, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).first()
        if clash:
            raise EventError(
                f"It overlaps event #{clash.pk} ({clash.starts_at:%Y-%m-%d %H:%M}-{clash.ends_at:%H:%M}, "
                f"{clash.get_status_display().lower()}); cancel that one or pick another window."
            )
        event = DemandResponseEvent.objects.create(
            utility=utility, feeder=feeder, source=source, strain=strain, starts_at=starts_at,
            ends_at=ends_at, target_kw=target_kw, risk_eps=risk_eps,
            incentive_usd_per_kwh=incentive_usd_per_kwh, simulated=simulated,
            created_by=user if user is not None and user.is_authenticated else None,
        )  # fmt: skip
        EventTransition.objects.create(
            event=event, to_status=EventStatus.PROPOSED, by=event.created_by,
            note=f"{DemandResponseEvent.Source(source).label}: {target_kw:,.1f} kW",
        )  # fmt: skip
    return event


def event_dispatch(*, event: DemandResponseEvent, user=None) -> DemandResponseEvent:
    if not event.recommendations.filter(status__in=["pending", "accepted"]).exists():
        raise EventError(f"Event #{event.pk} has no recommendation to send.")
    return event_transition(
        event=event, to=EventStatus.DISPATCHED, user=user, note="sent to buildings"
    )


def event_activate(
    *, event: DemandResponseEvent, user=None, now: datetime | None = None
) -> DemandResponseEvent:
    now = now or timezone.now()
    if not event.simulated and now < event.starts_at:
        raise EventError(f"Event #{event.pk} starts at {event.starts_at:%Y-%m-%d %H:%M}.")
    return event_transition(event=event, to=EventStatus.ACTIVE, user=user)


def event_complete(
    *, event: DemandResponseEvent, user=None, now: datetime | None = None
) -> DemandResponseEvent:
    now = now or timezone.now()
    if not event.simulated and now < event.ends_at:
        raise EventError(f"Event #{event.pk} runs until {event.ends_at:%Y-%m-%d %H:%M}.")
    return event_transition(event=event, to=EventStatus.COMPLETED, user=user)


def event_cancel(*, event: DemandResponseEvent, user=None, reason: str = "") -> DemandResponseEvent:
    if not reason.strip():
        raise EventError("Say why the event is cancelled.")
    with transaction.atomic():
        event = event_transition(event=event, to=EventStatus.CANCELLED, user=user, note=reason)
        advice_refresh(event=event)  # a back-to-back ask next to it is back to a single one
    return event


def day_ahead_error(utility, day, past: history.PastDays | None = None) -> float | None:
    """How far the utility's day-ahead forecast of the afternoon has been off for the whole
    utility over its last days (policy.calls.error_sd of the days before `day`)."""
    days = (past or history.PastDays(utility, day)).latest(calls.ERROR_DAYS)
    return calls.error_sd(
        calls.day_error(one.predicted, one.actual, calls.ERROR_HOURS) for one in days
    )


def event_propose_from_grid(
    *, run, user=None, now: datetime | None = None
) -> DemandResponseEvent | None:
    """Propose an event from a forecast run whose P90 reaches HIGH somewhere (policy.calls:
    the window is the hours around the peak, at most MAX_WINDOW_H, where the forecast's P90
    reaches HIGH, the target the kW that brings that P90 under it). The P90 is of the error
    common to the whole utility, which its last days show (day_ahead_error; the grid
    status's own P90 takes buildings' errors as independent and is far too narrow for a
    system); with too few days, the forecast itself. A day whose grid status (its P50) stays
    NORMAL may so be called, where the utility's forecasts have been far enough off. None
    when the P90 stays under HIGH, or when an open event already covers the peak."""
    now = now or timezone.now()
    hours = list(GridStatusHour.objects.filter(run=run, feeder__isnull=True).order_by("starts_at"))
    if not hours:
        return None
    error = day_ahead_error(run.utility, run.day)
    high = np.array([hour.capacity_kw * run.utility.high_strain_pct / 100.0 for hour in hours])
    excess = calls.p90_excess(np.array([hour.forecast_kw for hour in hours]), high, error=error)
    found = calls.call(excess)
    if found is None:
        return None
    window = hours[found.start : found.end]
    starts_at, ends_at = window[0].starts_at, window[-1].starts_at + timedelta(hours=1)
    clash = DemandResponseEvent.objects.filter(
        utility=run.utility, status__in=OPEN, starts_at__lt=ends_at, ends_at__gt=starts_at
    ).first()
    if clash:
        return None
    strain = strain_of(found.target_kw, window[0].capacity_kw, run.utility)
    if any(hour.level == GridStatus.CRITICAL for hour in window):
        strain = DemandResponseEvent.Strain.CRITICAL
    with transaction.atomic():
        event = event_propose(
            utility=run.utility, starts_at=starts_at, ends_at=ends_at, target_kw=found.target_kw,
            source=DemandResponseEvent.Source.GRID_STATUS, strain=strain,
            simulated=starts_at <= now, user=user, now=now,
        )  # fmt: skip
        if error:
            event_note(
                event=event, user=user,
                note=f"Target on the forecast's P90: its last days' afternoons were off by "
                f"{error:.1%} of load (one sd) for the whole utility.",
            )  # fmt: skip
    return event
