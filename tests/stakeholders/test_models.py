"""The directory's rules hold in the database itself, whoever writes the rows."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from stakeholders.models import Building, Feeder
from stakeholders.portal.models import StakeholderReport
from tests.factories import BuildingFactory, FeederFactory, UtilityFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("high", "critical"),
    [(90.0, 80.0), (80.0, 80.0), (0.0, 95.0), (80.0, 151.0)],
)
def test_utility_strain_thresholds_must_be_ordered(high, critical):
    with (
        pytest.raises(IntegrityError, match="utility_strain_thresholds_ordered"),
        transaction.atomic(),
    ):
        UtilityFactory(high_strain_pct=high, critical_strain_pct=critical)


def test_utility_with_ordered_thresholds_is_saved():
    utility = UtilityFactory(high_strain_pct=70.0, critical_strain_pct=150.0)
    utility.refresh_from_db()
    assert (utility.high_strain_pct, utility.critical_strain_pct) == (70.0, 150.0)


def test_building_curtailable_kw_cannot_be_negative():
    with (
        pytest.raises(IntegrityError, match="building_curtailable_nonnegative"),
        transaction.atomic(),
    ):
        BuildingFactory(curtailable_kw=-0.5)


@pytest.mark.parametrize(
    "enrolment",
    [
        {"enrolled_on": None, "consent_by": "Ana Ruiz"},
        {"enrolled_on": date(2026, 5, 1), "consent_by": ""},
        {"enrolled_on": None, "consent_by": ""},
    ],
)
def test_enrolled_building_needs_date_and_consent(enrolment):
    with (
        pytest.raises(IntegrityError, match="building_enrolment_has_date_and_consent"),
        transaction.atomic(),
    ):
        BuildingFactory(enrolled=True, **enrolment)


def test_enrolled_building_with_date_and_consent_is_saved():
    building = BuildingFactory(enrolled=True, enrolled_on=date(2026, 5, 1), consent_by="Ana Ruiz")
    assert Building.objects.filter(pk=building.pk, enrolled=True).exists()


def _unique_violation(constraint: str, table: str, *columns: str) -> str:
    """PostgreSQL names the constraint; SQLite names the table's columns instead."""
    sqlite = "UNIQUE constraint failed: " + ", ".join(f"{table}.{column}" for column in columns)
    return f"{constraint}|{sqlite}"


def test_feeder_name_is_unique_per_utility():
    # given
    feeder = FeederFactory(name="F1")
    # when / then: the same name on the same utility is refused
    with (
        pytest.raises(
            IntegrityError,
            match=_unique_violation(
                "feeder_name_unique", "stakeholders_feeder", "utility_id", "name"
            ),
        ),
        transaction.atomic(),
    ):
        FeederFactory(utility=feeder.utility, name="F1")
    # and: another utility may use it
    FeederFactory(name="F1")
    assert Feeder.objects.filter(name="F1").count() == 2


def test_an_event_report_needs_its_event():
    utility = UtilityFactory()
    with pytest.raises(IntegrityError, match="report_event_matches_kind"), transaction.atomic():
        StakeholderReport.objects.create(
            organization=utility.organization, utility=utility, kind=StakeholderReport.Kind.EVENT,
            day=date(2026, 7, 1), data={}, source_key="k",
        )  # fmt: skip


def test_a_day_report_is_saved():
    utility = UtilityFactory()
    report = StakeholderReport.objects.create(
        organization=utility.organization, utility=utility, kind=StakeholderReport.Kind.DAY,
        day=date(2026, 7, 1), data={"grid": {}}, source_key="k",
    )  # fmt: skip
    assert report.pk is not None
