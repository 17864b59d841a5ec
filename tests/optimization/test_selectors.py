from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from optimization.models import DemandResponseEvent, Recommendation
from optimization.selectors import event_get, event_list, recommendation_list
from stakeholders.models import Role
from tests.factories import BuildingFactory, MembershipFactory, UserFactory, UtilityFactory

pytestmark = pytest.mark.django_db


def make_event(utility, buildings):
    start = timezone.now() + timedelta(days=1)
    event = DemandResponseEvent.objects.create(
        utility=utility,
        source="operator",
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        target_kw=50,
    )
    for building in buildings:
        Recommendation.objects.create(
            event=event, building=building, depth_pct=20, requested_kw=10, expected_kw=8,
            compliance_probability=0.8, expected_kwh=30, cost_saved_usd=9, carbon_saved_kg=5,
            comfort_impact="+1 °C", incentive_usd=15,
        )  # fmt: skip
    return event


@pytest.fixture
def world():
    north, south = UtilityFactory(), UtilityFactory()
    owned_north = BuildingFactory(utility=north)
    other_north = BuildingFactory(utility=north)
    owned_south = BuildingFactory(utility=south, owner=owned_north.owner)
    return {
        "north": north,
        "south": south,
        "owner_org": owned_north.owner,
        "event_north": make_event(north, [owned_north, other_north]),
        "event_south": make_event(south, [owned_south]),
        "event_south_empty": make_event(south, []),
        "owned": {owned_north.pk, owned_south.pk},
    }


def member(organization, role):
    return MembershipFactory(user=UserFactory(), organization=organization, role=role).user


def test_utility_member_sees_only_its_grid(world):
    operator = member(world["north"].organization, Role.GRID_OPERATOR)
    assert set(event_list(user=operator)) == {world["event_north"]}
    assert event_get(user=operator, event_id=world["event_south"].pk) is None
    assert recommendation_list(user=operator).count() == 2


def test_owner_member_sees_events_that_asked_its_buildings_and_only_its_recommendations(world):
    manager = member(world["owner_org"], Role.FACILITY_MANAGER)
    assert set(event_list(user=manager)) == {world["event_north"], world["event_south"]}
    assert {rec.building_id for rec in recommendation_list(user=manager)} == world["owned"]


def test_staff_sees_everything_and_anonymous_nothing(world, staff_user):
    assert event_list(user=staff_user).count() == 3
    assert not event_list(user=AnonymousUser()).exists()
    assert not recommendation_list(user=AnonymousUser()).exists()
