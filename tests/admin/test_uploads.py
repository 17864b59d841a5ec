"""The CSV uploads ask for add and change permission, offer and accept only the user's own
utilities and owners, and leave one LogEntry on the utility per upload."""

from datetime import date

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from forecasting.models import MeterDay
from stakeholders.models import Building
from tests.admin.conftest import staff_member
from tests.uploads import finish_upload

pytestmark = pytest.mark.django_db

BUILDINGS = "admin:stakeholders_building_upload"
READINGS = "admin:forecasting_meterday_upload"
BUILDINGS_CSV = (
    "code,name,building_type,floor_area_m2,tariff_usd_per_kwh,carbon_kg_per_kwh,curtailable_kw\n"
    "N-01,New hall,office,900,0.2,0.3,25\n"
)
READINGS_CSV = "building_code,timestamp,kwh\n{code},2026-07-03 17:00,6.25\n"
BUILDING_PERMISSIONS = ["stakeholders.view_building", "stakeholders.add_building"]
READING_PERMISSIONS = ["forecasting.view_meterday", "forecasting.add_meterday"]


def csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("upload.csv", text.encode(), content_type="text/csv")


def upload_buildings(client, utility, owner):
    return client.post(
        reverse(BUILDINGS),
        {"utility": utility.pk, "owner": owner.pk, "csv_file": csv(BUILDINGS_CSV)},
    )


def upload_readings(client, utility, code: str):
    return client.post(
        reverse(READINGS), {"utility": utility.pk, "csv_file": csv(READINGS_CSV.format(code=code))}
    )


@pytest.mark.parametrize(
    "permissions",
    [[], BUILDING_PERMISSIONS[:1], BUILDING_PERMISSIONS, ["stakeholders.change_building"]],
    ids=["none", "view", "add-only", "change-only"],
)
def test_a_building_upload_needs_add_and_change(client, world, permissions):
    a, _ = world
    user = staff_member(a.utility.organization, permissions=permissions)
    client.force_login(user)
    assert client.get(reverse(BUILDINGS)).status_code == 403
    response = upload_buildings(client, a.utility, a.owner)
    assert response.status_code == 403
    assert "needs the permissions to add and to change buildings" in response.content.decode()
    assert not Building.objects.filter(code="N-01").exists()
    assert not LogEntry.objects.exists()


def test_a_building_upload_with_both_permissions_imports_and_is_logged(client, world):
    a, _ = world
    user = staff_member(
        a.utility.organization, permissions=[*BUILDING_PERMISSIONS, "stakeholders.change_building"]
    )
    client.force_login(user)
    page = finish_upload(client, upload_buildings(client, a.utility, a.owner))
    assert "Imported 1 building(s)." in page.content.decode()
    assert Building.objects.get(code="N-01").utility == a.utility
    entry = LogEntry.objects.get(user=user)
    assert (entry.content_type.model, entry.object_id) == ("utility", str(a.utility.pk))
    job = page.context["job"]
    assert entry.get_change_message() == (
        f"Uploaded upload.csv (buildings of {a.owner}): checked and imported by job #{job.pk}."
    )


def test_the_building_upload_offers_only_the_member_s_utilities_and_owners(client, world):
    a, b = world
    client.force_login(a.staff)
    response = client.get(reverse(BUILDINGS))
    form = response.context["form"]
    assert list(form.fields["utility"].queryset) == [a.utility]
    assert a.owner in form.fields["owner"].queryset
    assert b.owner not in form.fields["owner"].queryset
    page = response.content.decode()
    assert b.utility.name not in page
    assert b.owner.name not in page


@pytest.mark.parametrize("naming", ["utility", "owner"])
def test_a_building_upload_naming_another_organization_is_refused(client, world, naming):
    a, b = world
    client.force_login(a.staff)
    utility, owner = (b.utility, a.owner) if naming == "utility" else (a.utility, b.owner)
    response = upload_buildings(client, utility, owner)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Building.objects.filter(code="N-01").exists()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(
    "permissions",
    [[], READING_PERMISSIONS[:1], READING_PERMISSIONS, ["forecasting.change_meterday"]],
    ids=["none", "view", "add-only", "change-only"],
)
def test_a_readings_upload_needs_add_and_change(client, world, permissions):
    a, _ = world
    user = staff_member(a.utility.organization, permissions=permissions)
    client.force_login(user)
    response = upload_readings(client, a.utility, "A-01")
    assert response.status_code == 403
    assert "needs the permissions to add and to change meter days" in response.content.decode()
    assert not MeterDay.objects.filter(day=date(2026, 7, 3)).exists()
    assert not LogEntry.objects.exists()


def test_a_readings_upload_with_both_permissions_imports_and_is_logged(client, world):
    a, _ = world
    user = staff_member(
        a.utility.organization, permissions=[*READING_PERMISSIONS, "forecasting.change_meterday"]
    )
    client.force_login(user)
    page = finish_upload(client, upload_readings(client, a.utility, "A-01"))
    assert "Imported 1 readings for 1 building(s), 1 building-days." in page.content.decode()
    assert MeterDay.objects.get(day=date(2026, 7, 3)).building.utility == a.utility
    entry = LogEntry.objects.get(user=user)
    assert (entry.content_type.model, entry.object_id) == ("utility", str(a.utility.pk))
    job = page.context["job"]
    assert entry.get_change_message() == (
        f"Uploaded upload.csv (readings): checked and imported by job #{job.pk}."
    )


def test_a_readings_upload_into_another_utility_is_refused(client, world):
    a, b = world
    client.force_login(a.staff)
    page = client.get(reverse(READINGS)).content.decode()
    assert b.utility.name not in page
    response = upload_readings(client, b.utility, "B-01")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not MeterDay.objects.filter(day=date(2026, 7, 3)).exists()
