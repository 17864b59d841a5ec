"""The reconciler: one way, for every job kind, to get back what a broker restart, a lost worker
or an unreachable database dropped. Run by celery beat every JOB_RECONCILE_EVERY_S and once at
each worker's start (jobs.tasks).

- A queued job never sent (the broker was down when it was created) is sent.
- A queued job sent JOB_UNCLAIMED_AFTER_S ago and not claimed is sent again (its message was
  lost with the broker's queue).
- A running job whose heartbeat is JOB_STALE_AFTER_S old lost its worker: it is sent again
  while its deliveries are under JOB_MAX_ATTEMPTS, failed with the reason once they are spent.
- Each app's own step (RECONCILE_STEPS) then finishes what is made of several jobs (a forecast
  run whose chunks have all ended).

A second delivery is harmless: the claim protocol (jobs.services) makes it do nothing where
the job has finished or is held by a live delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import JobRun
from .services import job_fail, job_resend

logger = logging.getLogger(__name__)

# Never-sent jobs younger than this may still be on their way (the creating transaction's
# on_commit send).
NEVER_SENT_GRACE_S = 5

# Each app's step: (now) -> {what it did: how many}. Registered at import by the app's tasks.
RECONCILE_STEPS: list[Callable[[datetime], dict[str, int]]] = []


def reconcile_step(step: Callable[[datetime], dict[str, int]]):
    """Register an app's own reconciling step (a decorator)."""
    RECONCILE_STEPS.append(step)
    return step


def _ago(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)


def unclaimed_after_s(sends: int) -> float:
    """How long a sent job may wait unclaimed before it is sent again: JOB_UNCLAIMED_AFTER_S,
    doubling with each send (to 32 x): a job waiting its turn behind long ones in a busy queue
    is not sent again every round."""
    return settings.JOB_UNCLAIMED_AFTER_S * 2 ** min(max(sends - 1, 0), 5)


def unclaimed(now: datetime) -> Q:
    """Queued jobs no worker has taken: never sent, or sent JOB_UNCLAIMED_AFTER_S ago."""
    return Q(status=JobRun.Status.QUEUED) & (
        Q(sent_at__isnull=True, queued_at__lt=_ago(now, NEVER_SENT_GRACE_S))
        | Q(sent_at__lt=_ago(now, settings.JOB_UNCLAIMED_AFTER_S))
    )


def lost(now: datetime) -> Q:
    """Running jobs whose delivery stopped beating JOB_STALE_AFTER_S ago."""
    stale = _ago(now, settings.JOB_STALE_AFTER_S)
    return Q(status=JobRun.Status.RUNNING) & (
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    )


def stuck(now: datetime) -> Q:
    """Jobs that need the reconciler (what the admin's "stuck" filter shows)."""
    return unclaimed(now) | lost(now)


def lost_jobs(now: datetime) -> tuple[list[JobRun], list[JobRun]]:
    """(queued jobs whose message is missing, running jobs whose worker is lost), oldest first;
    none that was sent again in the last JOB_UNCLAIMED_AFTER_S (that message may still come)."""
    recent = _ago(now, settings.JOB_UNCLAIMED_AFTER_S)
    unfinished = JobRun.objects.exclude(reconciled_at__gte=recent).order_by("queued_at")
    queued = [
        job
        for job in unfinished.filter(unclaimed(now))
        if job.sent_at is None or job.sent_at < _ago(now, unclaimed_after_s(job.sends))
    ]
    return queued, list(unfinished.filter(lost(now)))


def job_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """One round: what was sent again, failed, or finished, by what."""
    now = now or timezone.now()
    done = {"sent": 0, "sent_again": 0, "resumed": 0, "failed_lost": 0, "send_failed": 0}
    queued, running = lost_jobs(now)
    for job in queued:
        if job.sent_at is None:
            reason = "never reached the broker (it was out of reach); sent"
            key = "sent"
        else:
            waited = (now - job.sent_at).total_seconds()
            reason = (
                f"queued {waited:.0f} s after it was sent without a worker taking it; sent again"
            )
            key = "sent_again"
        done[key if job_resend(job=job, reason=reason, now=now) else "send_failed"] += 1
    for job in running:
        beat = job.heartbeat_at or job.started_at
        silent = (now - beat).total_seconds()
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            if job_fail(
                job_id=job.pk,
                error=(
                    f"Gave up after {job.attempts} deliveries: the worker running it "
                    f"({job.worker}) stopped answering {silent:.0f} s ago, and so had the ones "
                    "before."
                ),
            ):
                done["failed_lost"] += 1
            continue
        reason = f"its worker {job.worker} stopped answering {silent:.0f} s ago; sent again"
        done["resumed" if job_resend(job=job, reason=reason, now=now) else "send_failed"] += 1
    for step in RECONCILE_STEPS:
        for key, count in step(now).items():
            done[key] = done.get(key, 0) + count
    if any(done.values()):
        logger.info("reconciled: %s", {k: v for k, v in done.items() if v})
    return done
