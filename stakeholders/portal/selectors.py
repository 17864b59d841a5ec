"""Reads the portal's pages share, scoped to the acting member."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from optimization.models import EventStatus, Recommendation

from .access import Member

# Events whose requests are out with the buildings.
SENT = (EventStatus.DISPATCHED, EventStatus.ACTIVE)


def requests_out(member: Member, now: datetime) -> QuerySet[Recommendation]:
    """The requests out now for the member's buildings (events dispatched or running whose
    window has not ended; withdrawn asks left out), soonest first. The facility manager
    answers them; the owner and the tenant read them."""
    return (
        Recommendation.objects.filter(
            building__in=member.buildings, event__status__in=SENT, event__ends_at__gt=now
        )
        .exclude(status=Recommendation.Status.WITHDRAWN)
        .order_by("event__starts_at", "event_id", "pk")
    )
