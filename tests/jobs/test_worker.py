"""A real Celery worker process running jobs against PostgreSQL and Redis."""

import os
import signal
import time

import pytest
from django.db import transaction

from jobs.models import JobRun
from jobs.services import job_create
from tests.jobs_testapp.models import JobMark

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for(job: JobRun, condition, timeout_s: float = 60) -> JobRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if condition(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job #{job.pk} did not get there in {timeout_s} s: {job.status}")


def test_worker_runs_a_job_to_success(celery_worker):
    with transaction.atomic():
        job = job_create(kind="testapp.write_marks", params={"steps": 3, "step_s": 0.2, "marks": 2})
    done = wait_for(job, lambda j: j.is_finished)
    assert done.status == "succeeded", done.error
    assert done.progress == 100
    assert done.attempts == 1
    assert done.peak_memory_mb > 10
    assert JobMark.objects.filter(job=job).count() == 2


def test_worker_records_a_failure(celery_worker):
    with transaction.atomic():
        job = job_create(kind="testapp.write_marks", params={"steps": 3, "fail_at": 1})
    done = wait_for(job, lambda j: j.is_finished)
    assert done.status == "failed"
    assert "step 1 failed as asked" in done.error
    assert not JobMark.objects.filter(job=job).exists()


def test_job_killed_mid_way_is_redelivered_and_done_exactly_once(celery_worker):
    # given: a slow job that a worker process has started
    with transaction.atomic():
        job = job_create(
            kind="testapp.write_marks", params={"steps": 10, "step_s": 0.4, "marks": 5}
        )
    running = wait_for(job, lambda j: j.status == "running" and j.progress >= 9)
    child_pid = int(running.worker.rsplit(":", 1)[1])
    # when: that process dies without warning
    os.kill(child_pid, signal.SIGKILL)
    # then: the message comes back, a new process runs it again, and the work lands once
    done = wait_for(job, lambda j: j.is_finished, timeout_s=90)
    assert done.status == "succeeded", done.error
    assert done.attempts == 2
    assert int(done.worker.rsplit(":", 1)[1]) != child_pid
    marks = JobMark.objects.filter(job=job)
    assert marks.count() == 5
    assert set(marks.values_list("attempt", flat=True)) == {2}
