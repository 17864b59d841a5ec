"""Two utilities, A and B, with a row of every organization-owned model each, and the kinds of
staff user the back office's access model tells apart."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from forecasting.models import ComplianceModelVersion, ForecastModel, ForecastRun, SeriesDay
from forecasting.services.readings import meter_days_upsert, series_days_upsert
from jobs.models import JobRun
from optimization.models import DemandResponseEvent, Recommendation
from stakeholders.models import Organization, Role
from stakeholders.portal.models import ProtocolCheck, ReportBuildingLine, StakeholderReport
from tests.factories import (
    BuildingFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UtilityFactory,
)

PASSWORD = "pass-123-word"  # UserFactory's


def staff_member(organization, *, permissions=None, role=Role.OPERATIONS, username=None):
    """A staff user, member of `organization`, holding `permissions` (codenames, or "all")."""
    user = UserFactory(is_staff=True, **({"username": username} if username else {}))
    if organization is not None:
        MembershipFactory(user=user, organization=organization, role=role)
    grant(user, permissions)
    return user


def grant(user, permissions) -> None:
    if permissions == "all":
        user.user_permissions.set(Permission.objects.all())
    elif permissions:
        for permission in permissions:
            app_label, codename = permission.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    # Permissions are cached on the instance; the client loads a fresh one per request.


@dataclass
class Side:
    """One utility's rows, by model."""

    name: str
    utility: object = None
    owner: object = None
    staff: object = None
    rows: dict = field(default_factory=dict)


def make_side(name: str) -> Side:
    side = Side(name=name)
    utility = UtilityFactory(name=f"Utility {name}", timezone="America/Los_Angeles")
    owner = OrganizationFactory(name=f"Owner {name}", kind=Organization.Kind.BUILDING_OWNER)
    building = BuildingFactory(utility=utility, owner=owner, code=f"{name}-01", enrolled=False)
    side.utility, side.owner = utility, owner
    side.staff = staff_member(utility.organization, permissions="all", username=f"staff-{name}")
    day = date(2026, 7, 1)
    meter_days_upsert(
        building_ids=np.array([building.pk]), days=[day], kwh=np.full((1, 24), 2.0),
        origin="uploaded",
    )  # fmt: skip
    series_days_upsert(
        utility=utility, series=SeriesDay.Series.TEMPERATURE_C, days=[day],
        values=np.full((1, 24), 30.0), origin="measured",
    )  # fmt: skip
    model = ForecastModel.objects.create(
        utility=utility, version=1, hyperparameters={"hidden": 32}, train_start=date(2026, 1, 1),
        train_end=date(2026, 6, 1), buildings=1, data_fingerprint="0" * 64, weights=b"w",
        metrics={"lstm": {"median_cvrmse_pct": 21.234, "total_cvrmse_pct": 9.87},
                 "p10_p90_coverage": 0.812},
    )  # fmt: skip
    ForecastRun.objects.create(utility=utility, day=date(2026, 7, 2), model=model, chunks_total=1)
    ComplianceModelVersion.objects.create(
        utility=utility, version=1, outcomes=40, weights=b"w",
        metrics={"auc": 0.71234, "brier": 0.18765, "kept": "model"},
    )  # fmt: skip
    starts = timezone.make_aware(datetime(2026, 7, 2, 16), timezone.get_fixed_timezone(-420))
    event = DemandResponseEvent.objects.create(
        utility=utility, source="operator", starts_at=starts, ends_at=starts + timedelta(hours=3),
        target_kw=50.0, p_target_met=0.95312, expected_kw=61.2345, delivered_kw=58.04,
        simulated=True,
    )  # fmt: skip
    Recommendation.objects.create(
        event=event, building=building, depth_pct=50.0, requested_kw=20.0, expected_kw=16.0,
        compliance_probability=0.8, expected_kwh=48.0, cost_saved_usd=12.4, carbon_saved_kg=9.6,
        comfort_impact="+1 °C for 3 h", incentive_usd=24.0,
        actions=[{"action": "pre-cool", "detail": "cool 1 °C below the usual setpoint"},
                 {"action": "setpoint raise", "detail": "raise the setpoint by 2.0 °C"}],
        features={"curtailable_kw": 40.0, "notice_h": 18.0, "building_type": "office"},
    )  # fmt: skip
    report = StakeholderReport.objects.create(
        organization=utility.organization, utility=utility, kind=StakeholderReport.Kind.EVENT,
        event=event, day=date(2026, 7, 2), source_key="k",
        data={"event": {"target_kw": 50.0, "p_target_met": 0.95312, "hours": 3.0}},
    )  # fmt: skip
    ReportBuildingLine.objects.create(
        report=report, building=building, owner=owner, events=1, asked_kwh=60.0,
        delivered_kwh=48.0, cost_saved_usd=12.0, carbon_saved_kg=9.6, incentive_usd=24.0,
        complied=1,
    )  # fmt: skip
    ProtocolCheck.objects.create(event=event, step=0, by=side.staff)
    JobRun.objects.create(
        kind="forecasting.train", params={"utility_id": utility.pk}, requested_by=side.staff
    )
    return side


@pytest.fixture
def world(db):
    """Utility A and utility B, each with its staff member (every permission, no more)."""
    return make_side("A"), make_side("B")


@pytest.fixture
def program_team(db):
    return OrganizationFactory(name="Program team", kind=Organization.Kind.PROGRAM_TEAM)


@pytest.fixture
def program_staff(program_team):
    """A member of the program team with every permission, not a superuser."""
    return staff_member(program_team, permissions="all", username="program-staff")
