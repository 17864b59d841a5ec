"""The reconciler and what it relies on: sends that never fail a caller, heartbeats, claims that
leave a live delivery alone, retries that cover minutes (jobs.reconciler, jobs.services)."""

import socket
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.test import override_settings
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from forecasting.models import ForecastRun
from forecasting.services.forecasts import forecast_runs_reconcile
from jobs import services
from jobs.models import JobRun
from jobs.reconciler import job_reconcile, unclaimed_after_s
from jobs.services import job_claim, job_create, job_execute
from jobs.tasks import JOB_TASKS, retry_countdown
from tests.factories import UtilityFactory
from tests.jobs_testapp import tasks as _testapp_tasks  # noqa: F401 -- registers the kinds
from tests.jobs_testapp.models import JobMark

pytestmark = pytest.mark.django_db

write_marks = JOB_TASKS["testapp.write_marks"]


@pytest.fixture
def sent(monkeypatch):
    """The broker, recorded: every message handed to it (kind, job id)."""
    messages = []
    monkeypatch.setattr(
        services.current_app, "send_task", lambda kind, args: messages.append((kind, args[0]))
    )
    return messages


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(kind, args):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(services.current_app, "send_task", refuse)


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def test_a_job_created_while_the_broker_is_down_is_queued_and_the_caller_gets_it(
    broker_down, django_capture_on_commit_callbacks
):
    # when: a job is created and its transaction commits with the broker out of reach
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(kind="testapp.write_marks", params={"marks": 1})
    # then: no error reaches the caller; the job is queued, its failed send recorded
    job.refresh_from_db()
    assert (job.status, job.sends, job.sent_at) == ("queued", 0, None)
    assert "Connection refused" in job.send_error


def test_the_reconciler_sends_a_job_that_never_reached_the_broker(sent):
    job = JobRun.objects.create(kind="testapp.write_marks")
    JobRun.objects.filter(pk=job.pk).update(queued_at=ago(seconds=30), send_error="down")
    done = job_reconcile()
    assert done["sent"] == 1
    assert sent == [("testapp.write_marks", job.pk)]
    job.refresh_from_db()
    assert (job.sends, job.send_error) == (1, "")
    assert "never reached the broker" in job.reconciled


@override_settings(JOB_UNCLAIMED_AFTER_S=120)
def test_a_sent_job_left_unclaimed_is_sent_again_less_often_each_time(sent):
    job = JobRun.objects.create(kind="testapp.write_marks")
    # given: sent once, 90 s ago: still on its way
    JobRun.objects.filter(pk=job.pk).update(sends=1, sent_at=ago(seconds=90))
    assert job_reconcile()["sent_again"] == 0
    # 150 s ago: lost (a broker restart emptied its queue); sent again
    JobRun.objects.filter(pk=job.pk).update(sent_at=ago(seconds=150))
    assert job_reconcile()["sent_again"] == 1
    # a second time only after twice as long
    assert unclaimed_after_s(2) == 240
    JobRun.objects.filter(pk=job.pk).update(sent_at=ago(seconds=200), reconciled_at=ago(hours=1))
    assert job_reconcile()["sent_again"] == 0
    JobRun.objects.filter(pk=job.pk).update(sent_at=ago(seconds=250))
    assert job_reconcile()["sent_again"] == 1
    assert len(sent) == 2


@override_settings(JOB_STALE_AFTER_S=60, JOB_MAX_ATTEMPTS=3)
def test_a_running_job_whose_worker_stopped_beating_is_sent_again_then_failed(sent):
    job = JobRun.objects.create(kind="testapp.write_marks")
    JobRun.objects.filter(pk=job.pk).update(
        status="running", attempts=1, worker="gone-host:41", started_at=ago(minutes=5),
        heartbeat_at=ago(seconds=30),
    )  # fmt: skip
    # a beat 30 s old: alive
    assert job_reconcile()["resumed"] == 0
    # 90 s old: lost with its worker; sent again, once per round window
    JobRun.objects.filter(pk=job.pk).update(heartbeat_at=ago(seconds=90))
    assert job_reconcile()["resumed"] == 1
    assert job_reconcile()["resumed"] == 0
    job.refresh_from_db()
    assert "gone-host:41 stopped answering 90 s ago" in job.reconciled
    # deliveries spent: failed, with the reason
    JobRun.objects.filter(pk=job.pk).update(attempts=3, reconciled_at=None)
    assert job_reconcile()["failed_lost"] == 1
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("Gave up after 3 deliveries: the worker running it (gone-host:41)")
    assert len(sent) == 1


