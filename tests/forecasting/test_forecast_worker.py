"""Training and a forecast run end to end on a real Celery worker, PostgreSQL and Redis."""

import time

import pytest
from django.db import transaction

from forecasting.models import BuildingForecast, ForecastModel, ForecastRun, GridStatusHour
from forecasting.services.forecasts import forecast_run_create
from jobs.models import JobRun
from jobs.services import job_create
from tests.forecasting.test_forecast_services import FORECAST_DAY, TINY_PARAMS, make_portfolio

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for(obj, condition, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        obj.refresh_from_db()
        if condition(obj):
            return obj
        time.sleep(0.2)
    raise AssertionError(f"{obj!r} did not get there in {timeout_s} s")


def test_worker_trains_a_model_then_forecasts_tomorrow(celery_worker):
    # given: a small utility with 90 days of readings
    utility, buildings = make_portfolio()
    # when: a worker trains its model
    with transaction.atomic():
        job = job_create(
            kind="forecasting.train", params={"utility_id": utility.pk, "config": TINY_PARAMS}
        )
    done = wait_for(job, lambda j: j.is_finished, timeout_s=120)
    # then: version 1 is registered and active
    assert done.status == JobRun.Status.SUCCEEDED, done.error
    assert done.progress == 100
    model = ForecastModel.objects.get(utility=utility)
    assert (model.version, model.status) == (1, ForecastModel.Status.ACTIVE)
    assert done.result["model_id"] == model.pk
    # when: a forecast run starts, the worker runs its chunk, then the aggregate it queues
    with transaction.atomic():
        run = forecast_run_create(utility=utility, day=FORECAST_DAY)
    run = wait_for(
        run,
        lambda r: (
            r.status != ForecastRun.Status.RUNNING
            or JobRun.objects.filter(status=JobRun.Status.FAILED).exists()
        ),
        timeout_s=120,
    )
    failed = JobRun.objects.filter(status=JobRun.Status.FAILED).values_list("kind", "error")
    assert not failed, list(failed)
    # then: every building is forecast by the model and the utility has 24 graded hours
    assert run.status == ForecastRun.Status.COMPLETE
    assert (run.model_id, run.chunks_done, run.buildings, run.flagged) == (model.pk, 1, 4, 0)
    assert set(BuildingForecast.objects.filter(run=run).values_list("method", flat=True)) == {
        BuildingForecast.Method.LSTM
    }
    assert GridStatusHour.objects.filter(run=run, feeder__isnull=True).count() == 24
    # and the DR side has judged the day (a NORMAL one, with no record of error: no event)
    judged = wait_for(
        JobRun.objects.get(kind="optimization.propose_from_grid"),
        lambda j: j.is_finished,
        timeout_s=60,
    )
    assert judged.status == JobRun.Status.SUCCEEDED, judged.error
    assert judged.params == {"run_id": run.pk}
    assert judged.result["event_id"] is None
    assert set(JobRun.objects.values_list("kind", "status")) == {
        ("forecasting.train", "succeeded"),
        ("forecasting.forecast_chunk", "succeeded"),
        ("forecasting.forecast_aggregate", "succeeded"),
        ("optimization.propose_from_grid", "succeeded"),
    }
