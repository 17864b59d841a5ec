"""An access and rendering sweep of the back office: every registered model's pages answer."""

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from axes.models import AccessFailureLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from forecasting.models import (
    ComplianceModelVersion,
    ForecastModel,
    ForecastRun,
    MeterDay,
    SeriesDay,
)
from forecasting.services.readings import meter_days_upsert, series_days_upsert
from jobs.models import JobRun
from optimization.models import DemandResponseEvent, Recommendation, SeasonRun
from projects.models import QARun
from projects.services.demo import demo_program_create
from projects.services.records import kpi_measure
from stakeholders.models import Role
from stakeholders.portal.models import ProtocolCheck, ReportBuildingLine, StakeholderReport
from tests.factories import BuildingFactory, FeederFactory, MembershipFactory, UtilityFactory

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def filled(staff_user):
    """Demo program, buildings with readings, and at least one row of every registered model."""
    # django-axes' records: a failed sign-in (an attempt, of a name no sign-in of staff's
    # resets), a successful one (the access log), and a failure log, which the settings leave
    # off (AXES_ENABLE_ACCESS_FAILURE_LOG), made by hand.
    Client().post(reverse("login"), {"username": "intruder", "password": "not-it"})
    Client().force_login(staff_user)
    AccessFailureLog.objects.create(
        username="intruder", ip_address="10.0.0.1", user_agent="test", path_info="/accounts/login/"
    )
    program = demo_program_create(starts_on=timezone.localdate(), user=staff_user)
    utility = UtilityFactory(name="Utility X")
    buildings = BuildingFactory.create_batch(2, utility=utility)
    days = [date(2026, 7, 1) + timedelta(days=n) for n in range(3)]
    meter_days_upsert(
        building_ids=np.repeat([b.pk for b in buildings], 3),
        days=days * 2,
        kwh=np.random.default_rng(1).uniform(0, 4, size=(6, 24)),
        origin="uploaded",
    )
    series_days_upsert(
        utility=utility, series=SeriesDay.Series.TEMPERATURE_C, days=days,
        values=np.full((3, 24), 31.5), origin="measured",
    )  # fmt: skip
    MembershipFactory(organization=buildings[0].owner, role=Role.FACILITY_MANAGER)
    Group.objects.create(name="Operators")
    JobRun.objects.create(kind="forecasting.import_citylearn", requested_by=staff_user)
    starts = timezone.make_aware(datetime(2026, 7, 2, 16))
    event = DemandResponseEvent.objects.create(
        utility=utility, source="operator", starts_at=starts,
        ends_at=starts + timedelta(hours=3), target_kw=50.0,
    )  # fmt: skip
    Recommendation.objects.create(
        event=event, building=buildings[0], depth_pct=50.0, requested_kw=20.0,
        expected_kw=16.0, compliance_probability=0.8, expected_kwh=48.0, cost_saved_usd=12.0,
        carbon_saved_kg=9.6, comfort_impact="+1 °C for 3 h", incentive_usd=24.0,
    )  # fmt: skip
    report = StakeholderReport.objects.create(
        organization=utility.organization, utility=utility, kind=StakeholderReport.Kind.EVENT,
        event=event, day=date(2026, 7, 2), data={"target_kw": 50.0}, source_key="k",
    )  # fmt: skip
    ReportBuildingLine.objects.create(
        report=report, building=buildings[0], owner=buildings[0].owner, events=1, asked_kwh=60.0,
        delivered_kwh=48.0, cost_saved_usd=12.0, carbon_saved_kg=9.6, incentive_usd=24.0,
        complied=1,
    )  # fmt: skip
    ProtocolCheck.objects.create(event=event, step=0, by=staff_user)
    QARun.objects.create(
        deliverable=program.deliverables.first(), kind=QARun.Kind.PERFORMANCE,
        run_at=timezone.now(), measured_value=0.8, threshold=1.0, comparison="lte", unit="s",
        passed=True, evidence="bench/optimize.py",
    )  # fmt: skip
    kpi_measure(kpi=program.kpis.get(metric_key=""), value=4.4, source="manual", user=staff_user)
    model = ForecastModel.objects.create(
        utility=utility, version=1, hyperparameters={}, train_start=date(2026, 1, 1),
        train_end=date(2026, 6, 1), buildings=2, data_fingerprint="0" * 64, weights=b"weights",
    )  # fmt: skip
    ForecastRun.objects.create(utility=utility, day=date(2026, 7, 3), model=model, chunks_total=1)
    ComplianceModelVersion.objects.create(utility=utility, version=1, outcomes=40, weights=b"w")
    SeasonRun.objects.create(
        buildings=100, first_day=date(2017, 3, 31), days=121, capacity_kw=900.0,
        figures={"peak_reduction_pct": 6.0, "target_met_share": 0.9, "cost": 10.0,
                 "cost_compliance_blind": 12.0, "cost_largest_first": 13.0, "compliance_auc": 0.7},
        strategies={},
    )  # fmt: skip
    return program


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_changelist_and_add_page_render_for_a_superuser(superuser_client, staff_user, model):
    assert superuser_client.get(admin_url(model, "changelist")).status_code == 200
    request = RequestFactory().get("/")
    request.user = staff_user
    if admin.site._registry[model].has_add_permission(request):
        assert superuser_client.get(admin_url(model, "add")).status_code == 200


