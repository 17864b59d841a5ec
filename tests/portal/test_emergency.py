"""The emergency team sees the forecast's CRITICAL hours, the events open on them, and checks
off the protocol of each, once per step, in place."""

from datetime import datetime

import pytest
from django.utils import timezone

from optimization.services.events import event_cancel
from stakeholders import formatting
from stakeholders.models import Role
from stakeholders.portal.models import ProtocolCheck
from stakeholders.portal.protocol import EMERGENCY_STEPS
from stakeholders.portal.services import ProtocolError, protocol_check
from stakeholders.portal.snapshots.service import report_day
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def critical_hours(world) -> list[dict]:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    return [
        h
        for h in report_day(utility=world.utility).data["grid"]["hours"]
        if h["level"] == "CRITICAL" and datetime.fromisoformat(h["t"]) >= now
    ]


def test_the_team_sees_the_critical_hours_and_the_events_on_them(
    world, signed_in, django_assert_max_num_queries
):
    client = signed_in(world.members[Role.EMERGENCY_TEAM])
    page = client.get("/portal/", follow=True)
    assert page.redirect_chain[-1][0] == "/portal/emergency/"
    with django_assert_max_num_queries(25):
        html = client.get("/portal/emergency/").content.decode()
    # then: every CRITICAL hour ahead, in local time with the zone
    hours = critical_hours(world)
    assert hours, "the world's tomorrow is CRITICAL for an hour or two"
    assert f"{len(hours)} hour{'s' if len(hours) > 1 else ''} ahead" in html
    peak = max(hours, key=lambda h: h["p50"])
    assert formatting.kw(peak["p50"]) in html
    assert formatting.local_hour(peak["t"], world.utility.timezone) in html
    # the dispatched event over them, with its protocol; the proposed one after them is not
    dispatched, proposed = world.events["dispatched"], world.events["proposed"]
    assert f'id="event-{dispatched.pk}"' in html
    assert f'id="event-{proposed.pk}"' not in html
    for _, text in EMERGENCY_STEPS:
        assert text in html
    assert html.count("Mark done") == len(EMERGENCY_STEPS)


def test_a_step_is_checked_in_place_once(world, signed_in):
    event = world.events["dispatched"]
    first_user = world.members[Role.EMERGENCY_TEAM]
    client = signed_in(first_user)
    # when: the first step is checked (HTMX: the step's line answers)
    line = client.post(f"/portal/emergency/events/{event.pk}/check/", {"step": 1}, **HX)
    # then
    html = line.content.decode()
    assert line.status_code == 200
    assert html.lstrip().startswith(f'<li id="step-{event.pk}-1"')
    check = ProtocolCheck.objects.get(event=event, step=1)
    assert check.by == first_user
    assert first_user.username in html
    assert formatting.local_time(check.at, world.utility.timezone) in html
    # when: a colleague checks the same step again, as a plain form post
    colleague = MembershipFactory(
        user=UserFactory(username="alpha-second-responder"),
        organization=world.utility.organization, role=Role.EMERGENCY_TEAM,
    ).user  # fmt: skip
    response = signed_in(colleague).post(f"/portal/emergency/events/{event.pk}/check/", {"step": 1})
    # then: the first check stands
    assert response.status_code == 302
    assert response["Location"] == "/portal/emergency/"
    assert ProtocolCheck.objects.filter(event=event, step=1).count() == 1
    assert ProtocolCheck.objects.get(event=event, step=1).by == first_user
    page = signed_in(first_user).get("/portal/emergency/").content.decode()
    assert page.count("Mark done") == len(EMERGENCY_STEPS) - 1
    assert "1 of 6 protocol steps done" in page


def test_the_service_refuses_what_the_protocol_does_not_allow(world, other_world):
    event = world.events["dispatched"]
    team = world.members[Role.EMERGENCY_TEAM]
    with pytest.raises(ProtocolError, match="no step 9"):
        protocol_check(event=event, step=9, user=team)
    with pytest.raises(ProtocolError, match="Only the emergency team"):
        protocol_check(event=event, step=1, user=world.members[Role.GRID_OPERATOR])
    with pytest.raises(ProtocolError, match="Only the emergency team"):
        protocol_check(event=event, step=1, user=other_world.members[Role.EMERGENCY_TEAM])
    with pytest.raises(ProtocolError, match="verified: its protocol is closed"):
        protocol_check(event=world.events["verified"], step=1, user=team)
    event_cancel(event=event, user=world.members[Role.GRID_OPERATOR], reason="load came in low")
    with pytest.raises(ProtocolError, match="cancelled: its protocol is closed"):
        protocol_check(event=event, step=2, user=team)
    assert not ProtocolCheck.objects.exists()


def test_a_refused_check_says_why(world, signed_in):
    event = world.events["dispatched"]
    client = signed_in(world.members[Role.EMERGENCY_TEAM])
    response = client.post(f"/portal/emergency/events/{event.pk}/check/", {"step": 0}, **HX)
    assert response.status_code == 400
    response = client.post(
        f"/portal/emergency/events/{event.pk}/check/", {"step": "x"}, follow=True
    )
    assert "Say which step of the protocol is done." in response.content.decode()


def test_another_utilitys_events_answer_404(world, other_world, signed_in):
    stranger = signed_in(other_world.members[Role.EMERGENCY_TEAM])
    event = world.events["dispatched"]
    assert (
        stranger.post(f"/portal/emergency/events/{event.pk}/check/", {"step": 1}).status_code == 404
    )
    assert stranger.get(f"/portal/emergency/?utility={world.utility.pk}").status_code == 404
    assert not ProtocolCheck.objects.exists()
    html = stranger.get("/portal/emergency/").content.decode()
    assert f'id="event-{event.pk}"' not in html


@pytest.mark.parametrize("role", [Role.GRID_OPERATOR, Role.BUILDING_OWNER])
def test_other_roles_are_refused(world, signed_in, role):
    client = signed_in(world.members[role])
    assert client.get("/portal/emergency/").status_code == 403
    event = world.events["dispatched"]
    assert (
        client.post(f"/portal/emergency/events/{event.pk}/check/", {"step": 1}).status_code == 403
    )
