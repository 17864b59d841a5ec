"""Who is acting in the portal: the signed-in user's active membership (organization + role),
the dashboard each role lands on, and the guard every portal view stands behind."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject

from stakeholders.models import Membership, Organization, Role, Utility
from stakeholders.selectors import (
    member_building_list,
    membership_building_ids,
    membership_get,
    membership_list,
)

SESSION_KEY = "portal_membership_id"

# The dashboard each role lands on (a URL name under portal:).
DASHBOARD_OF_ROLE = {
    Role.GRID_OPERATOR: "operator",
    Role.ENERGY_TRADER: "trader",
    Role.SYSTEM_ENGINEER: "engineer",
    Role.EMERGENCY_TEAM: "emergency",
    Role.BUILDING_OWNER: "owner",
    Role.ENERGY_MANAGER: "owner",
    Role.FACILITY_MANAGER: "facility",
    Role.TENANT: "tenant",
    Role.EXECUTIVE: "executive",
    Role.DATA_SCIENCE: "technical",
    Role.ENGINEERING: "technical",
    Role.SECURITY: "technical",
    Role.OPERATIONS: "technical",
}
UTILITY_ROLES = frozenset(
    {
        Role.GRID_OPERATOR, Role.ENERGY_TRADER, Role.SYSTEM_ENGINEER, Role.EMERGENCY_TEAM,
        Role.EXECUTIVE, Role.DATA_SCIENCE, Role.ENGINEERING, Role.SECURITY, Role.OPERATIONS,
    }
)  # fmt: skip
OWNER_ROLES = frozenset(
    {Role.BUILDING_OWNER, Role.ENERGY_MANAGER, Role.FACILITY_MANAGER, Role.TENANT}
)
# Who may answer a recommendation for a building (optimization's rule, read here for pages).
ANSWERING_ROLES = frozenset({Role.FACILITY_MANAGER, Role.BUILDING_OWNER, Role.ENERGY_MANAGER})


@dataclass(frozen=True)
class Member:
    """The acting membership, with what it reaches: its utility (for a utility's roles) and
    the buildings a facility manager or tenant is tied to (None: all of the organization's)."""

    membership: Membership
    user: object

    @property
    def organization(self) -> Organization:
        return self.membership.organization

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def role_label(self) -> str:
        return self.membership.get_role_display()

    @property
    def dashboard(self) -> str:
        return DASHBOARD_OF_ROLE[self.role]

    @property
    def utility(self) -> Utility | None:
        """The utility whose grid this member works on (utility organizations only)."""
        if self.organization.kind != Organization.Kind.UTILITY:
            return None
        try:
            return self.organization.utility
        except Utility.DoesNotExist:
            return None

    @property
    def buildings(self):
        """The buildings this membership sees (stakeholders.selectors.member_building_list)."""
        return member_building_list(membership=self.membership, tied=self.building_ids)

    @property
    def building_ids(self) -> list[int] | None:
        cached = self.__dict__.get("_building_ids", ...)
        if cached is ...:
            cached = membership_building_ids(membership=self.membership)
            object.__setattr__(self, "_building_ids", cached)
        return cached


def active_member(request) -> Member | None:
    """The membership chosen in this session, else the user's first; None without one."""
    user = request.user
    if not user.is_authenticated:
        return None
    membership = None
    chosen = request.session.get(SESSION_KEY)
    if chosen:
        membership = membership_get(user=user, membership_id=chosen)
    if membership is None:
        membership = membership_list(user=user).order_by("pk").first()
    return None if membership is None else Member(membership=membership, user=user)


class ActiveMembershipMiddleware:
    """Puts `request.member` (lazily: a page that never asks costs no query)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = SimpleLazyObject(lambda: active_member(request) or _NoMember())
        return self.get_response(request)


class _NoMember:
    """What `request.member` is for a user without a membership (falsy)."""

    def __bool__(self) -> bool:
        return False


def portal_context(request) -> dict:
    """The header's membership switcher; empty outside the portal's pages."""
    if not request.path.startswith("/portal/") or not request.user.is_authenticated:
        return {}
    member = request.member
    return {
        "member": member if member else None,
        "memberships": list(membership_list(user=request.user).order_by("organization__name")),
    }


def portal_view(*dashboards: str):
    """Guard a portal view: signed in, with a membership whose role's dashboard is one of
    `dashboards` (none given: any membership). Others get a page that says why, in words."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            member = request.member
            if not member:
                return render(request, "portal/no_membership.html", status=403)
            if dashboards and member.dashboard not in dashboards:
                return render(
                    request,
                    "portal/forbidden.html",
                    {"needed": dashboards},
                    status=403,
                )
            return view(request, member, *args, **kwargs)

        guarded.portal_dashboards = dashboards
        return guarded

    return decorate
