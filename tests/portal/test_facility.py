"""The facility manager answers the requests for the buildings they manage, in place."""

import pytest

from optimization.models import OptimizationRun, Recommendation
from stakeholders.models import Role

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _pending(world):
    event = world.events["dispatched"]
    return list(
        event.recommendations.filter(status="pending", building__in=world.buildings[:6]).order_by(
            "building__code"
        )
    )


def test_the_facility_manager_sees_only_the_buildings_tied_to_them(world, signed_in):
    client = signed_in(world.members[Role.FACILITY_MANAGER])
    page = client.get("/portal/", follow=True)
    assert page.redirect_chain[-1][0] == "/portal/facility/"
    html = page.content.decode()
    for building in world.buildings[:6]:
        assert building.code in html
    for building in world.buildings[6:]:
        assert building.code not in html
    # what to do, when (local), how deep, comfort and incentive
    rec = _pending(world)[0]
    assert "16:00–19:00 PST" in html
    assert rec.comfort_impact in html
    assert f"{rec.requested_kw:,.1f} kW" in html
    assert "Pre-cool" in html


def test_accept_one_and_decline_another_in_place(world, signed_in):
    client = signed_in(world.members[Role.FACILITY_MANAGER])
    first, second = _pending(world)[:2]
    runs = OptimizationRun.objects.filter(event=first.event).count()
    # when: accept one (HTMX swaps its row)
    row = client.post(f"/portal/requests/{first.pk}/accept/", **HX).content.decode()
    # then
    assert row.lstrip().startswith(f'<tr id="request-{first.pk}"')
    assert "Accepted" in row
    first.refresh_from_db()
    assert first.status == Recommendation.Status.ACCEPTED
    assert first.responded_by == world.members[Role.FACILITY_MANAGER]
    # when: decline the other, as a plain form post
    response = client.post(f"/portal/requests/{second.pk}/decline/", {"reason": "maintenance"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == Recommendation.Status.DECLINED
    assert second.decline_reason == "maintenance"
    # a decline before the window re-plans the rest; the accepted ask stands
    assert OptimizationRun.objects.filter(event=first.event).count() == runs + 1
    first.refresh_from_db()
    assert first.status == Recommendation.Status.ACCEPTED


def test_a_second_accept_says_why_in_words(world, signed_in):
    client = signed_in(world.members[Role.FACILITY_MANAGER])
    rec = _pending(world)[0]
    client.post(f"/portal/requests/{rec.pk}/accept/", **HX)
    row = client.post(f"/portal/requests/{rec.pk}/accept/", **HX).content.decode()
    assert "Only a recommendation awaiting an answer can be accepted." in row


def test_requests_of_other_buildings_answer_404(world, other_world, signed_in):
    client = signed_in(world.members[Role.FACILITY_MANAGER])
    theirs = other_world.events["dispatched"].recommendations.first()
    untied = world.events["dispatched"].recommendations.get(building=world.buildings[9])
    for rec in (theirs, untied):
        assert client.post(f"/portal/requests/{rec.pk}/accept/").status_code == 404
        rec.refresh_from_db()
        assert rec.status == Recommendation.Status.PENDING


def test_a_tenant_cannot_answer(world, signed_in):
    client = signed_in(world.members[Role.TENANT])
    rec = _pending(world)[0]
    assert client.post(f"/portal/requests/{rec.pk}/accept/").status_code == 403
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING


def test_the_facility_page_costs_a_bounded_number_of_queries(
    world, signed_in, django_assert_max_num_queries
):
    client = signed_in(world.members[Role.FACILITY_MANAGER])
    client.get("/portal/facility/")
    with django_assert_max_num_queries(20):
        assert client.get("/portal/facility/").status_code == 200
