"""Writes to the directory: building rules, the buildings CSV (all rows or none), users."""

from datetime import date

import pytest

from stakeholders.csvimport import CsvImportError
from stakeholders.models import Building, BuildingType, DataOrigin
from stakeholders.services import (
    DirectoryError,
    building_upsert,
    buildings_csv_import,
    user_ensure,
)
from tests.factories import BuildingFactory, FeederFactory, OrganizationFactory, UtilityFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "code,name,building_type,floor_area_m2,tariff_usd_per_kwh,carbon_kg_per_kwh,"
    "curtailable_kw,feeder,pv_kw,battery_kwh,max_events_per_month,enrolled_on,consent_by\n"
)


@pytest.fixture
def utility():
    utility = UtilityFactory(name="Utility X")
    FeederFactory(utility=utility, name="X1")
    return utility


@pytest.fixture
def owner():
    return OrganizationFactory(name="Owner A")


def test_building_upsert_refuses_a_feeder_of_another_utility(utility, owner):
    foreign = FeederFactory(name="Y7")
    with pytest.raises(DirectoryError, match="Building B1: feeder Y7 belongs to another utility"):
        building_upsert(
            utility=utility, owner=owner, code="B1", name="Depot", feeder=foreign,
            building_type=BuildingType.WAREHOUSE, tariff_usd_per_kwh=0.2,
            carbon_kg_per_kwh=0.3, curtailable_kw=10.0, origin=DataOrigin.UPLOADED,
        )  # fmt: skip
    assert not Building.objects.exists()


def test_building_upsert_updates_the_building_with_the_same_code(utility, owner):
    fields = {
        "name": "Depot", "building_type": BuildingType.WAREHOUSE, "tariff_usd_per_kwh": 0.2,
        "carbon_kg_per_kwh": 0.3, "curtailable_kw": 10.0, "origin": DataOrigin.UPLOADED,
    }  # fmt: skip
    first = building_upsert(utility=utility, owner=owner, code="B1", **fields)
    again = building_upsert(utility=utility, owner=owner, code="B1", **{**fields, "name": "Hub"})
    assert again.pk == first.pk
    assert list(Building.objects.values_list("code", "name")) == [("B1", "Hub")]


def test_csv_import_creates_buildings_with_the_given_fields(utility, owner):
    csv = (
        HEADER
        + "H-01,City Hall,office,5400,0.21,0.19,120,X1,50,200,3,2026-04-01,Facilities chief\n"
        + "S-02,North School,school,,0.18,0.2,35.5,,,,,,\n"
    )
    counts = buildings_csv_import(utility=utility, owner=owner, stream=csv.encode())
    assert counts == {"buildings": 2, "encoding": "utf-8", "ignored_columns": []}
    hall = Building.objects.get(utility=utility, code="H-01")
    assert (hall.name, hall.building_type, hall.owner, hall.feeder.name) == (
        "City Hall", "office", owner, "X1",
    )  # fmt: skip
    assert (hall.floor_area_m2, hall.tariff_usd_per_kwh, hall.carbon_kg_per_kwh) == (
        5400.0, 0.21, 0.19,
    )  # fmt: skip
    assert (hall.curtailable_kw, hall.pv_kw, hall.battery_kwh) == (120.0, 50.0, 200.0)
    assert hall.max_events_per_month == 3
    assert (hall.enrolled, hall.enrolled_on, hall.consent_by) == (
        True, date(2026, 4, 1), "Facilities chief",
    )  # fmt: skip
    assert hall.origin == DataOrigin.UPLOADED
    school = Building.objects.get(utility=utility, code="S-02")
    assert (school.floor_area_m2, school.feeder, school.pv_kw, school.enrolled) == (
        None, None, None, False,
    )  # fmt: skip
    assert school.curtailable_kw == 35.5


