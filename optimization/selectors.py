"""Reads of DR events and recommendations, scoped to the requesting user's organizations.

A utility's members see the events on their grid and every recommendation in them; a building
owner's members see the events that asked one of their buildings, and only the
recommendations for their own buildings.
"""

from django.db.models import Q, QuerySet

from stakeholders.selectors import organization_ids, sees_everything

from .models import DemandResponseEvent, Recommendation


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
