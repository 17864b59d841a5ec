"""The program's delivery records: derived figures, rules, the audit history and the demo plan."""

from datetime import date

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from projects.models import (
    KPI,
    ChangeRecord,
    Deliverable,
    KPIMeasurement,
    Milestone,
    Program,
    QARun,
    Risk,
    Sprint,
    Task,
    UserStory,
)
from projects.selectors import milestones_with_progress, program_overview, sprints_with_points
from projects.services.demo import demo_program_create
from projects.services.records import (
    DeliveryError,
    delivery_record_save,
    kpi_measure,
    milestone_complete,
    sprint_close,
)
from tests.factories import (
    KPIFactory,
    MilestoneFactory,
    RiskFactory,
    SprintFactory,
    TaskFactory,
    UserStoryFactory,
)

pytestmark = pytest.mark.django_db

DONE = UserStory.Status.DONE


@pytest.mark.parametrize(("probability", "impact", "score"), [(1, 1, 1), (3, 4, 12), (5, 5, 25)])
def test_risk_score_is_probability_times_impact(probability, impact, score):
    risk = RiskFactory(probability=probability, impact=impact)
    risk.refresh_from_db()
    assert risk.score == score
    Risk.objects.filter(pk=risk.pk).update(impact=2)
    risk.refresh_from_db()
    assert risk.score == probability * 2


@pytest.mark.parametrize(
    ("comparison", "measured", "passed"),
    [("lte", 120.0, True), ("lte", 80.0, False), ("gte", 80.0, True), ("gte", 120.0, False)],
)
def test_qa_run_passed_must_match_its_threshold(comparison, measured, passed):
    deliverable = Deliverable.objects.create(
        program=SprintFactory().program, name="API", due_date=date(2026, 12, 1)
    )
    fields = {
        "deliverable": deliverable, "kind": QARun.Kind.PERFORMANCE, "run_at": timezone.now(),
        "threshold": 100.0, "comparison": comparison, "unit": "ms", "evidence": "locust run",
    }  # fmt: skip
    with (
        pytest.raises(IntegrityError, match="qarun_passed_matches_threshold"),
        transaction.atomic(),
    ):
        QARun.objects.create(measured_value=measured, passed=passed, **fields)
    QARun.objects.create(measured_value=measured, passed=not passed, **fields)
    assert QARun.objects.count() == 1


def test_milestone_progress_counts_done_tasks():
    # given
    milestone = MilestoneFactory()
    TaskFactory.create_batch(2, milestone=milestone, status=Task.Status.DONE)
    TaskFactory(milestone=milestone, status=Task.Status.IN_PROGRESS)
    TaskFactory(milestone=milestone)
    empty = MilestoneFactory(program=milestone.program)
    # when
    rows = {m.pk: m for m in milestones_with_progress(Milestone.objects.all())}
    # then
    assert (rows[milestone.pk].tasks_done, rows[milestone.pk].tasks_total) == (2, 4)
    assert (rows[empty.pk].tasks_done, rows[empty.pk].tasks_total) == (0, 0)


def test_sprint_points_done_of_committed():
    sprint = SprintFactory()
    UserStoryFactory(program=sprint.program, sprint=sprint, points=5, status=DONE)
    UserStoryFactory(program=sprint.program, sprint=sprint, points=8, status=DONE)
    UserStoryFactory(program=sprint.program, sprint=sprint, points=3, status="in_progress")
    UserStoryFactory(program=sprint.program, points=13)  # backlog, in no sprint
    empty = SprintFactory(program=sprint.program)
    rows = {s.pk: s for s in sprints_with_points(Sprint.objects.all())}
    assert (rows[sprint.pk].points_done, rows[sprint.pk].points_committed) == (13, 16)
    assert (rows[empty.pk].points_done, rows[empty.pk].points_committed) == (0, 0)


def test_saving_a_risk_records_what_changed_and_who(staff_user):
    # given
    risk = RiskFactory(probability=3, impact=4, owner="Lead")
    # when
    risk.probability, risk.owner = 5, "Architect"
    delivery_record_save(instance=risk, user=staff_user)
    # then
    record = ChangeRecord.objects.get()
    assert (record.object_type, record.object_id, record.object_label) == (
        "risk", risk.pk, risk.title,
    )  # fmt: skip
    assert record.changes == {"probability": [3, 5], "owner": ["Lead", "Architect"]}
    assert record.changed_by == staff_user
    risk.refresh_from_db()
    assert risk.score == 20


def test_saving_an_unchanged_risk_records_nothing(staff_user):
    risk = RiskFactory()
    delivery_record_save(instance=risk, user=staff_user)
    assert not ChangeRecord.objects.exists()


def test_records_that_are_not_audited_keep_no_history(staff_user):
    story = UserStoryFactory(points=3)
    story.points = 5
    delivery_record_save(instance=story, user=staff_user)
    assert not ChangeRecord.objects.exists()


def test_closing_a_sprint_sends_unfinished_stories_to_the_backlog(staff_user):
    # given
    sprint = SprintFactory(status=Sprint.Status.ACTIVE)
    done = UserStoryFactory(program=sprint.program, sprint=sprint, status=DONE)
    todo = UserStoryFactory(program=sprint.program, sprint=sprint, status="todo")
    doing = UserStoryFactory(program=sprint.program, sprint=sprint, status="in_progress")
    # when
    result = sprint_close(sprint=sprint, user=staff_user)
    # then
    assert result == {"carried_over": 2, "done": 1}
    sprint.refresh_from_db()
    assert sprint.status == Sprint.Status.CLOSED
    assert list(sprint.stories.all()) == [done]
    for story in (todo, doing):
        story.refresh_from_db()
        assert (story.sprint, story.status) == (None, UserStory.Status.BACKLOG)


