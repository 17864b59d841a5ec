"""Reads of the directory for a requesting user: the one choke point for tenancy.

A member of a utility sees that utility, its feeders and the buildings on its grid; a member of
a building owner sees the buildings it owns and the utilities they are on. Staff of the program
team see everything (they work in the admin).
"""

from django.db.models import Q, QuerySet

from .models import Building, Feeder, Membership, Organization, Utility


def sees_everything(user) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def organization_ids(*, user) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user).values_list("organization_id", flat=True).distinct()
    )


def organization_list(*, user) -> QuerySet[Organization]:
    if sees_everything(user):
        return Organization.objects.all()
    return Organization.objects.filter(pk__in=organization_ids(user=user))


def building_list(*, user) -> QuerySet[Building]:
    buildings = Building.objects.select_related("owner", "utility", "feeder")
    if sees_everything(user):
        return buildings
    orgs = organization_ids(user=user)
    return buildings.filter(Q(owner_id__in=orgs) | Q(utility__organization_id__in=orgs))


def building_get(*, user, building_id: int) -> Building | None:
    return building_list(user=user).filter(pk=building_id).first()


def utility_list(*, user) -> QuerySet[Utility]:
    utilities = Utility.objects.select_related("organization")
    if sees_everything(user):
        return utilities
    orgs = organization_ids(user=user)
    return utilities.filter(
        Q(organization_id__in=orgs) | Q(buildings__owner_id__in=orgs)
    ).distinct()


def feeder_list(*, user) -> QuerySet[Feeder]:
    feeders = Feeder.objects.select_related("utility")
    if sees_everything(user):
        return feeders
    return feeders.filter(utility__organization_id__in=organization_ids(user=user))


def roles_of(*, user, organization: Organization) -> set[str]:
    return set(
        Membership.objects.filter(user=user, organization=organization).values_list(
            "role", flat=True
        )
    )
