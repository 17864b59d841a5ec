"""Reads of the program's records: for the back office (staff only), and for the executive's
portal page (scoped to the executive's utility)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from stakeholders.selectors import sees_everything

from .models import KPI, KPIMeasurement, Milestone, Program, Risk, Sprint, Task, UserStory


def _staff_only(user) -> None:
    """The program's records are the program team's: its members (as staff) and superusers."""
    if not (user.is_authenticated and user.is_staff and sees_everything(user)):
        raise PermissionDenied("The program's records are for the program team's staff.")


def milestones_with_progress(milestones: QuerySet[Milestone]) -> QuerySet[Milestone]:
    """Milestones annotated with tasks_total and tasks_done (progress = done / all)."""
    return milestones.annotate(
        tasks_total=Count("tasks", distinct=True),
        tasks_done=Count("tasks", filter=Q(tasks__status=Task.Status.DONE), distinct=True),
    )


def sprints_with_points(sprints: QuerySet[Sprint]) -> QuerySet[Sprint]:
    """Sprints annotated with points_committed and points_done of their stories."""
    return sprints.annotate(
        points_committed=Sum("stories__points", default=0),
        points_done=Sum(
            "stories__points", filter=Q(stories__status=UserStory.Status.DONE), default=0
        ),
    )


def kpis_with_latest(kpis: QuerySet[KPI]) -> QuerySet[KPI]:
    latest = KPIMeasurement.objects.filter(kpi=OuterRef("pk")).order_by("-measured_at")
    return kpis.annotate(
        latest_value=Subquery(latest.values("value")[:1]),
        latest_source=Subquery(latest.values("source")[:1]),
        latest_at=Subquery(latest.values("measured_at")[:1]),
    )


@dataclass(frozen=True)
class ProgramOverview:
    program: Program
    today: date
    milestones_due: list[Milestone]
    top_risks: list[Risk]
    sprints: list[Sprint]
    kpis: list[KPI]
    overdue_reviews: int


def program_overview(
    *, user, program_id: int | None = None, horizon_days: int = 45
) -> ProgramOverview | None:
    """Milestones due in the horizon (and late ones), the top risks, sprint progress, KPIs."""
    _staff_only(user)
    programs = Program.objects.all()
    program = programs.filter(pk=program_id).first() if program_id else programs.first()
    if program is None:
        return None
    today = timezone.localdate()
    due = milestones_with_progress(
        program.milestones.exclude(status=Milestone.Status.DONE).filter(
            target_date__lte=today + timedelta(days=horizon_days)
        )
    ).order_by("target_date")
    return ProgramOverview(
        program=program,
        today=today,
        milestones_due=list(due),
        top_risks=list(
            program.risks.exclude(status=Risk.Status.CLOSED).order_by("-score", "next_review")[:5]
        ),
        sprints=list(sprints_with_points(program.sprints.all()).order_by("number")),
        kpis=list(kpis_with_latest(program.kpis.all())),
        overdue_reviews=program.risks.exclude(status=Risk.Status.CLOSED)
        .filter(next_review__lt=today)
        .count(),
    )


# The executive's portal page reads the program of its own utility: these take the utility,
# never a user's staff flag, and show no other utility's program.


def utility_programs(*, utility) -> QuerySet[Program]:
    """The programs linked to `utility`; where none is, those linked to no utility (the
    program team's own), never another utility's."""
    linked = Program.objects.filter(utility=utility)
    return Program.objects.filter(
        Q(utility=utility) | Q(Q(utility__isnull=True), ~Exists(linked))
    ).order_by("-starts_on", "pk")


def programs_linked(*, utility) -> bool:
    """Whether any program is linked to `utility` (else the pages say they show unlinked ones)."""
    return Program.objects.filter(utility=utility).exists()


def program_risks_top(*, utility, limit: int = 5) -> list[Risk]:
    """The utility's programs' open risks, highest score first (probability x impact), then
    the soonest review."""
    return list(
        Risk.objects.filter(program__in=utility_programs(utility=utility))
        .exclude(status=Risk.Status.CLOSED)
        .select_related("program")
        .order_by("-score", "next_review", "pk")[:limit]
    )


def program_milestones(*, utility, limit: int = 8) -> list[Milestone]:
    """The utility's programs' milestones still to reach, soonest first, with their tasks'
    progress (tasks_total, tasks_done)."""
    return list(
        milestones_with_progress(
            Milestone.objects.filter(program__in=utility_programs(utility=utility)).exclude(
                status=Milestone.Status.DONE
            )
        )
        .select_related("program")
        .order_by("target_date", "pk")[:limit]
    )


def program_milestone_counts(*, utility, today: date | None = None) -> dict:
    """How many of the utility's programs' milestones there are, are done, and are late (past
    their target date, not done): one query."""
    today = today or timezone.localdate()
    return Milestone.objects.filter(program__in=utility_programs(utility=utility)).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(status=Milestone.Status.DONE)),
        late=Count("pk", filter=~Q(status=Milestone.Status.DONE) & Q(target_date__lt=today)),
    )
