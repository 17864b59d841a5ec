"""The event loop with its two jobs run by a real Celery worker (PostgreSQL, Redis)."""

import time

import numpy as np
import pytest
from django.db import transaction

from forecasting.services.readings import meter_days_upsert
from jobs.models import JobRun
from jobs.services import job_create
from optimization.models import EventStatus
from optimization.services.events import (
    event_activate,
    event_complete,
    event_dispatch,
    event_propose,
)
from tests.optimization.conftest import (
    EVENT_DAY,
    daily_profile,
    event_window,
    morning_of_the_event,
    need_on_the_day,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def run_job(kind: str, **params) -> JobRun:
    with transaction.atomic():
        job = job_create(kind=kind, params=params)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{kind} did not finish: {job.status}")


def test_an_event_is_planned_and_verified_by_the_worker(celery_worker, grid):
    starts, ends = event_window()
    event = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=ends, target_kw=20.0, simulated=True
    )
    planned = run_job("optimization.optimize", event_id=event.pk)
    assert planned.status == "succeeded", planned.error
    assert planned.result["feasible"] is True
    assert planned.result["p_target_met"] >= 0.95
    event_dispatch(event=event)
    event_activate(event=event)
    event_complete(event=event)
    for rec in event.recommendations.filter(status="pending").select_related("building"):
        load = daily_profile(rec.building.curtailable_kw).copy()
        load[15:18] -= rec.requested_kw
        meter_days_upsert(
            building_ids=np.array([rec.building_id]),
            days=[EVENT_DAY],
            kwh=load[None],
            origin="uploaded",
        )
    verified = run_job("optimization.verify", event_id=event.pk)
    assert verified.status == "succeeded", verified.error
    event.refresh_from_db()
    assert event.status == EventStatus.VERIFIED
    assert event.target_met is True
    assert verified.result["verified"] == planned.result["selected"]


def test_a_plan_is_revisited_by_the_worker(celery_worker, grid):
    need_on_the_day(grid, 4.0)
    starts, ends = event_window()
    event = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=ends, target_kw=20.0, simulated=True
    )
    assert run_job("optimization.optimize", event_id=event.pk).status == "succeeded"
    morning_of_the_event(grid, forecast_high_by=0.08)
    revisited = run_job("optimization.revisit", event_id=event.pk)
    assert revisited.status == "succeeded", revisited.error
    assert revisited.result["target_kw"] == pytest.approx(4.0, abs=0.01)
    assert revisited.result["withdrawn"] > 0
    event.refresh_from_db()
    assert event.target_kw == pytest.approx(4.0, abs=0.01)