@pytest.mark.parametrize("status", [Sprint.Status.PLANNED, Sprint.Status.CLOSED])
def test_only_an_active_sprint_can_be_closed(staff_user, status):
    sprint = SprintFactory(number=7, status=status)
    story = UserStoryFactory(program=sprint.program, sprint=sprint, status="todo")
    with pytest.raises(DeliveryError, match="Sprint 7 is not active, so it cannot be closed"):
        sprint_close(sprint=sprint, user=staff_user)
    story.refresh_from_db()
    assert story.sprint == sprint


def test_milestone_with_open_tasks_cannot_be_completed(staff_user):
    milestone = MilestoneFactory(name="Pilot live")
    TaskFactory(milestone=milestone, status=Task.Status.DONE)
    TaskFactory.create_batch(2, milestone=milestone)
    with pytest.raises(DeliveryError, match=r"'Pilot live' still has 2 open task\(s\) of 3"):
        milestone_complete(milestone=milestone, user=staff_user)
    milestone.refresh_from_db()
    assert milestone.status == Milestone.Status.NOT_STARTED


def test_milestone_with_all_tasks_done_is_completed_and_audited(staff_user):
    milestone = MilestoneFactory()
    TaskFactory(milestone=milestone, status=Task.Status.DONE)
    milestone_complete(milestone=milestone, user=staff_user, on=date(2026, 12, 10))
    milestone.refresh_from_db()
    assert (milestone.status, milestone.completed_on) == ("done", date(2026, 12, 10))
    assert ChangeRecord.objects.get().changes == {
        "status": ["not_started", "done"],
        "completed_on": [None, "2026-12-10"],
    }


def test_kpi_measured_by_the_system_takes_no_hand_entry(staff_user):
    kpi = KPIFactory(name="Median CV(RMSE)", metric_key="forecast-median-cvrmse-pct")
    with pytest.raises(DeliveryError, match="measured by the system .* takes no hand entry"):
        kpi_measure(kpi=kpi, value=42.0, source=KPIMeasurement.Source.MANUAL, user=staff_user)
    kpi_measure(kpi=kpi, value=42.0, source=KPIMeasurement.Source.SYSTEM)
    assert list(kpi.measurements.values_list("value", "source")) == [(42.0, "system")]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_kpi_measurement_must_be_finite(staff_user, value):
    kpi = KPIFactory()
    with pytest.raises(DeliveryError, match="must be a finite number"):
        kpi_measure(kpi=kpi, value=value, source=KPIMeasurement.Source.MANUAL, user=staff_user)
    assert not KPIMeasurement.objects.exists()


def test_hand_kept_kpi_records_who_entered_it(staff_user):
    kpi = KPIFactory(metric_key="")
    measurement = kpi_measure(kpi=kpi, value=4.2, source="manual", note="survey", user=staff_user)
    assert (measurement.value, measurement.recorded_by, measurement.note) == (
        4.2, staff_user, "survey",
    )  # fmt: skip


def program_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Program, Sprint, UserStory, Milestone, Task, Deliverable, Risk, KPI)
    }


def test_demo_program_has_the_plan_and_is_created_once(staff_user):
    # when
    program = demo_program_create(starts_on=date(2026, 11, 2), user=staff_user)
    # then
    counts = program_counts()
    assert counts == {
        "Program": 1, "Sprint": 5, "UserStory": 17, "Milestone": 5, "Task": 17,
        "Deliverable": 5, "Risk": 8, "KPI": 10,
    }  # fmt: skip
    assert list(program.sprints.values_list("number", "status")) == [
        (1, "active"), (2, "planned"), (3, "planned"), (4, "planned"), (5, "planned"),
    ]  # fmt: skip
    assert all(m.tasks.exists() for m in program.milestones.all())
    assert program.ends_on == date(2027, 1, 11)  # 5 sprints of 14 days
    assert program.kpis.filter(metric_key="").count() == 1
    assert not Task.objects.filter(status=Task.Status.DONE).exists()
    # and: the risks and milestones were created through the audited service
    assert ChangeRecord.objects.filter(changed_by=staff_user).count() == 8 + 5
    # when: it runs again
    again = demo_program_create(starts_on=date(2027, 3, 1))
    # then
    assert again == program
    assert program_counts() == counts


@pytest.mark.parametrize("who", ["anonymous", "plain"])
def test_program_overview_is_for_staff_only(plain_user, who):
    demo_program_create(starts_on=date(2026, 11, 2))
    user = AnonymousUser() if who == "anonymous" else plain_user
    with pytest.raises(PermissionDenied):
        program_overview(user=user)


def test_program_overview_lists_top_risks_by_score(staff_user):
    # given
    program = demo_program_create(starts_on=timezone.localdate())
    Risk.objects.filter(program=program, probability=3, impact=5).update(status="closed")
    # when
    overview = program_overview(user=staff_user, program_id=program.pk)
    # then: the closed 15 is left out; five of the open ones, highest first
    assert [risk.score for risk in overview.top_risks] == [12, 12, 12, 10, 9]
    assert [s.number for s in overview.sprints] == [1, 2, 3, 4, 5]
    assert (overview.sprints[0].points_committed, overview.sprints[0].points_done) == (31, 0)
    assert [m.name for m in overview.milestones_due] == [
        "Forecast beats the 7-day mean on the real homes",
        "100k buildings optimized in under a second",
        "Integrations live with the pilot utility",
    ]
    assert (overview.milestones_due[0].tasks_done, overview.milestones_due[0].tasks_total) == (0, 4)
    assert len(overview.kpis) == 10
    assert overview.overdue_reviews == 0


def test_program_overview_without_a_program_is_none(staff_user):
    assert program_overview(user=staff_user) is None
