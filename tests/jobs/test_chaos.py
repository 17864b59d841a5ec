"""Chaos: jobs through a real worker while its pool processes are killed, the whole worker is
killed and another started, its Redis restarts (its queues lost) with jobs submitted while it
is down, and the database refuses connections for longer than the old retries lasted (about
30 s). Afterwards every job has succeeded or failed with its error, none is stuck, and every
job's effects were written exactly once (tests/jobs/chaos.py)."""

import time

import pytest
from django.db import connection

from tests.jobs import chaos

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Longer than the retries before the reconciler (5 retries, under 30 s in all).
DATABASE_OUTAGE_S = 35


@pytest.fixture
def faults(tmp_path, django_db_blocker):
    from conftest import require_integration

    require_integration()
    redis, proxy, worker = chaos.faults(tmp_path, connection.settings_dict)
    try:
        with chaos.broker(redis.url):
            worker.start()
            yield redis, proxy, worker
    finally:
        worker.stop()
        proxy.stop()
        redis.stop()


def test_jobs_survive_killed_processes_a_lost_worker_a_broker_restart_and_a_database_outage(
    faults, settings
):
    redis, proxy, worker = faults
    settings.JOB_UNCLAIMED_AFTER_S = 6
    jobs = chaos.submit(8, steps=10)
    # pool processes killed mid-job, twice
    kills = 0
    for _ in range(4):
        kills += chaos.kill_running(jobs)
        time.sleep(1.0)
        if kills == 2:
            break
    assert kills == 2, "no job ran to be killed"
    # the whole worker lost mid-job; another one started
    assert chaos.wait_running(jobs)
    worker.kill()
    time.sleep(1.0)
    worker.start()
    # Redis restarted (its queues lost), with jobs submitted while it is down
    jobs += chaos.submit(4, steps=10)
    assert chaos.wait_running(jobs)
    redis.stop()
    down_started = time.monotonic()
    during = chaos.submit(
        3, steps=4, step_s=0.3
    )  # the requests do not fail: queued, their sends recorded as failed
    assert time.monotonic() - down_started < 20
    jobs += during
    time.sleep(3)
    redis.start()
    # the database refuses the worker's connections (and drops the open ones)
    jobs += chaos.submit(4, steps=10)
    assert chaos.wait_running(jobs)
    proxy.down()
    time.sleep(DATABASE_OUTAGE_S)
    proxy.up()
    # then: every job ends, each with its effects once
    waited = chaos.wait_finished(jobs, timeout_s=180)
    outcome = chaos.tally(jobs)
    log = worker.log_path.read_text()[-4000:]
    assert outcome.stuck == 0, f"stuck after {waited:.0f} s:\n{log}"
    assert outcome.duplicated == 0
    assert outcome.missing_effects == 0
    assert outcome.succeeded + outcome.failed == len(jobs) == 19
    assert all(outcome.failed_errors), outcome.failed_errors
    # and the jobs sent while Redis was down were sent later by the reconciler
    from jobs.models import JobRun

    for job in JobRun.objects.filter(pk__in=during):
        assert job.sends >= 1
        assert "never reached the broker" in job.reconciled
