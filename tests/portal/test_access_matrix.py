"""The portal's access matrix, in the style of Taiga's permission tests: every portal URL x
every role x the caller's own organization and another's, with the status each cell must
answer. Another organization's ids answer 404; a role a page is not for answers 403; nobody
signed in is sent to the login page. A meta-test fails when a URL has no row here."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from jobs.models import JobRun
from stakeholders.models import Role
from stakeholders.portal.access import DASHBOARD_OF_ROLE
from stakeholders.portal.snapshots.event import report_event
from stakeholders.portal.snapshots.service import report_day
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# The callers: each role, a user without any membership, and nobody.
ROLES = [
    Role.GRID_OPERATOR, Role.ENERGY_TRADER, Role.SYSTEM_ENGINEER, Role.EMERGENCY_TEAM,
    Role.EXECUTIVE, Role.DATA_SCIENCE, Role.BUILDING_OWNER, Role.ENERGY_MANAGER,
    Role.FACILITY_MANAGER, Role.TENANT,
]  # fmt: skip
NO_MEMBERSHIP, ANONYMOUS = "no_membership", "anonymous"
UTILITY_BOARDS = {"operator", "trader", "engineer", "emergency", "executive", "technical"}
OWNER_BOARDS = {"owner", "facility", "tenant"}
EVERY_BOARD = UTILITY_BOARDS | OWNER_BOARDS


@dataclass(frozen=True)
class Row:
    """One URL: who may use it (by dashboard) and what they get on their own organization's
    objects; `target` names the object its id is of (None: no id)."""

    name: str
    method: str = "get"
    boards: frozenset = field(default_factory=frozenset)
    ok: int = 200
    target: str | None = None
    data: dict = field(default_factory=dict)
    no_membership: int = 403  # what a signed-in user with no role gets


def row(name, boards, **kwargs) -> Row:
    return Row(name=name, boards=frozenset(boards), **kwargs)


MATRIX = [
    row("home", EVERY_BOARD, ok=302),
    # The switch refuses a membership that is not the caller's with a message, back home.
    row("switch", EVERY_BOARD, method="post", ok=302, no_membership=302),
    row("reports", EVERY_BOARD),
    row("report", EVERY_BOARD, target="report"),
    row("report-csv", EVERY_BOARD, target="report"),
    row("report-pdf", EVERY_BOARD, target="report"),
    # Dashboards: `?utility=` another organization's utility answers 404.
    row("operator", {"operator"}, target="utility"),
    row("trader", {"trader"}, target="utility"),
    row("engineer", {"engineer"}, target="utility"),
    row("technical", {"technical"}, target="utility"),
    row("emergency", {"emergency"}, target="utility"),
    row("executive", {"executive"}, target="utility"),
    row("owner", {"owner"}, target="utility"),
    row("tenant", {"tenant"}, target="utility"),
    row("emergency-check", {"emergency"}, method="post", ok=302, target="event", data={"step": 2}),
    row("event-propose", {"operator"}, method="post", ok=302),
    row("event", UTILITY_BOARDS, target="event"),
    row("event-plan", {"operator"}, method="post", ok=302, target="event"),
    row("event-dispatch", {"operator"}, method="post", ok=302, target="event"),
    row("event-cancel", {"operator"}, method="post", ok=302, target="event", data={"reason": "test"}),
    row("job", EVERY_BOARD, target="job"),
    row("facility", {"facility"}, target="utility"),
    row("request-accept", {"facility", "owner"}, method="post", ok=302, target="request"),
    row("request-decline", {"facility", "owner"}, method="post", ok=302, target="request"),
]  # fmt: skip
# Roles whose answer on an owner-side request differs from their dashboard's rule: a tenant
# has no say on requests, an energy manager answers as the owner does.
ANSWERING_BOARD_ROLES = {Role.BUILDING_OWNER, Role.ENERGY_MANAGER, Role.FACILITY_MANAGER}


def portal_url_names() -> set[str]:
    """Every URL name mounted under /portal/."""
    names: set[str] = set()

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    pattern.namespace or namespace,
                )
            elif isinstance(pattern, URLPattern) and (prefix + str(pattern.pattern)).startswith(
                "portal/"
            ):
                names.add(pattern.name)

    walk(get_resolver().url_patterns, "", None)
    return names


def test_every_portal_url_has_a_row_in_the_matrix():
    assert portal_url_names() == {r.name for r in MATRIX}


def _objects(world) -> dict:
    """The objects of a world that the matrix's ids point at."""
    event = world.events["dispatched"]
    pending = event.recommendations.filter(status="pending", building__in=world.buildings[:1])
    return {
        "event": event.pk,
        "request": pending.first().pk,
        "report": report_day(utility=world.utility).pk,
        "utility": world.utility.pk,
    }


def _job(user) -> int:
    """A job is its requester's: "own" is the caller's, "other" the other world's operator's."""
    return JobRun.objects.create(kind="optimization.optimize", params={}, requested_by=user).pk


def _expected(r: Row, caller: str, own: bool) -> int:
    if caller == ANONYMOUS:
        return 302
    if caller == NO_MEMBERSHIP:
        return r.no_membership
    board = DASHBOARD_OF_ROLE[caller]
    allowed = board in r.boards
    if r.name.startswith("request-") and allowed:
        allowed = caller in ANSWERING_BOARD_ROLES
    if not allowed:
        return 403
    if r.target is not None and not own:
        return 404
    return r.ok


@pytest.mark.parametrize("r", MATRIX, ids=lambda r: r.name)
def test_access_matrix(r, world, other_world, client):
    report_event(event=world.events["dispatched"])
    objects = {True: _objects(world), False: _objects(other_world)}
    callers = [ANONYMOUS, NO_MEMBERSHIP, *ROLES]
    # The operator's own cells go last: their actions change the event the others point at.
    callers.sort(key=lambda caller: caller == Role.GRID_OPERATOR)
    failures = []
    for caller in callers:
        for own in (False, True):
            client.logout()
            if caller == ANONYMOUS:
                user = UserFactory()
            elif caller == NO_MEMBERSHIP:
                user = UserFactory()
                client.force_login(user)
            else:
                user = world.members[caller]
                client.force_login(user)
            ids = {
                **objects[own],
                "job": _job(user if own else other_world.members[Role.GRID_OPERATOR]),
            }
            kwargs, query = {}, ""
            if r.target == "utility":
                query = f"?utility={ids['utility']}"
            elif r.target is not None:
                key = {"event": "event_id", "request": "recommendation_id", "report": "report_id",
                       "job": "job_id"}[r.target]  # fmt: skip
                kwargs[key] = ids[r.target]
            url = reverse(f"portal:{r.name}", kwargs=kwargs) + query
            data = dict(r.data)
            if r.name == "switch":
                data["membership_id"] = user.memberships.values_list("pk", flat=True).first() or 0
            response = getattr(client, r.method)(url, data)
            expected = _expected(r, caller, own)
            if response.status_code != expected:
                failures.append(
                    f"{caller} on {'own' if own else 'other'}: {response.status_code}, "
                    f"expected {expected}"
                )
            if caller == ANONYMOUS:
                assert response["Location"].startswith("/accounts/login/")
    assert not failures, f"{r.name}: " + "; ".join(failures)
