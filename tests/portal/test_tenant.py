"""A tenant reads a plain notice of the windows ahead in their building and what changes for
them, in the utility's local time; nothing about money or kW."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from optimization.services.planning import recommendation_decline
from stakeholders.models import Membership, Role
from stakeholders.portal.views.owners import notice_changes

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")


def test_the_notice_says_what_changes_in_plain_words():
    starts = datetime(2026, 12, 2, 16, tzinfo=LA)
    ends = datetime(2026, 12, 2, 19, tzinfo=LA)
    actions = [
        {"action": "pre-cool", "detail": "cool 1 °C below the usual setpoint for 2 h before the window"},
        {"action": "setpoint raise", "detail": "raise the cooling setpoint by 2.0 °C during the window"},
        {"action": "lighting dim", "detail": "dim common-area and perimeter lighting by 30 %"},
        {"action": "defer flexible loads", "detail": "move EV charging outside the window"},
    ]  # fmt: skip
    changes = notice_changes(
        comfort_impact="moderate: +2.0 °C for 3 h", actions=actions, starts_at=starts,
        ends_at=ends, tz=LA,
    )  # fmt: skip
    assert changes == [
        "Up to 2 °C warmer than usual between 16:00 and 19:00.",
        "About 1 °C cooler than usual from 14:00 to 16:00, before the window.",
        "Lighting in common areas a little dimmer between 16:00 and 19:00.",
    ]
    # a back-to-back window holds: no pre-cooling to mention
    held = notice_changes(
        comfort_impact="low: +0.5 °C for 1 h",
        actions=[{"action": "hold", "detail": "keep the setpoint raised"}],
        starts_at=starts, ends_at=ends, tz=LA,
    )  # fmt: skip
    assert held == ["Up to 0.5 °C warmer than usual between 16:00 and 19:00."]


def _tenant_of(world, building):
    user = world.members[Role.TENANT]
    membership = Membership.objects.get(user=user, role=Role.TENANT)
    membership.buildings.set([building])
    return user


def test_the_tenant_sees_the_window_and_nothing_about_money(
    world, signed_in, django_assert_max_num_queries
):
    event = world.events["dispatched"]
    rec = event.recommendations.filter(status="pending").select_related("building").first()
    client = signed_in(_tenant_of(world, rec.building))
    page = client.get("/portal/", follow=True)
    assert page.redirect_chain[-1][0] == "/portal/tenant/"
    with django_assert_max_num_queries(20):
        html = client.get("/portal/tenant/").content.decode()
    # then: the window in the utility's local time with its zone, and the change
    assert rec.building.name in html
    assert "tomorrow" in html
    assert "16:00–19:00 PST" in html
    raise_c = float(rec.comfort_impact.split("+")[1].split(" ")[0])
    assert f"Up to {raise_c:g} °C warmer than usual between 16:00 and 19:00." in html
    assert "has not confirmed it yet" in html
    main = html.split("<main>")[1].split("</main>")[0]
    assert "$" not in main
    assert "kW" not in main
    assert "incentive" not in main.lower()


def test_a_declined_request_leaves_no_notice(world, signed_in):
    event = world.events["dispatched"]
    rec = event.recommendations.filter(status="pending").select_related("building").first()
    user = _tenant_of(world, rec.building)
    recommendation_decline(
        recommendation=rec, user=world.members[Role.FACILITY_MANAGER], reason="closed that day"
    )
    html = signed_in(user).get("/portal/tenant/").content.decode()
    assert "Nothing changes in" in html
    assert "16:00–19:00" not in html


def test_a_tenant_tied_to_no_building_is_told_so(world, signed_in):
    user = world.members[Role.TENANT]
    Membership.objects.get(user=user, role=Role.TENANT).buildings.clear()
    page = signed_in(user).get("/portal/tenant/")
    assert page.status_code == 200
    assert "No building is tied to your account yet" in page.content.decode()


def test_another_organizations_tenant_sees_none_of_it(world, other_world, signed_in):
    event = world.events["dispatched"]
    rec = event.recommendations.filter(status="pending").select_related("building").first()
    _tenant_of(world, rec.building)
    stranger = signed_in(other_world.members[Role.TENANT])
    assert stranger.get(f"/portal/tenant/?utility={world.utility.pk}").status_code == 404
    html = stranger.get("/portal/tenant/").content.decode()
    assert rec.building.name not in html


@pytest.mark.parametrize("role", [Role.BUILDING_OWNER, Role.EMERGENCY_TEAM])
def test_other_roles_are_refused_the_tenants_page(world, signed_in, role):
    assert signed_in(world.members[role]).get("/portal/tenant/").status_code == 403
