"""Signing in, out and back: every member at /accounts/login/, landing on their role's page;
password change and reset by email; the switch between one's memberships."""

import re

import pytest
from django.core import mail

from stakeholders.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.portal.world import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_member_signs_in_and_lands_on_their_roles_dashboard(world, client):
    user = world.members[Role.FACILITY_MANAGER]
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in to energyrec" in page
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/portal/facility/"


def test_a_wrong_password_is_said_in_words(world, client):
    user = world.members[Role.GRID_OPERATOR]
    page = client.post("/accounts/login/", {"username": user.username, "password": "nope"})
    assert page.status_code == 200
    assert "enter a correct username and password" in page.content.decode()


def test_the_portal_asks_for_a_sign_in_first(client):
    response = client.get("/portal/operator/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/portal/operator/"


def test_sign_out_is_a_post_and_ends_the_session(world, client):
    client.force_login(world.members[Role.GRID_OPERATOR])
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert client.get("/portal/operator/").status_code == 302


def test_a_member_changes_their_password(world, client):
    user = world.members[Role.TENANT]
    client.force_login(user)
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "a-new-long-pass-9", "new_password2": "a-new-long-pass-9"},
    )  # fmt: skip
    assert response["Location"] == "/accounts/password_change/done/"
    user.refresh_from_db()
    assert user.check_password("a-new-long-pass-9")


def test_a_forgotten_password_is_reset_by_email(world, client):
    user = world.members[Role.BUILDING_OWNER]
    user.email = "owner@example.com"
    user.save()
    client.post("/accounts/password_reset/", {"email": "owner@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "another-long-pass-7", "new_password2": "another-long-pass-7"},
    )
    assert done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password("another-long-pass-7")


def test_a_member_of_two_organizations_switches_between_them(world, other_world, client):
    user = world.members[Role.GRID_OPERATOR]
    second = MembershipFactory(
        user=user, organization=other_world.owner, role=Role.FACILITY_MANAGER
    )
    client.force_login(user)
    page = client.get("/portal/operator/").content.decode()
    assert 'id="membership-switch"' in page
    assert f"Facility manager · {other_world.owner.name}" in page
    # when
    response = client.post("/portal/switch/", {"membership_id": second.pk}, follow=True)
    # then
    assert response.redirect_chain[-1][0] == "/portal/facility/"
    assert f"Facility manager · {other_world.owner.name}" in response.content.decode()
    # and another's membership cannot be taken
    theirs = other_world.members[Role.GRID_OPERATOR].memberships.get()
    page = client.post("/portal/switch/", {"membership_id": theirs.pk}, follow=True)
    assert "That role is not one of yours." in page.content.decode()
    assert page.redirect_chain[-1][0] == "/portal/facility/"


def test_a_user_without_a_role_is_told_so(client):
    client.force_login(UserFactory())
    page = client.get("/portal/")
    assert page.status_code == 403
    assert "no role in any organization yet" in page.content.decode()
