"""Sign-in throttling (django-axes, locking out a username from one address): wrong passwords
pause that username from that address only, never the username everywhere nor the address
for everyone behind it."""

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "right-pass-123"
ADDRESS_1, ADDRESS_2 = "10.0.0.1", "10.0.0.2"
LOCKED_OUT = (403, 429)  # axes answers AXES_HTTP_RESPONSE_CODE, 429 unless set


@pytest.fixture
def people():
    return (
        UserFactory(username="xavier", password=PASSWORD),
        UserFactory(username="yvonne", password=PASSWORD),
    )


def sign_in(client, username: str, password: str, address: str):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def fail_until_locked(client, username: str, address: str):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(client, username, "wrong-password", address)
        assert not signed_in(response)
    return response


def test_below_the_limit_the_right_password_still_signs_in(client, people):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "xavier", "wrong-password", ADDRESS_1).status_code == 200
    assert signed_in(sign_in(client, "xavier", PASSWORD, ADDRESS_1))


def test_the_limit_locks_the_username_from_that_address_even_with_the_right_password(
    client, people
):
    # when: the limit of wrong passwords for X from address 1
    last = fail_until_locked(client, "xavier", ADDRESS_1)
    # then: the lockout page, and the right password from there is refused too
    assert last.status_code in LOCKED_OUT
    response = sign_in(client, "xavier", PASSWORD, ADDRESS_1)
    assert response.status_code in LOCKED_OUT
    assert not response.wsgi_request.user.is_authenticated
    assert "Too many failed sign-ins" in response.content.decode()


def test_the_same_username_from_another_address_signs_in(client, people):
    fail_until_locked(client, "xavier", ADDRESS_1)
    assert signed_in(sign_in(client, "xavier", PASSWORD, ADDRESS_2))


def test_another_user_from_the_same_address_signs_in(client, people):
    fail_until_locked(client, "xavier", ADDRESS_1)
    assert signed_in(sign_in(client, "yvonne", PASSWORD, ADDRESS_1))


def test_the_back_office_sign_in_is_throttled_too(client, people):
    people[0].is_staff = True
    people[0].save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("admin:login"),
            {"username": "xavier", "password": "wrong-password"},
            REMOTE_ADDR=ADDRESS_1,
        )
    response = client.post(
        reverse("admin:login"), {"username": "xavier", "password": PASSWORD}, REMOTE_ADDR=ADDRESS_1
    )
    assert response.status_code in LOCKED_OUT
