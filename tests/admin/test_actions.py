"""Every state-changing back-office action declares its permission: without it nothing changes
and the answer says why; with it the service runs and a LogEntry says what it did."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from forecasting.models import ForecastModel, ForecastRun
from jobs.models import JobRun
from optimization.models import DemandResponseEvent, Recommendation
from projects.models import Milestone, Risk, Sprint, Task
from stakeholders.models import Utility
from tests.admin.conftest import grant, make_side, staff_member
from tests.factories import MilestoneFactory, RiskFactory, SprintFactory, TaskFactory

pytestmark = pytest.mark.django_db


def event_in(status: str, *, recommendation: bool = False):
    def make():
        side = make_side("E")
        event = DemandResponseEvent.objects.get(utility=side.utility)
        DemandResponseEvent.objects.filter(pk=event.pk).update(status=status)
        if not recommendation:
            Recommendation.objects.filter(event=event).delete()
        return event

    return make


def event_status(event) -> str:
    event.refresh_from_db()
    return event.status


def jobs_of(kind: str):
    return lambda obj: JobRun.objects.filter(kind=kind).count()


def models_of(utility) -> list:
    return list(ForecastModel.objects.filter(utility=utility).values_list("version", "status"))


def model_candidate():
    side = make_side("M")
    ForecastModel.objects.create(
        utility=side.utility, version=2, hyperparameters={}, train_start=date(2026, 1, 1),
        train_end=date(2026, 6, 1), buildings=1, data_fingerprint="1" * 64, weights=b"w",
    )  # fmt: skip
    ForecastModel.objects.filter(utility=side.utility, version=1).update(status="active")
    return ForecastModel.objects.get(utility=side.utility, version=2)


def model_after_promotion():
    side = make_side("R")
    ForecastModel.objects.filter(utility=side.utility, version=1).update(
        status="retired", promoted_at=timezone.now() - timedelta(days=2)
    )
    return ForecastModel.objects.create(
        utility=side.utility, version=2, status="active", promoted_at=timezone.now(),
        hyperparameters={}, train_start=date(2026, 1, 1), train_end=date(2026, 6, 1),
        buildings=1, data_fingerprint="1" * 64, weights=b"w",
    )  # fmt: skip


def failed_job():
    return JobRun.objects.create(kind="testapp.write_marks", status="failed", error="boom")


def stuck_job():
    job = JobRun.objects.create(kind="testapp.write_marks")
    JobRun.objects.filter(pk=job.pk).update(sends=1, sent_at=timezone.now() - timedelta(hours=1))
    return job


def sends_of(job) -> int:
    return JobRun.objects.get(pk=job.pk).sends


def active_sprint():
    return SprintFactory(status=Sprint.Status.ACTIVE)


def status_of(obj):
    obj.refresh_from_db()
    return obj.status


@dataclass(frozen=True)
class Case:
    model: type
    action: str
    make: Callable  # -> the object to act on
    state: Callable  # obj -> what the action changes
    permission: str  # what it needs, as app_label.codename

    def __str__(self) -> str:
        return f"{self.model._meta.model_name}.{self.action}"


EVENT = "optimization.change_demandresponseevent"
CASES = [
    Case(DemandResponseEvent, "plan", event_in("proposed"), jobs_of("optimization.optimize"), EVENT),
    Case(DemandResponseEvent, "revisit", event_in("optimized"), jobs_of("optimization.revisit"), EVENT),
    Case(
        DemandResponseEvent, "dispatch", event_in("optimized", recommendation=True),
        event_status, EVENT,
    ),
    Case(DemandResponseEvent, "activate", event_in("dispatched"), event_status, EVENT),
    Case(DemandResponseEvent, "complete", event_in("active"), event_status, EVENT),
    Case(DemandResponseEvent, "verify", event_in("completed"), jobs_of("optimization.verify"), EVENT),
    Case(DemandResponseEvent, "cancel", event_in("proposed"), event_status, EVENT),
    Case(
        Utility, "train_model", lambda: make_side("T").utility, jobs_of("forecasting.train"),
        "forecasting.add_forecastmodel",
    ),
    Case(
        Utility, "forecast_next_day", lambda: make_side("F").utility,
        lambda utility: ForecastRun.objects.filter(utility=utility).count(),
        "forecasting.add_forecastrun",
    ),
    Case(
        ForecastModel, "promote", model_candidate, lambda m: models_of(m.utility),
        "forecasting.change_forecastmodel",
    ),
    Case(
        ForecastModel, "roll_back", model_after_promotion, lambda m: models_of(m.utility),
        "forecasting.change_forecastmodel",
    ),
    Case(JobRun, "run_again", failed_job, lambda job: JobRun.objects.count(), "jobs.add_jobrun"),
    Case(JobRun, "send_again", stuck_job, sends_of, "jobs.add_jobrun"),
    Case(Sprint, "start", SprintFactory, status_of, "projects.change_sprint"),
    Case(Sprint, "close", active_sprint, status_of, "projects.change_sprint"),
    Case(Milestone, "complete", MilestoneFactory, status_of, "projects.change_milestone"),
    Case(Task, "complete", TaskFactory, status_of, "projects.change_task"),
    Case(
        Risk, "reviewed", lambda: RiskFactory(next_review=date(2026, 1, 1)),
        lambda risk: Risk.objects.get(pk=risk.pk).next_review, "projects.change_risk",
    ),
]  # fmt: skip


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def view_permission(model) -> str:
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


def run(client, case, obj):
    return client.post(
        changelist(case.model), {"action": case.action, "_selected_action": [obj.pk]}
    )


def test_every_action_declares_its_permission_and_has_a_case():
    declared = set()
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            if name == "delete_selected":
                continue  # Django's own: asks for the delete permission, logs each deletion
            assert getattr(func, "allowed_permissions", None), f"{model._meta.label}.{name}"
            declared.add((model, name))
    assert declared == {(case.model, case.action) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_without_the_permission_nothing_changes_and_the_page_says_so(client, program_team, case):
    # given: a member of the program team who may read the model, nothing more
    obj = case.make()
    before = case.state(obj)
    user = staff_member(program_team, permissions=[view_permission(case.model)])
    client.force_login(user)
    # when
    response = run(client, case, obj)
    # then
    assert response.status_code == 403
    page = response.content.decode()
    assert "You may not" in page
    assert "Nothing was changed." in page
    assert case.state(obj) == before
    assert not LogEntry.objects.filter(user=user).exists()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_with_the_permission_the_action_runs_and_is_logged(client, program_team, case):
    # given
    obj = case.make()
    before = case.state(obj)
    user = staff_member(program_team, permissions=[view_permission(case.model)])
    grant(user, [case.permission])
    client.force_login(user)
    # when
    response = run(client, case, obj)
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    assert case.state(obj) != before
    entries = list(LogEntry.objects.filter(user=user))
    assert len(entries) == 1
    assert entries[0].get_change_message()[0].isupper()  # a sentence in words


def test_the_log_entry_says_what_the_action_did(client, program_team):
    event = event_in("proposed")()
    user = staff_member(program_team, permissions=[view_permission(DemandResponseEvent), EVENT])
    client.force_login(user)
    run(client, next(case for case in CASES if case.action == "cancel"), event)
    entry = LogEntry.objects.get(user=user)
    assert entry.object_id == str(event.pk)
    assert entry.get_change_message() == "Cancelled in the back office."
    client.post(
        changelist(Utility), {"action": "train_model", "_selected_action": [event.utility_id]}
    )
    assert LogEntry.objects.filter(user=user).count() == 1  # no permission to train: refused