def test_every_page_renders_with_data(superuser_client, filled):
    for model in REGISTERED:
        # given: the fixture left a row of every model
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {model._meta.label} to show"
        # then
        listing = superuser_client.get(admin_url(model, "changelist"))
        assert listing.status_code == 200, model._meta.label
        change = superuser_client.get(admin_url(model, "change", obj.pk))
        assert change.status_code == 200, model._meta.label


def test_changelists_list_the_demo_records(superuser_client, filled):
    sprints = superuser_client.get(admin_url(filled.sprints.model, "changelist")).content.decode()
    assert "Data pipeline and basic LSTM" in sprints
    assert "0 / 31" in sprints  # points done of committed in sprint 1
    milestones = superuser_client.get(reverse("admin:projects_milestone_changelist"))
    assert "0% (0/4)" in milestones.content.decode()
    readings = superuser_client.get(admin_url(MeterDay, "changelist")).content.decode()
    assert "24/24" in readings


@pytest.mark.parametrize(("who", "status"), [("anonymous", 302), ("plain", 302), ("staff", 200)])
def test_admin_index_is_for_staff(client, plain_user, staff_user, who, status):
    if who != "anonymous":
        client.force_login({"plain": plain_user, "staff": staff_user}[who])
    response = client.get(reverse("admin:index"))
    assert response.status_code == status
    if status == 302:
        assert response.url.startswith(reverse("admin:login"))


def test_non_staff_cannot_open_a_changelist(client, plain_user):
    client.force_login(plain_user)
    response = client.get(reverse("admin:projects_risk_changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_program_overview_lists_risks_and_sprints(superuser_client, filled):
    response = superuser_client.get(
        reverse("admin:projects_program_overview"), {"program": filled.pk}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert filled.name in page
    top = sorted(filled.risks.all(), key=lambda risk: -risk.score)[:3]
    for risk in top:
        assert risk.title in page
    assert top[0].score == 15
    for sprint in filled.sprints.all():
        assert f"{sprint.number}. {sprint.goal}" in page
    assert "0 of 31 points" in page
    assert "Stakeholder satisfaction (survey)" in page


def test_program_overview_without_a_program(superuser_client):
    response = superuser_client.get(reverse("admin:projects_program_overview"))
    assert response.status_code == 200
    assert "No program yet." in response.content.decode()


def test_building_changelist_costs_a_fixed_number_of_queries(
    superuser_client, django_assert_max_num_queries
):
    # given: 30 buildings with a day of readings each, on three feeders of one utility
    utility = UtilityFactory()
    feeders = FeederFactory.create_batch(3, utility=utility)
    buildings = [BuildingFactory(utility=utility, feeder=feeders[n % 3]) for n in range(30)]
    meter_days_upsert(
        building_ids=np.array([b.pk for b in buildings]),
        days=[date(2026, 7, 1)] * 30,
        kwh=np.ones((30, 24)),
        origin="uploaded",
    )
    # when / then
    with django_assert_max_num_queries(15):
        response = superuser_client.get(reverse("admin:stakeholders_building_changelist"))
    assert response.status_code == 200
    assert response.content.decode().count('class="field-mean_kw">1.0 kW<') == 30
