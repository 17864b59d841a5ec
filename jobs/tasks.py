"""One way to turn a job's work function into a Celery task.

    @job_task("forecasting.train")
    def forecast_train(context: JobContext) -> dict:
        return services.forecast_model_train(...)

The task takes the job id only (JSON), claims the job, runs the work through `job_execute`,
and retries with backoff when the database or broker is briefly out of reach.
"""

from collections.abc import Callable
from typing import Any

from celery import Task, shared_task

from .services import TRANSIENT_ERRORS, JobContext, job_create, job_execute, job_fail

RETRY_MAX = 5
RETRY_BACKOFF_MAX_S = 300


class JobTask(Task):
    """Marks the job failed when the task gives up on retries."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        if args:
            job_fail(
                job_id=args[0],
                error=f"Gave up after {RETRY_MAX} retries: {type(exc).__name__}: {exc}",
            )


JOB_TASKS: dict[str, Callable[[JobContext], Any]] = {}


def job_task(name: str) -> Callable[[Callable[[JobContext], Any]], Task]:
    """Register `work` as the job kind `name`, run by a Celery task of the same name."""

    def decorate(work: Callable[[JobContext], Any]) -> Task:
        JOB_TASKS[name] = work

        @shared_task(
            name=name,
            base=JobTask,
            bind=True,
            autoretry_for=TRANSIENT_ERRORS,
            retry_backoff=True,
            retry_backoff_max=RETRY_BACKOFF_MAX_S,
            retry_jitter=True,
            max_retries=RETRY_MAX,
        )
        def run(self, job_id: int) -> str | None:
            job = job_execute(job_id=job_id, work=work)
            return job.status if job else None

        run.__doc__ = work.__doc__
        return run

    return decorate


@shared_task(
    name="jobs.enqueue", autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=RETRY_MAX
)
def enqueue(kind: str, params: dict | None = None) -> int:
    """What the scheduler (celery beat) sends: it records a job of `kind` and queues it."""
    return job_create(kind=kind, params=params or {}).pk
