"""KPIs the system measures from its own records. Each metric returns (value, note), or None
where there is nothing to measure yet: no number is ever made up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from forecasting.models import ForecastModel
from jobs.models import JobRun
from stakeholders.models import Building

from ..models import KPI, KPIMeasurement, Milestone, Program, Sprint
from ..selectors import sprints_with_points
from .records import kpi_measure

Measured = tuple[float, str] | None


def _buildings_enrolled(program: Program) -> Measured:
    count = Building.objects.filter(enrolled=True).count()
    return float(count), f"{count} enrolled buildings in the directory"


def _job_failure_rate(program: Program) -> Measured:
    since = timezone.now() - timedelta(days=30)
    finished = JobRun.objects.filter(finished_at__gte=since, status__in=JobRun.FINISHED)
    total = finished.count()
    if not total:
        return None
    failed = finished.filter(status=JobRun.Status.FAILED).count()
    return 100.0 * failed / total, f"{failed} of {total} jobs failed in the last 30 days"


def _milestones_on_time(program: Program) -> Measured:
    done = program.milestones.filter(status=Milestone.Status.DONE)
    total = done.count()
    if not total:
        return None
    on_time = done.filter(completed_on__lte=F("target_date")).count()
    return 100.0 * on_time / total, f"{on_time} of {total} completed milestones on time"


def _sprint_velocity(program: Program) -> Measured:
    closed = list(sprints_with_points(program.sprints.filter(status=Sprint.Status.CLOSED)))
    if not closed:
        return None
    points = [sprint.points_done for sprint in closed]
    return sum(points) / len(points), f"mean points done over {len(closed)} closed sprint(s)"


def _active_forecast_metric(name: str) -> Callable[[Program], Measured]:
    def measure(program: Program) -> Measured:
        model = (
            ForecastModel.objects.filter(status=ForecastModel.Status.ACTIVE)
            .exclude(hyperparameters__has_key="transferred_from")
            .select_related("utility")
            .order_by("-promoted_at")
            .first()
        )
        value = model and model.metrics.get("lstm", {}).get(name)
        if value is None:
            return None
        return float(value), (
            f"{model.utility} model v{model.version}, held-out days {model.test_start} to "
            f"{model.test_end}"
        )

    return measure


METRICS: dict[str, Callable[[Program], Measured]] = {
    "forecast-median-cvrmse-pct": _active_forecast_metric("median_cvrmse_pct"),
    "forecast-total-cvrmse-pct": _active_forecast_metric("total_cvrmse_pct"),
    "buildings-enrolled": _buildings_enrolled,
    "job-failure-rate-pct": _job_failure_rate,
    "milestones-on-time-pct": _milestones_on_time,
    "sprint-velocity-points": _sprint_velocity,
}


def kpi_record_metric(*, metric_key: str, value: float, note: str) -> list[KPIMeasurement]:
    """Record a figure an engine measured against every KPI that follows `metric_key`."""
    return [
        kpi_measure(kpi=kpi, value=value, source=KPIMeasurement.Source.SYSTEM, note=note)
        for kpi in KPI.objects.filter(metric_key=metric_key)
    ]


def kpis_measure_from_records(*, program: Program) -> list[KPIMeasurement]:
    """Measure the program's KPIs that the system's own records can answer today."""
    measured = []
    for kpi in program.kpis.exclude(metric_key=""):
        metric = METRICS.get(kpi.metric_key)
        result = metric(program) if metric else None
        if result is not None:
            value, note = result
            measured.append(
                kpi_measure(kpi=kpi, value=value, source=KPIMeasurement.Source.SYSTEM, note=note)
            )
    return measured
