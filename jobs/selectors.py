"""Reads of jobs for people and integrations, scoped to what the reader may see."""

from django.db.models import QuerySet

from .models import JobRun


def job_list(*, user) -> QuerySet[JobRun]:
    """Staff see every job; anyone else sees the jobs they asked for."""
    jobs = JobRun.objects.select_related("requested_by")
    if not user.is_authenticated:
        return jobs.none()
    if user.is_staff:
        return jobs
    return jobs.filter(requested_by=user)


def job_get(*, user, job_id: int) -> JobRun | None:
    return job_list(user=user).filter(pk=job_id).first()
