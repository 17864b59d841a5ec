"""Reads of DR events and recommendations, scoped to the requesting user's organizations.

A utility's members see the events on their grid and every recommendation in them; a building
owner's members see the events that asked one of their buildings, and only the
recommendations for their own buildings.
"""

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import Count, Q, QuerySet, Sum

from stakeholders.selectors import organization_ids, sees_everything

from . import mv
from .models import DemandResponseEvent, EventStatus, Recommendation


def event_list(*, user) -> QuerySet[DemandResponseEvent]:
    events = DemandResponseEvent.objects.select_related("utility", "feeder")
    if sees_everything(user):
        return events
    orgs = organization_ids(user=user)
    return events.filter(
        Q(utility__organization_id__in=orgs) | Q(recommendations__building__owner_id__in=orgs)
    ).distinct()


def event_get(*, user, event_id: int) -> DemandResponseEvent | None:
    return event_list(user=user).filter(pk=event_id).first()


def recommendation_list(*, user) -> QuerySet[Recommendation]:
    recommendations = Recommendation.objects.select_related("event", "event__utility", "building")
    if sees_everything(user):
        return recommendations
    orgs = organization_ids(user=user)
    return recommendations.filter(
        Q(event__utility__organization_id__in=orgs) | Q(building__owner_id__in=orgs)
    )


ASKED = (Recommendation.Status.PENDING, Recommendation.Status.ACCEPTED)


def answer_counts(*, event_ids: list[int]) -> dict[int, dict]:
    """Per event: how many buildings are asked (pending or accepted), how many answered which
    way, and the kW asked; one grouped query. The live answers panel and the snapshots both
    read these."""
    rows = (
        Recommendation.objects.filter(event_id__in=event_ids)
        .values("event_id")
        .annotate(
            asked=Count("id", filter=Q(status__in=ASKED)),
            pending=Count("id", filter=Q(status=Recommendation.Status.PENDING)),
            accepted=Count("id", filter=Q(status=Recommendation.Status.ACCEPTED)),
            declined=Count("id", filter=Q(status=Recommendation.Status.DECLINED)),
            asked_kw=Sum("requested_kw", filter=Q(status__in=ASKED)),
            accepted_kw=Sum("requested_kw", filter=Q(status=Recommendation.Status.ACCEPTED)),
        )
        .order_by()
    )
    counts = {row.pop("event_id"): row for row in rows}
    empty = {"asked": 0, "pending": 0, "accepted": 0, "declined": 0, "asked_kw": None,
             "accepted_kw": None}  # fmt: skip
    return {event_id: counts.get(event_id, dict(empty)) for event_id in event_ids}


def utility_events(*, utility, since: datetime, until: datetime | None = None):
    """The utility's events whose window ends after `since` (and starts before `until`),
    earliest first."""
    events = DemandResponseEvent.objects.filter(utility=utility, ends_at__gt=since).select_related(
        "feeder"
    )
    if until is not None:
        events = events.filter(starts_at__lt=until)
    return events.order_by("starts_at", "pk")


@dataclass(frozen=True)
class VerifiedAsks:
    """Every verified ask of a utility's events, as arrays of one length (for mv.settle)."""

    event_id: np.ndarray
    building_id: np.ndarray
    owner_id: np.ndarray
    delivered_kw: np.ndarray
    requested_kw: np.ndarray
    hours: np.ndarray
    incentive_usd_per_kwh: np.ndarray
    tariff_usd_per_kwh: np.ndarray
    carbon_kg_per_kwh: np.ndarray
    complied: np.ndarray

    def settled(self) -> mv.Settlement:
        return mv.settle(
            delivered_kw=self.delivered_kw, requested_kw=self.requested_kw, hours=self.hours,
            incentive_usd_per_kwh=self.incentive_usd_per_kwh,
            tariff_usd_per_kwh=self.tariff_usd_per_kwh, carbon_kg_per_kwh=self.carbon_kg_per_kwh,
        )  # fmt: skip


def verified_asks(
    *, utility, until: datetime | None = None, event_ids: list[int] | None = None
) -> VerifiedAsks:
    """The asks of the utility's verified events (those that started before `until`, or those
    of `event_ids`) that were read (delivered kW known): two queries, straight into arrays. The
    asks carry numbers only; each event's window and rate are read once per event and spread
    over its asks (a 100,000-building season has some 200,000 asks and a few dozen events)."""
    asks = Recommendation.objects.filter(
        event__utility=utility, event__status=EventStatus.VERIFIED, delivered_kw__isnull=False
    )
    if until is not None:
        asks = asks.filter(event__starts_at__lt=until)
    if event_ids is not None:
        asks = asks.filter(event_id__in=event_ids)
    rows = list(
        asks.values_list(
            "event_id", "building_id", "building__owner_id", "delivered_kw", "requested_kw",
            "building__tariff_usd_per_kwh", "building__carbon_kg_per_kwh", "complied",
        ).order_by()
    )  # fmt: skip
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    event_of_ask = np.array(columns[0], dtype=np.int64)
    events = list(
        DemandResponseEvent.objects.filter(pk__in=set(columns[0]))
        .values_list("pk", "starts_at", "ends_at", "incentive_usd_per_kwh")
        .order_by("pk")
    )  # no query when there is no ask
    position = np.searchsorted(np.array([e[0] for e in events], dtype=np.int64), event_of_ask)
    event_hours = np.array(
        [(end - start).total_seconds() / 3600 for _, start, end, _ in events], dtype=float
    )
    event_rate = np.array([rate for *_, rate in events], dtype=float)
    return VerifiedAsks(
        event_id=event_of_ask,
        building_id=np.array(columns[1], dtype=np.int64),
        owner_id=np.array(columns[2], dtype=np.int64),
        delivered_kw=np.array(columns[3], dtype=float),
        requested_kw=np.array(columns[4], dtype=float),
        hours=event_hours[position],
        incentive_usd_per_kwh=event_rate[position],
        tariff_usd_per_kwh=np.array(columns[5], dtype=float),
        carbon_kg_per_kwh=np.array(columns[6], dtype=float),
        complied=np.array([bool(c) for c in columns[7]], dtype=bool),
    )
