"""The demo program: the original plan's five sprints, milestones with tasks, deliverables,
risks and KPIs. Dates run from the day it is created; nothing is marked done that is not."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from stakeholders.models import Organization, Utility
from stakeholders.services import organization_ensure

from ..models import (
    KPI,
    Deliverable,
    KPIMeasurement,
    Milestone,
    Program,
    Risk,
    Sprint,
    Task,
    Team,
    UserStory,
)
from .kpis import kpis_measure_from_records
from .records import delivery_record_save

PROGRAM_NAME = "Demand-response recommendation program"
PROGRAM_TEAM = "energyrec program team"
SPRINT_DAYS = 14

# (goal, capacity points, stories as (title, points, priority, team), milestone, tasks, deliverable)
SPRINTS = [
    (
        "Data pipeline and basic LSTM",
        34,
        [
            (
                "Import the CityLearn homes and their weather, price and carbon series",
                5,
                1,
                Team.DATA_SCIENCE,
            ),
            (
                "Upload buildings and hourly readings from CSV with row-level errors",
                5,
                1,
                Team.ENGINEERING,
            ),
            ("Store readings compactly and move them in bulk", 8, 1, Team.ENGINEERING),
            (
                "Train a global LSTM with P10/P50/P90 and compare with persistence baselines",
                13,
                1,
                Team.DATA_SCIENCE,
            ),
        ],
        "Forecast beats the 7-day mean on the real homes",
        [
            "Readings import with COPY",
            "Baselines: previous day, previous week, 7-day mean",
            "LSTM training job with progress",
            "Accuracy table per home and on the total",
        ],
        ("Forecasting engine and accuracy report", "LSTM, baselines and the day-ahead evaluation."),
    ),
    (
        "Compliance prediction and portfolio optimization",
        34,
        [
            ("Predict each building's compliance with a calibrated model", 8, 1, Team.DATA_SCIENCE),
            (
                "Choose buildings and depth to meet the target with probability 1-eps",
                13,
                1,
                Team.DATA_SCIENCE,
            ),
            ("Recommend actions with kWh, cost and carbon saved per building", 5, 2, Team.PRODUCT),
            ("Verify delivered kW against a 10-of-10 baseline", 8, 1, Team.DATA_SCIENCE),
        ],
        "100k buildings optimized in under a second",
        [
            "Compliance model with AUC and Brier score",
            "Structured solver and MILP reference",
            "Recommendation texts per action",
            "Measurement and verification job",
        ],
        ("Optimization engine", "Chance-constrained portfolio optimizer with its benchmark."),
    ),
    (
        "API and system integration",
        30,
        [
            (
                "Push readings and pull forecasts over REST with organization tokens",
                8,
                1,
                Team.ENGINEERING,
            ),
            ("Webhooks for CRITICAL grid status and new recommendations", 5, 2, Team.ENGINEERING),
            ("Portals for operators, owners, facility managers and tenants", 13, 1, Team.PRODUCT),
        ],
        "Integrations live with the pilot utility",
        ["OpenAPI schema and token auth", "Webhook delivery with retries", "Portal pages per role"],
        ("REST API and portals", "Role portals and the integration API with its schema."),
    ),
    (
        "Performance optimization and testing",
        30,
        [
            ("Full cycle for 100k buildings in under 30 s", 8, 1, Team.ENGINEERING),
            ("Portal and API p95 under 100 ms at 32 clients", 5, 2, Team.ENGINEERING),
            ("Security review: tenancy, throttling, hashed tokens", 5, 1, Team.SECURITY),
        ],
        "Performance and security targets met",
        [
            "Chunked forecast jobs across workers",
            "Load test of portal and API",
            "Tenancy access matrix",
        ],
        (
            "Performance and security test report",
            "Benchmarks and the access matrix, with evidence.",
        ),
    ),
    (
        "Production deployment and monitoring",
        26,
        [
            ("Deploy on PostgreSQL and Redis with scaled workers", 5, 1, Team.OPERATIONS),
            ("KPIs fed by the engine and an executive report", 5, 2, Team.PRODUCT),
            ("Alerting on failed jobs and stale forecasts", 3, 2, Team.OPERATIONS),
        ],
        "Production launch",
        [
            "Production settings pass check --deploy",
            "Daily forecast schedule",
            "Runbook and on-call",
        ],
        ("Production release", "The system running for the utility, with monitoring."),
    ),
]

RISKS = [
    (
        "Forecast and optimization latency misses the dispatch window",
        Risk.Nature.TECHNICAL,
        Risk.Category.PERFORMANCE,
        3,
        4,
        "Benchmarks for every engine in CI's reach; vectorised solver; chunked jobs.",
        "Dispatch from the last good plan and widen the notice lead time.",
        "Engineering lead",
    ),
    (
        "Memory use grows past the workers at 100k buildings",
        Risk.Nature.TECHNICAL,
        Risk.Category.PERFORMANCE,
        2,
        4,
        "Readings stored per building-day and streamed in chunks; peak memory recorded per job.",
        "Split jobs into smaller chunks and add workers.",
        "Engineering lead",
    ),
    (
        "The portfolio does not scale to the utility's full customer base",
        Risk.Nature.TECHNICAL,
        Risk.Category.SCALABILITY,
        2,
        5,
        "Celery groups by chunks of buildings; PostgreSQL as the one source of truth.",
        "Optimize per feeder and combine.",
        "Architect",
    ),
    (
        "Utility systems (ADMS, meter data) are hard to integrate",
        Risk.Nature.TECHNICAL,
        Risk.Category.INTEGRATION,
        4,
        3,
        "REST API with an OpenAPI schema, CSV paths and webhooks from the first pilot.",
        "Batch file exchange until the API link is certified.",
        "Integration lead",
    ),
    (
        "Meter data has gaps, spikes and late arrivals",
        Risk.Nature.TECHNICAL,
        Risk.Category.DATA_QUALITY,
        4,
        3,
        "Row-level validation on import; a documented gap and spike rule; baseline fallback.",
        "Flag affected buildings and exclude them from verification.",
        "Data science lead",
    ),
    (
        "Utilities are slow to adopt automated DR recommendations",
        Risk.Nature.BUSINESS,
        Risk.Category.ADOPTION,
        3,
        5,
        "Pilot with measured results; operator stays in the loop on every dispatch.",
        "Offer the forecasts and reports alone as a first product.",
        "Product lead",
    ),
    (
        "DR market or tariff rules change",
        Risk.Nature.BUSINESS,
        Risk.Category.REGULATORY,
        2,
        4,
        "Incentives and baselines as configuration; watch regulatory filings.",
        "Re-parameterize baselines and incentives per program.",
        "Program manager",
    ),
    (
        "A competitor bundles DR targeting into a metering platform",
        Risk.Nature.BUSINESS,
        Risk.Category.COMPETITIVE,
        3,
        3,
        "Differentiate on verified results and per-stakeholder communications.",
        "Partner with a metering vendor.",
        "Executive sponsor",
    ),
]

# (name, category, unit, target, direction, metric key or "" for hand-kept)
KPIS = [
    (
        "Median day-ahead CV(RMSE) per building",
        KPI.Category.TECHNICAL,
        "%",
        69.8,
        KPI.Direction.LOWER,
        "forecast-median-cvrmse-pct",
    ),
    (
        "CV(RMSE) of the portfolio total",
        KPI.Category.TECHNICAL,
        "%",
        25.4,
        KPI.Direction.LOWER,
        "forecast-total-cvrmse-pct",
    ),
    (
        "Optimization time for 100k buildings",
        KPI.Category.TECHNICAL,
        "s",
        1.0,
        KPI.Direction.LOWER,
        "optimize-100k-s",
    ),
    (
        "Job failure rate, last 30 days",
        KPI.Category.TECHNICAL,
        "%",
        2.0,
        KPI.Direction.LOWER,
        "job-failure-rate-pct",
    ),
    (
        "Buildings enrolled",
        KPI.Category.BUSINESS,
        "buildings",
        17,
        KPI.Direction.HIGHER,
        "buildings-enrolled",
    ),
    (
        "Events whose verified reduction met the target",
        KPI.Category.BUSINESS,
        "%",
        95.0,
        KPI.Direction.HIGHER,
        "events-target-met-pct",
    ),
    (
        "Peak reduction over the season",
        KPI.Category.BUSINESS,
        "%",
        5.4,
        KPI.Direction.HIGHER,
        "season-peak-reduction-pct",
    ),
    (
        "Milestones on time",
        KPI.Category.PROJECT,
        "%",
        90.0,
        KPI.Direction.HIGHER,
        "milestones-on-time-pct",
    ),
    (
        "Sprint velocity",
        KPI.Category.TEAM,
        "points",
        30,
        KPI.Direction.HIGHER,
        "sprint-velocity-points",
    ),
    (
        "Stakeholder satisfaction (survey)",
        KPI.Category.BUSINESS,
        "score of 5",
        4.0,
        KPI.Direction.HIGHER,
        "",
    ),
]


@transaction.atomic
def demo_program_create(*, starts_on: date, user=None, utility: Utility | None = None) -> Program:
    """Create the demo program once, as `utility`'s program (its executives read it); a second
    call returns the one that exists, linked to `utility` where given."""
    existing = Program.objects.filter(name=PROGRAM_NAME).first()
    if existing:
        if utility is not None and existing.utility_id != utility.pk:
            existing.utility = utility
            existing = delivery_record_save(instance=existing, user=user)
        return existing
    team = organization_ensure(name=PROGRAM_TEAM, kind=Organization.Kind.PROGRAM_TEAM)
    program = delivery_record_save(
        instance=Program(
            organization=team,
            utility=utility,
            name=PROGRAM_NAME,
            description="Forecast, target, dispatch and verify demand response for the utility.",
            starts_on=starts_on,
            ends_on=starts_on + timedelta(days=SPRINT_DAYS * len(SPRINTS)),
        ),
        user=user,
    )
    for number, (goal, capacity, stories, milestone_name, tasks, deliverable) in enumerate(
        SPRINTS, 1
    ):
        begins = starts_on + timedelta(days=SPRINT_DAYS * (number - 1))
        ends = begins + timedelta(days=SPRINT_DAYS - 1)
        sprint = delivery_record_save(
            instance=Sprint(
                program=program, number=number, goal=goal, starts_on=begins, ends_on=ends,
                capacity_points=capacity,
                status=Sprint.Status.ACTIVE if number == 1 else Sprint.Status.PLANNED,
            ),
            user=user,
        )  # fmt: skip
        for title, points, priority, story_team in stories:
            delivery_record_save(
                instance=UserStory(
                    program=program, sprint=sprint, title=title, points=points,
                    priority=priority, team=story_team,
                    status=UserStory.Status.TODO if number == 1 else UserStory.Status.BACKLOG,
                ),
                user=user,
            )  # fmt: skip
        milestone = delivery_record_save(
            instance=Milestone(
                program=program, sprint=sprint, name=milestone_name, target_date=ends
            ),
            user=user,
        )
        for title in tasks:
            delivery_record_save(instance=Task(milestone=milestone, title=title), user=user)
        delivery_record_save(
            instance=Deliverable(
                program=program, milestone=milestone, name=deliverable[0],
                description=deliverable[1], due_date=ends,
            ),
            user=user,
        )  # fmt: skip
    for title, nature, category, probability, impact, mitigation, contingency, owner in RISKS:
        delivery_record_save(
            instance=Risk(
                program=program, title=title, nature=nature, category=category,
                probability=probability, impact=impact, mitigation=mitigation,
                contingency=contingency, owner=owner,
                next_review=starts_on + timedelta(days=SPRINT_DAYS),
            ),
            user=user,
        )  # fmt: skip
    for name, category, unit, target, direction, metric_key in KPIS:
        delivery_record_save(
            instance=KPI(
                program=program, name=name, category=category, unit=unit, target=target,
                direction=direction, metric_key=metric_key,
            ),
            user=user,
        )  # fmt: skip
    return program


def demo_kpis_measure(*, program: Program) -> list[KPIMeasurement]:
    """Measure the program's system KPIs once a day: a second `make run` the same day adds no
    second measurement."""
    today = timezone.localdate()
    if KPIMeasurement.objects.filter(
        kpi__program=program, source=KPIMeasurement.Source.SYSTEM, measured_at__date=today
    ).exists():
        return []
    return kpis_measure_from_records(program=program)
