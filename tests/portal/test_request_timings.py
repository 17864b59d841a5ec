"""Request timings are kept two weeks, pruned by a daily job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import JobRun
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS
from stakeholders.portal.models import RequestTiming

pytestmark = pytest.mark.django_db


def _timing(age: timedelta) -> RequestTiming:
    return RequestTiming.objects.create(
        route="portal/operator/", method="GET", status=200, duration_ms=12.0,
        at=timezone.now() - age,
    )  # fmt: skip


def test_the_daily_job_prunes_timings_older_than_two_weeks():
    old, recent = _timing(timedelta(days=15)), _timing(timedelta(days=13))
    job = JobRun.objects.create(kind="portal.prune_request_timings")
    done = job_execute(job_id=job.pk, work=JOB_TASKS["portal.prune_request_timings"])
    assert done.status == JobRun.Status.SUCCEEDED, done.error
    assert done.result == {"deleted": 1}
    assert list(RequestTiming.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not RequestTiming.objects.filter(pk=old.pk).exists()
