"""The portal's own writes: what its members record that no other app owns."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from optimization.models import DemandResponseEvent, EventStatus
from optimization.services.events import OPEN
from stakeholders.models import Membership, Role

from .models import ProtocolCheck, RequestTiming
from .protocol import EMERGENCY_STEPS, STEP_NUMBERS

# A completed event's protocol stays open this long after its window, so that the team can
# stand down (the last step) once the peak has passed.
STAND_DOWN_H = 12


class ProtocolError(ValueError):
    """A protocol check its rules do not allow; the message says which rule."""


def protocol_open(*, status: str, ends_at: datetime, now: datetime | None = None) -> bool:
    """Whether the team may still check an event's protocol: the event is open, or completed
    within STAND_DOWN_H of its window's end."""
    now = now or timezone.now()
    if status in OPEN:
        return True
    return status == EventStatus.COMPLETED and now < ends_at + timedelta(hours=STAND_DOWN_H)


def protocol_check(*, event: DemandResponseEvent, step: int, user) -> ProtocolCheck:
    """Record that `user` of the event's utility's emergency team has done protocol step
    `step` for the event. Idempotent: a step checked already keeps its first check (who and
    when), which is returned."""
    if step not in STEP_NUMBERS:
        raise ProtocolError(
            f"There is no step {step} in the emergency protocol: its steps are 1 to "
            f"{len(EMERGENCY_STEPS)}."
        )
    if not Membership.objects.filter(
        user=user, role=Role.EMERGENCY_TEAM, organization__utility=event.utility_id
    ).exists():
        raise ProtocolError(
            f"Only the emergency team of {event.utility} checks the protocol of event #{event.pk}."
        )
    if not protocol_open(status=event.status, ends_at=event.ends_at):
        raise ProtocolError(
            f"Event #{event.pk} is {event.get_status_display().lower()}: its protocol is closed."
        )
    existing = ProtocolCheck.objects.filter(event=event, step=step).select_related("by").first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return ProtocolCheck.objects.create(event=event, step=step, by=user)
    except IntegrityError:  # checked by someone else a moment ago: theirs stands
        return ProtocolCheck.objects.select_related("by").get(event=event, step=step)


# Request timings are kept this long: the technical report reads the last day.
REQUEST_TIMINGS_KEPT_DAYS = 14


def request_timings_prune(*, now: datetime | None = None) -> int:
    """Delete request timings older than REQUEST_TIMINGS_KEPT_DAYS; how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=REQUEST_TIMINGS_KEPT_DAYS)
    deleted, _ = RequestTiming.objects.filter(at__lt=cutoff).delete()
    return deleted
