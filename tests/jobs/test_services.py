import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, OperationalError, transaction
from django.test import override_settings

from jobs.models import JobRun
from jobs.services import JobError, job_claim, job_create, job_execute, job_fail, job_rerun
from jobs.tasks import JOB_TASKS
from tests.jobs_testapp import tasks as _testapp_tasks  # noqa: F401 -- registers the kinds
from tests.jobs_testapp.models import JobMark

pytestmark = pytest.mark.django_db

write_marks = JOB_TASKS["testapp.write_marks"]


def make_job(**params) -> JobRun:
    return JobRun.objects.create(kind="testapp.write_marks", params=params)


def test_create_enqueues_after_commit(django_capture_on_commit_callbacks, staff_user):
    with django_capture_on_commit_callbacks() as callbacks:
        job = job_create(kind="testapp.write_marks", params={"marks": 2}, requested_by=staff_user)
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.progress, job.attempts) == ("queued", 0, 0)
    assert job.requested_by == staff_user


def test_create_rejects_unknown_kind_and_saves_nothing():
    with pytest.raises(JobError, match="Unknown job kind 'no.such'"):
        job_create(kind="no.such")
    assert not JobRun.objects.exists()


def test_execute_records_success_progress_and_effects():
    job = make_job(steps=3, marks=4)
    done = job_execute(job_id=job.pk, work=write_marks, worker="test:1")
    assert done.status == "succeeded"
    assert done.progress == 100
    assert done.result == {"marks": 4}
    assert done.counts == {"marks": 4}
    assert done.attempts == 1
    assert done.worker == "test:1"
    assert done.duration_s >= 0
    assert done.peak_memory_mb > 10
    assert done.finished_at >= done.started_at
    assert JobMark.objects.filter(job=job).count() == 4


def test_failure_records_error_and_leaves_nothing_half_done():
    job = make_job(steps=3, marks=4, fail_at=2)
    done = job_execute(job_id=job.pk, work=write_marks)
    assert done.status == "failed"
    assert done.error.startswith("ValueError: step 2 failed as asked")
    assert "Traceback" in done.error
    assert done.progress < 100
    assert done.finished_at is not None
    assert not JobMark.objects.filter(job=job).exists()


def test_second_delivery_of_a_finished_job_does_nothing():
    job = make_job(marks=2)
    job_execute(job_id=job.pk, work=write_marks)
    assert job_execute(job_id=job.pk, work=write_marks) is None
    job.refresh_from_db()
    assert job.attempts == 1
    assert JobMark.objects.filter(job=job).count() == 2


def test_superseded_delivery_rolls_back_and_later_one_does_the_work_once():
    job = make_job(steps=2, marks=3)

    def work_interrupted_by_redelivery(context):
        # given: while this delivery computes, the broker hands the job to a second worker
        job_claim(job_id=context.job_id, worker="other:2")
        return write_marks(context)

    # when: the first delivery reaches its commit
    assert job_execute(job_id=job.pk, work=work_interrupted_by_redelivery) is None
    # then: it wrote nothing, and the job is held by the second claim
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker) == ("running", 2, "other:2")
    assert not JobMark.objects.filter(job=job).exists()
    # and: a further delivery while the second one beats does nothing
    assert job_execute(job_id=job.pk, work=write_marks) is None
    assert JobRun.objects.get(pk=job.pk).attempts == 2
    # and: once that one too is lost (its beat stale), the next one does the work exactly once
    JobRun.objects.filter(pk=job.pk).update(heartbeat_at=None)
    done = job_execute(job_id=job.pk, work=write_marks)
    assert (done.status, done.attempts) == ("succeeded", 3)
    assert list(JobMark.objects.filter(job=job).values_list("seq", flat=True)) == [0, 1, 2]


@override_settings(JOB_MAX_ATTEMPTS=2)
def test_job_lost_too_often_is_failed_with_a_reason():
    job = make_job()
    JobRun.objects.filter(pk=job.pk).update(status="running", attempts=2)
    assert job_execute(job_id=job.pk, work=write_marks) is None
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("Gave up after 2 deliveries")


def test_transient_error_is_raised_for_retry_and_job_stays_running():
    job = make_job()

    def database_blip(context):
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        job_execute(job_id=job.pk, work=database_blip)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("running", 1)
    # the retry claims it again and finishes it
    assert job_execute(job_id=job.pk, work=write_marks).status == "succeeded"


def test_time_limit_fails_the_job_with_a_clear_message():
    job = make_job()

    def too_slow(context):
        raise SoftTimeLimitExceeded()

    done = job_execute(job_id=job.pk, work=too_slow)
    assert done.status == "failed"
    assert done.error.startswith("Ran past its time limit of")


def test_give_up_after_retries_marks_failed():
    job = make_job()
    job_claim(job_id=job.pk)
    assert job_fail(job_id=job.pk, error="Gave up after 5 retries: OperationalError: down")
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == "Gave up after 5 retries: OperationalError: down"


def test_rerun_copies_kind_and_params_of_a_finished_job(staff_user):
    job = make_job(marks=5)
    with pytest.raises(JobError, match="still queued"):
        job_rerun(job=job)
    job_execute(job_id=job.pk, work=write_marks)
    job.refresh_from_db()
    again = job_rerun(job=job, requested_by=staff_user)
    assert (again.kind, again.params, again.status) == (job.kind, {"marks": 5}, "queued")


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"progress": 101}, "jobrun_progress_0_100"),
        ({"status": "lost"}, "jobrun_status_valid"),
        ({"status": "failed", "error": ""}, "jobrun_failed_has_error"),
    ],
)
def test_constraints_hold_in_the_database(changes, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        JobRun.objects.create(kind="testapp.write_marks", **changes)
