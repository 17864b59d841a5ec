"""Tenancy: each user reads only the directory rows their organizations may see."""

import pytest
from django.contrib.auth.models import AnonymousUser

from stakeholders.selectors import building_get, building_list, feeder_list, utility_list
from tests.factories import (
    BuildingFactory,
    FeederFactory,
    MembershipFactory,
    OrganizationFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory():
    """Utilities X and Y with a feeder each; owner A has buildings on both, owner B on Y only."""
    x, y = UtilityFactory(name="Utility X"), UtilityFactory(name="Utility Y")
    fx, fy = FeederFactory(utility=x, name="X1"), FeederFactory(utility=y, name="Y1")
    owner_a, owner_b = OrganizationFactory(name="Owner A"), OrganizationFactory(name="Owner B")
    buildings = {
        "a_on_x": BuildingFactory(owner=owner_a, utility=x, feeder=fx, code="AX"),
        "a_on_y": BuildingFactory(owner=owner_a, utility=y, feeder=fy, code="AY"),
        "b_on_y": BuildingFactory(owner=owner_b, utility=y, feeder=fy, code="BY1"),
        "b_on_y2": BuildingFactory(owner=owner_b, utility=y, feeder=None, code="BY2"),
    }
    return {"x": x, "y": y, "fx": fx, "fy": fy, "a": owner_a, "b": owner_b, **buildings}


def codes(buildings) -> set[str]:
    return {building.code for building in buildings}


def test_owner_member_sees_only_its_own_buildings(directory):
    # given
    member = MembershipFactory(organization=directory["a"]).user
    # when
    visible = building_list(user=member)
    # then
    assert codes(visible) == {"AX", "AY"}
    assert building_get(user=member, building_id=directory["a_on_y"].pk) == directory["a_on_y"]
    assert building_get(user=member, building_id=directory["b_on_y"].pk) is None


def test_owner_member_sees_the_utilities_its_buildings_are_on_but_no_feeders(directory):
    member_a = MembershipFactory(organization=directory["a"]).user
    member_b = MembershipFactory(organization=directory["b"]).user
    assert set(utility_list(user=member_a)) == {directory["x"], directory["y"]}
    assert list(utility_list(user=member_b)) == [directory["y"]]  # once, not per building
    assert not feeder_list(user=member_a).exists()


def test_utility_member_sees_the_buildings_and_feeders_on_its_grid(directory):
    member = MembershipFactory(organization=directory["y"].organization).user
    assert codes(building_list(user=member)) == {"AY", "BY1", "BY2"}
    assert building_get(user=member, building_id=directory["a_on_x"].pk) is None
    assert list(utility_list(user=member)) == [directory["y"]]
    assert list(feeder_list(user=member)) == [directory["fy"]]


def test_member_of_two_organizations_sees_the_union(directory):
    user = MembershipFactory(organization=directory["x"].organization).user
    MembershipFactory(user=user, organization=directory["b"])
    assert codes(building_list(user=user)) == {"AX", "BY1", "BY2"}
    assert list(feeder_list(user=user)) == [directory["fx"]]


def test_staff_sees_everything(directory, staff_user):
    assert codes(building_list(user=staff_user)) == {"AX", "AY", "BY1", "BY2"}
    assert building_get(user=staff_user, building_id=directory["b_on_y"].pk) is not None
    assert utility_list(user=staff_user).count() == 2
    assert feeder_list(user=staff_user).count() == 2


@pytest.mark.parametrize("who", ["anonymous", "plain"])
def test_anonymous_and_users_without_membership_see_nothing(directory, plain_user, who):
    user = AnonymousUser() if who == "anonymous" else plain_user
    assert not building_list(user=user).exists()
    assert building_get(user=user, building_id=directory["a_on_x"].pk) is None
    assert not utility_list(user=user).exists()
    assert not feeder_list(user=user).exists()


def test_building_list_joins_its_related_rows(directory, django_assert_num_queries):
    member = MembershipFactory(organization=directory["y"].organization).user
    # whether the user is of the program team, the memberships, then the buildings with joins
    with django_assert_num_queries(3):
        names = [
            (b.owner.name, b.utility.name, b.feeder and b.feeder.name)
            for b in building_list(user=member)
        ]
    assert ("Owner B", "Utility Y", None) in names
