"""Reads of the directory for a requesting user: the one choke point for tenancy.

A member of a utility sees that utility, its feeders and the buildings on its grid; a member of
a building owner sees the buildings it owns and the utilities they are on; a facility manager or
a tenant tied to buildings sees only those. Members of the program team (an organization of
kind program team) and superusers see everything: they run the program from the admin.
`is_staff` alone lets a user into the admin, never past its tenancy.
"""

from django.db.models import Q, QuerySet

from .models import Building, Feeder, Membership, Organization, Role, Utility

# Roles whose view of their organization's buildings narrows to the buildings tied to them.
BUILDING_BOUND_ROLES = (Role.FACILITY_MANAGER, Role.TENANT)


def sees_everything(user) -> bool:
    """Superusers and members of the program team; cached on the user for one request."""
    if not user.is_authenticated:
        return False
    cached = getattr(user, "_energyrec_sees_everything", None)
    if cached is None:
        cached = user.is_superuser or (
            Membership.objects.filter(
                user=user, organization__kind=Organization.Kind.PROGRAM_TEAM
            ).exists()
        )
        user._energyrec_sees_everything = cached
    return cached


def organization_ids(*, user) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user).values_list("organization_id", flat=True).distinct()
    )


def membership_list(*, user) -> QuerySet[Membership]:
    """The user's memberships, for the switcher in the portal's header."""
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related(
        "organization", "organization__utility"
    )


def membership_get(*, user, membership_id: int) -> Membership | None:
    return membership_list(user=user).filter(pk=membership_id).first()


def membership_building_ids(*, membership: Membership) -> list[int] | None:
    """The buildings a facility manager or tenant is tied to; None where the role sees all of
    its organization's (a tenant tied to none sees none)."""
    if membership.role not in BUILDING_BOUND_ROLES:
        return None
    ids = list(membership.buildings.values_list("pk", flat=True))
    if not ids and membership.role == Role.FACILITY_MANAGER:
        return None
    return ids


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


_LOOK_UP = object()


def member_building_list(*, membership: Membership, tied=_LOOK_UP) -> QuerySet[Building]:
    """The buildings one membership sees: its utility's grid, its owner's buildings, or the
    buildings a facility manager or tenant is tied to (`tied`: those ids, when the caller
    has read them with membership_building_ids already)."""
    buildings = Building.objects.select_related("owner", "utility", "feeder")
    organization = membership.organization
    if organization.kind == Organization.Kind.UTILITY:
        return buildings.filter(utility__organization_id=organization.pk)
    if organization.kind == Organization.Kind.PROGRAM_TEAM:
        return buildings
    buildings = buildings.filter(owner_id=organization.pk)
    if tied is _LOOK_UP:
        tied = membership_building_ids(membership=membership)
    return buildings if tied is None else buildings.filter(pk__in=tied)


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
