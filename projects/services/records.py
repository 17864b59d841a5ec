"""Writes to the program's delivery records, with an audit history of risks and milestones."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from ..models import (
    KPI,
    ChangeRecord,
    KPIMeasurement,
    Milestone,
    Risk,
    Sprint,
    Task,
    UserStory,
)

AUDITED = (Risk, Milestone)
REVIEW_EVERY_DAYS = 30


class DeliveryError(ValueError):
    """A change to the program's records that its rules do not allow."""


def _plain(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Model):
        return str(value)
    return value


def _audit(*, instance: Model, before: dict, user) -> ChangeRecord | None:
    after = {name: getattr(instance, name) for name in before}
    changes = {
        name: [_plain(before[name]), _plain(after[name])]
        for name in before
        if before[name] != after[name]
    }
    if not changes:
        return None
    return ChangeRecord.objects.create(
        object_type=instance._meta.model_name,
        object_id=instance.pk,
        object_label=str(instance)[:300],
        changes=changes,
        changed_by=user if user and user.is_authenticated else None,
    )


def _editable_fields(model) -> list[str]:
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not field.primary_key and not getattr(field, "generated", False)
    ]


@transaction.atomic
def delivery_record_save(*, instance: Model, user) -> Model:
    """Validate and save a delivery record; risks and milestones keep who changed what."""
    instance.full_clean()
    before = None
    if isinstance(instance, AUDITED):
        fields = _editable_fields(type(instance))
        if instance.pk:
            before = type(instance).objects.filter(pk=instance.pk).values(*fields).first()
        before = before or dict.fromkeys(fields)
    instance.save()
    if before is not None:
        _audit(instance=instance, before=before, user=user)
    return instance


def _change(instance: Model, user, **values) -> Model:
    for name, value in values.items():
        setattr(instance, name, value)
    return delivery_record_save(instance=instance, user=user)


@transaction.atomic
def sprint_start(*, sprint: Sprint, user) -> Sprint:
    if sprint.status != Sprint.Status.PLANNED:
        raise DeliveryError(f"Sprint {sprint.number} is {sprint.get_status_display().lower()}.")
    if Sprint.objects.filter(program=sprint.program, status=Sprint.Status.ACTIVE).exists():
        raise DeliveryError("Another sprint of this program is active: close it first.")
    return _change(sprint, user, status=Sprint.Status.ACTIVE)


@transaction.atomic
def sprint_close(*, sprint: Sprint, user) -> dict[str, int]:
    """Close an active sprint; stories not done go back to the backlog."""
    if sprint.status != Sprint.Status.ACTIVE:
        raise DeliveryError(f"Sprint {sprint.number} is not active, so it cannot be closed.")
    unfinished = sprint.stories.exclude(status=UserStory.Status.DONE)
    carried = unfinished.update(sprint=None, status=UserStory.Status.BACKLOG)
    _change(sprint, user, status=Sprint.Status.CLOSED)
    return {"carried_over": carried, "done": sprint.stories.count()}


def task_complete(*, task: Task, user) -> Task:
    if task.status == Task.Status.DONE:
        raise DeliveryError(f"Task {task.title!r} is already done.")
    return _change(task, user, status=Task.Status.DONE)


def milestone_complete(*, milestone: Milestone, user, on: date | None = None) -> Milestone:
    open_tasks = milestone.tasks.exclude(status=Task.Status.DONE).count()
    if open_tasks:
        raise DeliveryError(
            f"Milestone {milestone.name!r} still has {open_tasks} open task(s) of "
            f"{milestone.tasks.count()}."
        )
    return _change(
        milestone, user, status=Milestone.Status.DONE, completed_on=on or timezone.localdate()
    )


def risk_review(*, risk: Risk, user, next_review: date | None = None) -> Risk:
    """Record that a risk was reviewed: its next review moves on."""
    return _change(
        risk,
        user,
        next_review=next_review or timezone.localdate() + timedelta(days=REVIEW_EVERY_DAYS),
    )


def kpi_measure(
    *,
    kpi: KPI,
    value: float,
    source: str,
    measured_at: datetime | None = None,
    note: str = "",
    user=None,
) -> KPIMeasurement:
    if value != value or value in (float("inf"), float("-inf")):
        raise DeliveryError(f"KPI {kpi.name!r}: a measurement must be a finite number.")
    if source == KPIMeasurement.Source.MANUAL and kpi.metric_key:
        raise DeliveryError(
            f"KPI {kpi.name!r} is measured by the system ({kpi.metric_key}); it takes no hand entry."
        )
    return KPIMeasurement.objects.create(
        kpi=kpi,
        value=value,
        source=source,
        measured_at=measured_at or timezone.now(),
        note=note,
        recorded_by=user if user and getattr(user, "is_authenticated", False) else None,
    )
