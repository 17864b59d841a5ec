"""Reads of jobs for people and integrations, scoped to what the reader may see, and the
health of what runs them (database, broker, workers)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from energyrec.celery import app as celery_app
from stakeholders.selectors import sees_everything

from .models import JobRun

# A queued job no worker has claimed for this long says the workers are down or swamped.
WORKERS_STALLED_AFTER = timedelta(minutes=5)


def job_list(*, user) -> QuerySet[JobRun]:
    """The program team sees every job; anyone else the jobs they asked for (`is_staff` alone
    reaches no further)."""
    jobs = JobRun.objects.select_related("requested_by")
    if not user.is_authenticated:
        return jobs.none()
    if sees_everything(user):
        return jobs
    return jobs.filter(requested_by=user)


def job_get(*, user, job_id: int) -> JobRun | None:
    return job_list(user=user).filter(pk=job_id).first()


def health_checks() -> dict[str, str]:
    """The database answers a query and the broker accepts a connection: "ok", or "error:"
    and the exception's name. Never raises (what /healthz and the technical page show)."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # report any failure, never raise from a health check
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    return checks


def worker_activity(*, now: datetime | None = None) -> dict:
    """Whether workers are taking jobs, read from the job rows rather than a ping: how many
    wait and how long the oldest has waited, how many run, and the last job that finished.
    "stalled" when a job has waited longer than WORKERS_STALLED_AFTER, "idle" when none waits
    or runs, else "ok". Two queries."""
    now = now or timezone.now()
    rows = {
        row["status"]: row
        for row in JobRun.objects.filter(status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING])
        .values("status")
        .annotate(n=Count("id"), oldest=Min("queued_at"))
        .order_by()
    }
    last = (
        JobRun.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at", "-pk")
        .values("kind", "status", "finished_at")
        .first()
    )
    queued = rows.get(JobRun.Status.QUEUED, {"n": 0, "oldest": None})
    running = rows.get(JobRun.Status.RUNNING, {"n": 0})["n"]
    waited_s = (now - queued["oldest"]).total_seconds() if queued["oldest"] else None
    if waited_s is not None and waited_s > WORKERS_STALLED_AFTER.total_seconds():
        status = "stalled"
    elif queued["n"] == 0 and running == 0:
        status = "idle"
    else:
        status = "ok"
    return {
        "status": status, "queued": queued["n"], "running": running,
        "oldest_queued_s": waited_s, "last_finished": last,
        "stalled_after_s": WORKERS_STALLED_AFTER.total_seconds(),
    }  # fmt: skip