def test_csv_import_reports_every_bad_line_and_saves_nothing(utility, owner):
    # given: one good row among rows that are each wrong in one way
    BuildingFactory(utility=utility, owner=owner, code="OLD")
    csv = (
        HEADER
        + "B1,Good one,office,100,0.2,0.2,10,X1,,,,,\n"  # line 2
        + "B2,Castle,castle,100,0.2,0.2,10,,,,,,\n"  # line 3
        + "B3,Cheap,office,100,-0.1,0.2,10,,,,,,\n"  # line 4
        + "B1,Good twice,office,100,0.2,0.2,10,,,,,,\n"  # line 5
        + "B4,Far away,office,100,0.2,0.2,10,Z9,,,,,\n"  # line 6
    )
    # when
    with pytest.raises(CsvImportError) as raised:
        buildings_csv_import(utility=utility, owner=owner, stream=csv.encode())
    # then
    errors = [(error.line, error.reason) for error in raised.value.errors]
    assert [line for line, _ in errors] == [3, 4, 5, 6]
    assert "building_type 'castle' is not one of" in errors[0][1]
    assert errors[1][1] == "tariff_usd_per_kwh -0.1 is outside 0-10 $/kWh"
    assert errors[2][1] == "code 'B1' was already given on line 2"
    assert errors[3][1] == "feeder 'Z9' is not on this utility"
    assert str(raised.value).startswith("4 error(s), nothing saved: line 3: building_type")
    assert list(Building.objects.values_list("code", flat=True)) == ["OLD"]


def test_csv_import_refuses_a_file_missing_a_required_column(utility, owner):
    csv = "code,name,building_type,floor_area_m2,tariff_usd_per_kwh,curtailable_kw\n"
    csv += "B1,Good one,office,100,0.2,10\n"
    with pytest.raises(CsvImportError) as raised:
        buildings_csv_import(utility=utility, owner=owner, stream=csv.encode())
    [error] = raised.value.errors
    assert error.line == 1
    assert error.reason.startswith("the header lacks column(s) carbon_kg_per_kwh")
    assert not Building.objects.exists()


def test_csv_import_refuses_codes_of_another_owner(utility, owner):
    BuildingFactory(utility=utility, code="B1")
    csv = HEADER + "B1,Mine now,office,100,0.2,0.2,10,,,,,,\n"
    with pytest.raises(CsvImportError) as raised:
        buildings_csv_import(utility=utility, owner=owner, stream=csv.encode())
    assert [(e.line, e.reason) for e in raised.value.errors] == [
        (2, "code 'B1' belongs to another owner on this utility")
    ]
    assert not Building.objects.filter(owner=owner).exists()


def test_user_ensure_is_idempotent_and_updates_the_password(django_user_model):
    first = user_ensure(username="operator", password="first-pass-1", email="op@example.com")
    again = user_ensure(username="operator", password="second-pass-2", is_staff=True)
    assert again.pk == first.pk
    assert django_user_model.objects.filter(username="operator").count() == 1
    again.refresh_from_db()
    assert again.check_password("second-pass-2")
    assert not again.check_password("first-pass-1")
    assert (again.email, again.is_staff, again.is_superuser) == ("op@example.com", True, False)


def test_user_ensure_needs_a_username_and_a_password():
    with pytest.raises(DirectoryError, match="needs a username and a password"):
        user_ensure(username="operator", password="")


def test_csv_import_again_keeps_what_the_file_leaves_out(utility, owner):
    # given: an enrolled building with PV and a limit of its own
    hall = BuildingFactory(
        utility=utility, owner=owner, code="H1", pv_kw=40.0, max_events_per_month=2,
        enrolled=True, enrolled_on=date(2026, 1, 5), consent_by="A. Owner",
    )  # fmt: skip
    # when: a file with the required columns only names it again, and a new building
    required = (
        "code,name,building_type,floor_area_m2,tariff_usd_per_kwh,carbon_kg_per_kwh,"
        "curtailable_kw\nH1,Hall renamed,office,500,0.25,0.3,12\nN1,New,retail,,0.2,0.3,5\n"
    )
    counts = buildings_csv_import(utility=utility, owner=owner, stream=required.encode())
    # then: its given figures change, the rest stay; the new one takes the defaults
    assert counts["buildings"] == 2
    hall.refresh_from_db()
    assert (hall.name, hall.curtailable_kw, hall.pv_kw, hall.max_events_per_month) == (
        "Hall renamed", 12.0, 40.0, 2,
    )  # fmt: skip
    assert (hall.enrolled, hall.consent_by) == (True, "A. Owner")
    new = Building.objects.get(utility=utility, code="N1")
    assert (new.max_events_per_month, new.max_setpoint_change_c, new.enrolled) == (4, 2.0, False)
    new.full_clean()
