"""The back office's access matrix: for every registered model, what a staff member of utility
A, a member of the program team and a staff user with no membership see (DESIGN.md, "Security
and tenancy"). Each has every permission: only the tenancy tells them apart."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from forecasting.models import (
    ComplianceModelVersion,
    ForecastModel,
    ForecastRun,
    MeterDay,
    SeriesDay,
)
from jobs.models import JobRun
from optimization.models import DemandResponseEvent, Recommendation
from stakeholders.admin_scoping import ScopedAdmin
from stakeholders.models import Building, Feeder, Membership, Organization, Utility
from stakeholders.portal.models import ProtocolCheck, ReportBuildingLine, StakeholderReport
from tests.admin.conftest import make_side, staff_member
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)

# The lookup from each organization-owned model to the organization whose rows they are: the
# test's own statement of tenancy, not the admins' (a model registered later that is missing
# here must be the program team's alone, or the matrix fails).
OWNED_THROUGH = {
    Organization: "pk",
    Utility: "organization",
    Feeder: "utility__organization",
    Building: "utility__organization",
    Membership: "organization",
    MeterDay: "building__utility__organization",
    SeriesDay: "utility__organization",
    ForecastModel: "utility__organization",
    ForecastRun: "utility__organization",
    ComplianceModelVersion: "utility__organization",
    DemandResponseEvent: "utility__organization",
    Recommendation: "event__utility__organization",
    StakeholderReport: "utility__organization",
    ReportBuildingLine: "report__utility__organization",
    ProtocolCheck: "event__utility__organization",
    User: "memberships__organization",
    JobRun: "requested_by__memberships__organization",
}
SCOPED = [model for model in REGISTERED if model in OWNED_THROUGH]
PROGRAM_TEAM_ONLY = [model for model in REGISTERED if model not in OWNED_THROUGH]


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def rows_of(model, side) -> set:
    return set(
        model._default_manager.filter(
            **{OWNED_THROUGH[model]: side.utility.organization_id}
        ).values_list("pk", flat=True)
    )


def listed(client, model) -> set:
    response = client.get(url(model, "changelist"))
    assert response.status_code == 200, model._meta.label
    return {obj.pk for obj in response.context["cl"].result_list}


def test_every_registered_admin_is_scoped():
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, ScopedAdmin), model._meta.label


def test_the_fixture_gives_each_utility_a_row_of_every_scoped_model(world):
    a, b = world
    for model in SCOPED:
        assert rows_of(model, a), model._meta.label
        assert rows_of(model, b), model._meta.label


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.label)
def test_a_utility_member_sees_its_rows_and_none_of_another_utility(client, world, model):
    a, b = world
    client.force_login(a.staff)
    shown = listed(client, model)
    assert shown & rows_of(model, a), "its own rows are listed"
    assert not shown & rows_of(model, b)


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.label)
def test_another_utility_s_object_is_no_object(client, world, model):
    a, b = world
    client.force_login(a.staff)
    theirs = min(rows_of(model, b))
    for view in ("change", "history", "delete"):
        response = client.get(url(model, view, theirs))
        # Django's "does not exist" redirect to the index, never the object's page (or 403
        # where nobody may delete such rows).
        assert response.status_code in (302, 404) or (view, response.status_code) == (
            "delete",
            403,
        ), (model._meta.label, view)
        if response.status_code == 302:
            assert response.url == reverse("admin:index")


@pytest.mark.parametrize("model", PROGRAM_TEAM_ONLY, ids=lambda model: model._meta.label)
def test_program_team_records_are_refused_to_a_utility_member(client, world, model):
    a, _ = world
    client.force_login(a.staff)
    assert client.get(url(model, "changelist")).status_code == 403


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.label)
def test_the_program_team_sees_both_utilities(client, world, program_staff, model):
    a, b = world
    client.force_login(program_staff)
    shown = listed(client, model)
    assert rows_of(model, a) <= shown
    assert rows_of(model, b) <= shown


@pytest.mark.parametrize("model", PROGRAM_TEAM_ONLY, ids=lambda model: model._meta.label)
def test_the_program_team_opens_its_own_records(client, world, program_staff, model):
    client.force_login(program_staff)
    assert client.get(url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.label)
def test_staff_without_a_membership_sees_no_organization_rows(client, world, model):
    loner = staff_member(None, permissions="all", username="loner")
    client.force_login(loner)
    shown = listed(client, model)
    if model is User:
        assert shown == {loner.pk}  # themselves, nobody else
    else:
        assert shown == set()


def test_the_index_lists_no_program_records_to_a_utility_member(client, world, program_staff):
    a, _ = world
    client.force_login(a.staff)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Program overview" not in page
    assert reverse("admin:projects_risk_changelist") not in page
    assert client.get(reverse("admin:projects_program_overview")).status_code == 403
    client.force_login(program_staff)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Program overview" in page


def test_filters_list_only_the_member_s_utilities(client, world):
    a, b = world
    # given: A's staff member works for a second utility too (a filter shows from two choices)
    c = make_side("C")
    MembershipFactory(user=a.staff, organization=c.utility.organization)
    client.force_login(a.staff)
    for model in (Building, DemandResponseEvent, ForecastModel, MeterDay, Recommendation):
        page = client.get(url(model, "changelist")).content.decode()
        assert "Utility A</a>" in page, model._meta.label
        assert "Utility C</a>" in page, model._meta.label
        assert b.utility.name not in page, model._meta.label


def test_a_filter_naming_another_utility_shows_none_of_its_rows(client, world):
    a, b = world
    client.force_login(a.staff)
    response = client.get(url(Building, "changelist"), {"utility__id__exact": b.utility.pk})
    assert response.status_code == 200
    assert not {obj.pk for obj in response.context["cl"].result_list} & rows_of(Building, b)


def test_choices_offer_only_the_member_s_rows(client, world):
    a, b = world
    client.force_login(a.staff)
    form = client.get(url(Building, "add")).context["adminform"].form
    assert set(form.fields["utility"].queryset) == {a.utility}
    assert b.owner not in form.fields["owner"].queryset
    assert a.owner in form.fields["owner"].queryset  # owns a building on A's grid
    assert set(form.fields["feeder"].queryset) == set(Feeder.objects.filter(utility=a.utility))
    membership = client.get(url(Membership, "add")).context["adminform"].form
    assert set(membership.fields["organization"].queryset) == {a.utility.organization}
    assert b.staff not in membership.fields["user"].queryset
    assert not set(membership.fields["buildings"].queryset) & set(
        Building.objects.filter(utility=b.utility)
    )


def test_autocomplete_finds_only_the_member_s_rows(client, world):
    a, b = world
    client.force_login(a.staff)
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "stakeholders",
            "model_name": "membership",
            "field_name": "organization",
            "term": "Organization",
        },
    )
    assert response.status_code == 200
    names = {row["text"] for row in response.json()["results"]}
    assert names == {a.utility.organization.name}


def test_a_utility_member_cannot_act_on_another_utility_s_event(client, world):
    a, b = world
    theirs = DemandResponseEvent.objects.get(utility=b.utility)
    client.force_login(a.staff)
    response = client.post(
        url(DemandResponseEvent, "changelist"),
        {"action": "cancel", "_selected_action": [theirs.pk]},
        follow=True,
    )
    assert response.status_code == 200
    theirs.refresh_from_db()
    assert theirs.status == DemandResponseEvent.Status.PROPOSED


def test_fellow_members_read_users_but_only_the_program_team_changes_one(
    client, world, program_staff
):
    a, _ = world
    client.force_login(a.staff)
    assert client.get(url(User, "change", a.staff.pk)).status_code == 200
    response = client.post(
        url(User, "change", a.staff.pk), {"username": a.staff.username, "is_superuser": "on"}
    )
    assert response.status_code == 403
    a.staff.refresh_from_db()
    assert not a.staff.is_superuser
