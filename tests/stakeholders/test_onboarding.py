"""A utility set up by command and in the admin: nothing assumed, every figure checked, all of it
or nothing."""

import io
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from stakeholders.models import Organization, ProgramHoliday, Utility

pytestmark = pytest.mark.django_db


def create(*args, **options) -> str:
    out = io.StringIO()
    call_command("create_utility", *args, stdout=out, **options)
    return out.getvalue()


def test_the_command_creates_the_utility_its_organization_feeders_and_holidays():
    said = create(
        "Alpine Energie", timezone="Europe/Zurich", capacity_kw=12_000, country="ch",
        region="zh", feeder=["Limmat=7000", "Sihl=5000"], holiday=["2026-09-07=Knabenschiessen"],
    )  # fmt: skip
    utility = Utility.objects.get(name="Alpine Energie")
    assert (utility.timezone, utility.country, utility.region) == ("Europe/Zurich", "CH", "ZH")
    assert utility.organization.kind == Organization.Kind.UTILITY
    assert sorted(utility.feeders.values_list("name", "capacity_kw")) == [
        ("Limmat", 7000.0), ("Sihl", 5000.0),
    ]  # fmt: skip
    assert ProgramHoliday.objects.get(utility=utility).day == date(2026, 9, 7)
    assert "holidays of CH-ZH, 2 feeder(s), 1 program holiday(s)" in said
    # Again, the same: nothing doubles.
    create("Alpine Energie", timezone="Europe/Zurich", capacity_kw=12_000, country="CH")
    assert Utility.objects.count() == 1
    assert utility.feeders.count() == 2


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"timezone": "Mars/Olympus"}, "'Mars/Olympus' is not an IANA time zone"),
        ({"country": "XX"}, "'XX' is not a country the holidays calendar knows"),
        ({"country": "USA"}, "'USA' is not a country the holidays calendar knows"),
        ({"region": "QQ"}, "'QQ' is not a region of US"),
        ({"capacity_kw": -5}, "capacity must be above 0 kW"),
        ({"high_pct": 96}, "0 < HIGH < CRITICAL <= 150 %"),
        ({"feeder": ["North"]}, "--feeder 'North' is not NAME=VALUE"),
        ({"feeder": ["North=lots"]}, "'lots' is not a number of kW"),
        ({"holiday": ["2026-02-30=Nope"]}, "'2026-02-30' is not YYYY-MM-DD"),
        ({"feeder": ["North=10", "=5"]}, "is not NAME=VALUE"),
    ],
)
def test_the_command_refuses_what_cannot_be_right_and_saves_nothing(options, reason):
    given = {"timezone": "America/Chicago", "capacity_kw": 400, "country": "US", **options}
    with pytest.raises(CommandError, match=reason.replace("(", r"\(").replace("+", r"\+")):
        create("Prairie Power", **given)
    assert not Utility.objects.exists()
    assert not Organization.objects.exists()


def test_a_utility_added_in_the_admin_gets_its_organization_and_a_region_error_once(
    client, staff_user
):
    client.force_login(staff_user)
    form = {
        "name": "Alpine Energie", "capacity_kw": "1000", "high_strain_pct": "80",
        "critical_strain_pct": "95", "timezone": "Europe/Zurich", "country": "CH",
        "region": "XX",
        **{f"{prefix}-{key}": value for prefix in ("feeders", "program_holidays")
           for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))},
    }  # fmt: skip
    refused = client.post(reverse("admin:stakeholders_utility_add"), form)
    assert refused.status_code == 200
    assert refused.content.decode().count("&#x27;XX&#x27; is not a region of CH") == 1
    assert not Utility.objects.exists()
    added = client.post(reverse("admin:stakeholders_utility_add"), {**form, "region": "ZH"})
    assert added.status_code == 302
    utility = Utility.objects.get(name="Alpine Energie")
    assert (utility.timezone, utility.region, utility.organization.name) == (
        "Europe/Zurich", "ZH", "Alpine Energie",
    )  # fmt: skip
