"""Building and finding snapshots: a day's (its sections, see base.py) and an event's."""

from __future__ import annotations

import hashlib
import time
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from forecasting.models import ComplianceModelVersion, ForecastModel, ForecastRun
from optimization.models import EventTransition, OptimizationRun
from stakeholders.bulk import bulk_insert
from stakeholders.models import Utility

from ..models import ReportBuildingLine, StakeholderReport
from . import engineering, events, grid, market, owners  # noqa: F401  (sections register themselves, in this order)
from .base import MAX_AGE, SECTIONS, SIMULATED_LABEL, DayContext, data_label, local_today


def day_source_key(*, utility: Utility, day: date, now: datetime) -> str:
    """A digest of everything a day snapshot reads that changes: the forecast runs of the days
    it shows, the active models, the events' histories and plans, and the age bucket."""
    days = [day - timedelta(days=1), day, day + timedelta(days=1), day + timedelta(days=2)]
    runs = list(
        ForecastRun.objects.filter(
            utility=utility, day__in=days, status=ForecastRun.Status.COMPLETE
        ).values_list("pk", flat=True)
    )
    parts = [
        utility.pk, utility.capacity_kw, utility.high_strain_pct, utility.critical_strain_pct,
        day.isoformat(), sorted(runs),
        ForecastModel.objects.filter(utility=utility, status=ForecastModel.Status.ACTIVE)
        .values_list("pk", flat=True).first(),
        ComplianceModelVersion.objects.filter(utility=utility, active=True)
        .values_list("pk", flat=True).first(),
        EventTransition.objects.filter(event__utility=utility).aggregate(m=Max("pk"))["m"],
        OptimizationRun.objects.filter(event__utility=utility).aggregate(m=Max("pk"))["m"],
        int(now.timestamp() // MAX_AGE.total_seconds()),
    ]  # fmt: skip
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def report_day(*, utility: Utility, day: date | None = None, now=None) -> StakeholderReport:
    """The utility's current day snapshot: the stored one while what it was computed from is
    unchanged, else a new one."""
    now = now or timezone.now()
    day = day or local_today(utility, now)
    key = day_source_key(utility=utility, day=day, now=now)
    stored = (
        StakeholderReport.objects.filter(
            utility=utility, kind=StakeholderReport.Kind.DAY, day=day, source_key=key
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if stored is not None:
        return stored
    return report_day_build(utility=utility, day=day, now=now, key=key)


def report_day_build(
    *, utility: Utility, day: date, now: datetime, key: str | None = None
) -> StakeholderReport:
    """Compute every section of the day snapshot and store it with its building lines."""
    started = time.perf_counter()
    ctx = DayContext(utility=utility, day=day, now=now)
    for name, build in SECTIONS:
        ctx.data[name] = build(ctx)
    label = " ".join(
        part for part in (data_label(utility), SIMULATED_LABEL if ctx.simulated else "") if part
    )
    with transaction.atomic():
        report = StakeholderReport.objects.create(
            organization=utility.organization, utility=utility, kind=StakeholderReport.Kind.DAY,
            day=day, data=ctx.data, model_versions=ctx.versions,
            source_key=key or day_source_key(utility=utility, day=day, now=now),
            simulated=ctx.simulated, data_label=label, build_s=time.perf_counter() - started,
        )  # fmt: skip
        _lines_store(report, ctx.lines)
        StakeholderReport.objects.filter(pk=report.pk).update(build_s=time.perf_counter() - started)
    report.build_s = time.perf_counter() - started
    return report


LINE_COLUMNS = [
    "building_id", "owner_id", "events", "asked_kwh", "delivered_kwh", "cost_saved_usd",
    "carbon_saved_kg", "incentive_usd", "complied",
]  # fmt: skip
LINE_TYPES = ["int8", "int8", "int4", "float8", "float8", "float8", "float8", "float8", "int4"]


def _lines_store(report: StakeholderReport, lines: list[ReportBuildingLine]) -> None:
    """The snapshot's building lines in one binary COPY on PostgreSQL (a 100,000-building
    utility has one per building that took part: bulk_create spent seconds building SQL)."""
    bulk_insert(
        ReportBuildingLine,
        ["report_id", *LINE_COLUMNS],
        ["int8", *LINE_TYPES],
        ((report.pk, *(getattr(line, name) for name in LINE_COLUMNS)) for line in lines),
    )
