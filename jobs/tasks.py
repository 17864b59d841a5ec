"""One way to turn a job's work function into a Celery task.

    @job_task("forecasting.train")
    def forecast_train(context: JobContext) -> dict:
        return services.forecast_model_train(...)

The task takes the job id only (JSON), claims the job, runs the work through `job_execute`,
and, when the database or broker is out of reach, tries again after a backoff that covers
minutes (retry_countdown). A job whose retries are spent is failed; one whose failure cannot
be recorded, or whose retry cannot be sent, is left to the reconciler (jobs.reconciler).
"""

import logging
import random
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings

from .models import JobRun
from .reconciler import job_reconcile
from .services import (
    SEND_ERRORS,
    TRANSIENT_ERRORS,
    JobContext,
    JobError,
    job_create,
    job_execute,
    job_fail,
)

logger = logging.getLogger(__name__)


def retry_countdown(retries: int) -> float:
    """Seconds before retry number `retries` + 1: JOB_RETRY_FLOOR_S doubling up to
    JOB_RETRY_CEILING_S, less up to a quarter at random (so that the jobs that met one outage
    do not all come back in the same second)."""
    base = min(settings.JOB_RETRY_CEILING_S, settings.JOB_RETRY_FLOOR_S * 2**retries)
    return max(settings.JOB_RETRY_FLOOR_S, base * random.uniform(0.75, 1.0))


class JobTask(Task):
    """Marks the job failed when the task gives up on retries; where that cannot be recorded
    (or the retry could not be sent), the reconciler takes the job up."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        if not args:
            return
        if self.request.retries < settings.JOB_RETRY_MAX:
            # Its retry could not be sent (the broker is out of reach too).
            logger.warning("job #%s: retry not sent (%s); left to the reconciler", args[0], exc)
            return
        try:
            job_fail(
                job_id=args[0],
                error=(
                    f"Gave up after {settings.JOB_RETRY_MAX} retries over some minutes: "
                    f"{type(exc).__name__}: {exc}"
                ),
            )
        except TRANSIENT_ERRORS as failed:
            logger.warning(
                "job #%s: failure not recorded (%s); left to the reconciler", args[0], failed
            )


JOB_TASKS: dict[str, Callable[[JobContext], Any]] = {}


def job_task(name: str) -> Callable[[Callable[[JobContext], Any]], Task]:
    """Register `work` as the job kind `name`, run by a Celery task of the same name."""

    def decorate(work: Callable[[JobContext], Any]) -> Task:
        JOB_TASKS[name] = work

        @shared_task(name=name, base=JobTask, bind=True)
        def run(self, job_id: int) -> str | None:
            try:
                job = job_execute(job_id=job_id, work=work)
            except TRANSIENT_ERRORS as exc:
                raise self.retry(
                    exc=exc,
                    countdown=retry_countdown(self.request.retries),
                    max_retries=settings.JOB_RETRY_MAX,
                ) from exc
            return job.status if job else None

        run.__doc__ = work.__doc__
        return run

    return decorate


def jobs_run_here(*, after_pk: int, worker: str) -> list[JobRun]:
    """Run every job queued since `after_pk`, in this process and in order, until none is left
    (a job may queue the next): what a command does for a person at a terminal. Their messages
    reach a worker too, which finds them claimed or done. JobError names a job that failed."""
    done = []
    while job := JobRun.objects.filter(pk__gt=after_pk, status=JobRun.Status.QUEUED).first():
        finished = job_execute(job_id=job.pk, work=JOB_TASKS[job.kind], worker=worker)
        if finished is None or finished.status != JobRun.Status.SUCCEEDED:
            reason = (finished.error if finished else "claimed elsewhere").split("\n\n")[0]
            raise JobError(f"Job #{job.pk} ({job.kind}) did not succeed: {reason[:500]}")
        done.append(finished)
        after_pk = job.pk
    return done


@shared_task(name="jobs.enqueue", bind=True)
def enqueue(self, kind: str, params: dict | None = None) -> int:
    """What the scheduler (celery beat) sends: it records a job of `kind` and queues it."""
    try:
        return job_create(kind=kind, params=params or {}).pk
    except TRANSIENT_ERRORS as exc:
        raise self.retry(
            exc=exc,
            countdown=retry_countdown(self.request.retries),
            max_retries=settings.JOB_RETRY_MAX,
        ) from exc


@shared_task(name="jobs.reconcile", ignore_result=True)
def reconcile() -> dict[str, int] | None:
    """The reconciler's round (beat, and each worker's start). Not a job: a round that meets the
    database out of reach does nothing, and the next one comes a minute later."""
    try:
        return job_reconcile()
    except TRANSIENT_ERRORS as exc:
        logger.warning("reconcile: database or broker out of reach (%s); next round", exc)
        return None


@worker_ready.connect
def reconcile_at_start(sender=None, **kwargs) -> None:
    """A worker that starts (after a crash, say) reconciles first."""
    try:
        reconcile.delay()
    except SEND_ERRORS as exc:
        logger.warning("reconcile at start not sent: %s", exc)