def test_a_delivery_leaves_a_job_held_by_a_live_worker_alone():
    job = JobRun.objects.create(kind="testapp.write_marks", params={"marks": 2})
    # another host's delivery beat a moment ago
    JobRun.objects.filter(pk=job.pk).update(
        status="running", attempts=1, worker="other-host:7", heartbeat_at=timezone.now(),
        started_at=timezone.now(),
    )  # fmt: skip
    assert job_claim(job_id=job.pk) is None
    # a process of this host that no longer exists: taken over at once
    JobRun.objects.filter(pk=job.pk).update(worker=f"{socket.gethostname()}:999999")
    done = job_execute(job_id=job.pk, work=write_marks)
    assert (done.status, done.attempts) == ("succeeded", 2)
    assert JobMark.objects.filter(job=job).count() == 2


def test_retries_back_off_from_the_floor_to_the_ceiling_and_cover_minutes(settings):
    settings.JOB_RETRY_FLOOR_S, settings.JOB_RETRY_CEILING_S, settings.JOB_RETRY_MAX = 5, 120, 12
    waits = [retry_countdown(n) for n in range(settings.JOB_RETRY_MAX)]
    assert all(5 <= wait <= 120 for wait in waits)
    assert waits[-1] >= 90  # at the ceiling, less its jitter
    assert sum(waits) > 10 * 60


def forecast_run(**changes) -> ForecastRun:
    utility = UtilityFactory()
    return ForecastRun.objects.create(
        utility=utility, day=timezone.now().date(), chunks_total=2, **changes
    )


def chunk(run, status):
    return JobRun.objects.create(
        kind="forecasting.forecast_chunk", params={"run_id": run.pk}, status=status,
        started_at=timezone.now(), finished_at=timezone.now(),
        error="" if status != "failed" else "Gave up after 8 deliveries",
    )  # fmt: skip


def test_a_forecast_run_whose_chunks_ended_gets_its_aggregate_or_fails(sent):
    # given: both chunks done, but the last one's aggregate job was never recorded
    run = forecast_run(chunks_done=2)
    chunk(run, "succeeded"), chunk(run, "succeeded")
    # when / then: the aggregate is queued, once
    assert forecast_runs_reconcile(timezone.now()) == {"runs_failed": 0, "runs_aggregated": 1}
    assert forecast_runs_reconcile(timezone.now())["runs_aggregated"] == 0
    assert JobRun.objects.filter(kind="forecasting.forecast_aggregate").count() == 1
    # given: a run one of whose chunks failed for good
    broken = forecast_run(chunks_done=1)
    chunk(broken, "succeeded"), chunk(broken, "failed")
    assert forecast_runs_reconcile(timezone.now())["runs_failed"] == 1
    broken.refresh_from_db()
    assert broken.status == ForecastRun.Status.FAILED


def test_the_admin_shows_stuck_jobs_and_sends_one_again_by_hand(client, staff_user, sent):
    stuck = JobRun.objects.create(kind="testapp.write_marks")
    JobRun.objects.filter(pk=stuck.pk).update(sends=1, sent_at=ago(hours=2))
    fresh = JobRun.objects.create(kind="testapp.write_marks")
    JobRun.objects.filter(pk=fresh.pk).update(sends=1, sent_at=timezone.now())
    client.force_login(staff_user)
    page = client.get("/admin/jobs/jobrun/?delivery=stuck")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [stuck]
    answer = client.post(
        "/admin/jobs/jobrun/",
        {"action": "send_again", "_selected_action": [stuck.pk]},
        follow=True,
    )
    assert f"Sent job #{stuck.pk} (testapp.write_marks) again." in answer.content.decode()
    stuck.refresh_from_db()
    assert stuck.sends == 2
    assert stuck.reconciled == "sent again by hand by staff"
    assert sent == [("testapp.write_marks", stuck.pk)]
    assert site.is_registered(JobRun)
