"""Creating jobs and moving them through queued -> running -> succeeded / failed.

Every transition is a conditional UPDATE whose row count decides what happens next, so that a
task delivered twice (a lost worker, a broker redelivery, a retry) does its work once:

- a delivery claims the job by raising `attempts`; the claim with the highest number owns it;
- the work's writes and the move to succeeded commit in one transaction, which first locks the
  row and checks that its claim still owns it. A superseded try rolls its writes back;
- a running delivery beats (heartbeat_at) every JOB_HEARTBEAT_S; a delivery finds the job held
  only while that beat is fresh and its process alive, so a second message for a live job
  does nothing, and one for a lost worker's job takes it over.

Nothing is left to a message alone: a job is committed before it is sent, a send that fails
is recorded and left to the reconciler (job_reconcile), which also sends again what a broker
restart or a lost worker dropped, and finishes runs made of parts (RECONCILE_STEPS).

Progress is written in autocommit outside that transaction, so pages see it while the job runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psutil
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError

from .models import JobRun

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 8000

# Worth a retry with backoff: the database or the broker was briefly out of reach.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    BrokerError,
    RedisConnectionError,
    ConnectionError,
)


class JobError(Exception):
    """A job cannot be created or run as asked."""


class JobRefused(Exception):
    """The job's input cannot be used as given. Its message and `details` are for people: the
    job fails with them and without a traceback."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class JobSuperseded(Exception):
    """Another delivery of the same job owns it now; this one must leave no trace."""


def job_create(
    *,
    kind: str,
    params: dict[str, Any] | None = None,
    requested_by=None,
) -> JobRun:
    """Record a job and hand it to a worker once the surrounding transaction commits. A send
    that fails (the broker out of reach) is recorded on the job and left to the reconciler:
    the caller gets the queued job either way."""
    if kind not in current_app.tasks:
        raise JobError(f"Unknown job kind {kind!r}.")
    job = JobRun.objects.create(kind=kind, params=params or {}, requested_by=requested_by)
    transaction.on_commit(lambda: job_send(job_id=job.pk, kind=kind))
    return job


# What a send that does not reach the broker raises (kombu wraps most; sockets raise the rest).
SEND_ERRORS: tuple[type[Exception], ...] = (BrokerError, RedisConnectionError, OSError)


def job_send(*, job_id: int, kind: str) -> bool:
    """Hand a job's message to the broker and count the send; False (logged, recorded on the
    job where the database answers) where the broker cannot be reached."""
    try:
        current_app.send_task(kind, args=[job_id])
    except SEND_ERRORS as exc:
        logger.warning("job #%s (%s) not sent, left to the reconciler: %s", job_id, kind, exc)
        _record(job_id, send_error=f"{type(exc).__name__}: {exc}"[:300])
        return False
    _record(job_id, sends=F("sends") + 1, sent_at=timezone.now(), send_error="")
    return True


def _record(job_id: int, **changes) -> None:
    """Best effort: a note on the job that must not fail the caller (the database may be as
    unreachable as the broker)."""
    try:
        JobRun.objects.filter(pk=job_id).update(**changes)
    except TRANSIENT_ERRORS as exc:
        logger.warning("job #%s: could not record %s: %s", job_id, sorted(changes), exc)


def job_rerun(*, job: JobRun, requested_by=None) -> JobRun:
    """A new job with the same kind and parameters as a finished one."""
    if not job.is_finished:
        raise JobError(f"Job #{job.pk} is still {job.status}; wait for it to finish.")
    return job_create(kind=job.kind, params=job.params, requested_by=requested_by)


def job_resend(*, job: JobRun, reason: str, now: datetime | None = None) -> bool:
    """Send an unfinished job's message again (the reconciler, or a person in the admin), at
    most once per JOB_UNCLAIMED_AFTER_S: the claim protocol makes a second delivery harmless,
    this keeps rounds of the reconciler from piling messages up. False where it was sent again
    too recently, has finished, or the send failed."""
    now = now or timezone.now()
    recent = now - timedelta(seconds=settings.JOB_UNCLAIMED_AFTER_S)
    taken = JobRun.objects.filter(
        Q(reconciled_at__isnull=True) | Q(reconciled_at__lt=recent),
        pk=job.pk, status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING],
    ).update(reconciled_at=now, reconciled=reason[:300])  # fmt: skip
    return bool(taken) and job_send(job_id=job.pk, kind=job.kind)


class _Watch:
    """While a job runs, a thread samples the process's resident memory and, every
    JOB_HEARTBEAT_S, writes the delivery's heartbeat (on its own database connection; a
    failed beat is logged and tried at the next one)."""

    def __init__(self, job_id: int, attempt: int, interval_s: float = 0.05) -> None:
        self._process = psutil.Process()
        self._interval_s = interval_s
        self._job_id, self._attempt = job_id, attempt
        self._stop = threading.Event()
        self.peak_bytes = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        beat_at = time.monotonic() + settings.JOB_HEARTBEAT_S
        try:
            while not self._stop.wait(self._interval_s):
                self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
                if time.monotonic() >= beat_at:
                    beat_at = time.monotonic() + settings.JOB_HEARTBEAT_S
                    self._beat()
        finally:
            connection.close()  # this thread's own

    def _beat(self) -> None:
        try:
            JobRun.objects.filter(
                pk=self._job_id, status=JobRun.Status.RUNNING, attempts=self._attempt
            ).update(heartbeat_at=timezone.now())
        except Exception as exc:  # noqa: BLE001 - a beat must never end the sampling
            logger.warning("job #%s: heartbeat not written: %s", self._job_id, exc)
            connection.close()

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)


@dataclass
class JobContext:
    """What a job's work function gets: its parameters, and ways to report and to commit."""

    job_id: int
    kind: str
    attempt: int
    params: dict[str, Any]
    requested_by_id: int | None
    started: float
    memory: _Watch
    counts: dict[str, Any] = field(default_factory=dict)
    committed: bool = False
    _last_progress_at: float = 0.0

    def progress(self, percent: float, *, note: str = "", **counts: Any) -> None:
        """Record progress (0-100) and counts; written at most a few times a second."""
        self.counts.update(counts)
        now = time.monotonic()
        if now - self._last_progress_at < 0.25 and percent < 100:
            return
        self._last_progress_at = now
        percent = int(max(0, min(99, percent)))  # 100 is for a committed outcome only
        owned = JobRun.objects.filter(
            pk=self.job_id, status=JobRun.Status.RUNNING, attempts=self.attempt
        ).update(progress=percent, progress_note=note[:200], counts=self.counts)
        if not owned:
            raise JobSuperseded(f"job #{self.job_id} attempt {self.attempt} was superseded")

    @contextmanager
    def commit(self, *, result: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Write the job's effects and its success in one transaction, or nothing at all.

        Yields the result dict, which the block may fill in before it ends.
        """
        if self.committed:
            raise JobError("A job commits its outcome once.")
        outcome: dict[str, Any] = dict(result or {})
        with transaction.atomic():
            owned = (
                JobRun.objects.select_for_update()
                .filter(pk=self.job_id, status=JobRun.Status.RUNNING, attempts=self.attempt)
                .exists()
            )
            if not owned:
                raise JobSuperseded(f"job #{self.job_id} attempt {self.attempt} was superseded")
            yield outcome
            _finish(self, status=JobRun.Status.SUCCEEDED, result=outcome)
        self.committed = True


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _finish(context: JobContext, *, status: str, result=None, error: str = "") -> bool:
    finished_at = timezone.now()
    changes = {
        "status": status,
        "finished_at": finished_at,
        "duration_s": round(time.monotonic() - context.started, 3),
        "peak_memory_mb": max(context.memory.peak_mb, psutil.Process().memory_info().rss / 2**20),
        "counts": context.counts,
        "error": error[:ERROR_MAX_CHARS],
    }
    if status == JobRun.Status.SUCCEEDED:
        changes.update(progress=100, progress_note="", result=result or {})
    elif result:
        changes["result"] = result
    return bool(
        JobRun.objects.filter(
            pk=context.job_id, status=JobRun.Status.RUNNING, attempts=context.attempt
        ).update(**changes)
    )


def job_claim(*, job_id: int, worker: str | None = None) -> tuple[JobRun, int] | None:
    """Take a queued job, or one whose earlier delivery was lost, for this delivery.

    Returns the job and this delivery's attempt number, or None when there is nothing to do:
    the job is finished, or gone. A job delivered more than JOB_MAX_ATTEMPTS times is failed.
    """
    with transaction.atomic():
        job = JobRun.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("job #%s no longer exists; nothing to run", job_id)
            return None
        if job.is_finished:
            logger.info("job #%s is already %s; this delivery does nothing", job_id, job.status)
            return None
        if job.status == JobRun.Status.RUNNING and _held(job):
            logger.info("job #%s is held by a live delivery (%s); this one does nothing",
                        job_id, job.worker)  # fmt: skip
            return None
        attempt = job.attempts + 1
        if attempt > settings.JOB_MAX_ATTEMPTS:
            now = timezone.now()
            JobRun.objects.filter(pk=job_id).update(
                status=JobRun.Status.FAILED,
                finished_at=now,
                started_at=job.started_at or now,
                error=(
                    f"Gave up after {job.attempts} deliveries: the worker running it was lost or "
                    "it ran past its time limit each time."
                ),
            )
            return None
        JobRun.objects.filter(pk=job_id).update(
            status=JobRun.Status.RUNNING,
            attempts=attempt,
            worker=worker or _worker_name(),
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            progress=0,
            progress_note="",
            error="",
        )
    job.refresh_from_db()
    return job, attempt


def _held(job: JobRun) -> bool:
    """Whether a running job's delivery is still at it: its heartbeat is fresh and, where it
    ran in another process of this host, that process is alive (a pool process killed a
    moment ago is known dead at once; another host's, once its beat is stale)."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    if job.heartbeat_at is None or job.heartbeat_at < stale:
        return False
    host, _, pid = job.worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return int(pid) != os.getpid() and _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def job_release(*, job_id: int, attempt: int) -> None:
    """Best effort, after a transient error: the delivery lets go of its job (no heartbeat)
    so that its retry, on whichever process, may claim it at once."""
    try:
        JobRun.objects.filter(pk=job_id, status=JobRun.Status.RUNNING, attempts=attempt).update(
            heartbeat_at=None
        )
    except TRANSIENT_ERRORS as exc:
        logger.warning("job #%s: not released (%s); its beat will go stale", job_id, exc)


def job_fail(*, job_id: int, error: str) -> bool:
    """Mark a job failed whichever delivery holds it (used when a task gives up retrying)."""
    now = timezone.now()
    job = JobRun.objects.filter(pk=job_id).only("started_at").first()
    if job is None:
        return False
    return bool(
        JobRun.objects.filter(
            pk=job_id, status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING]
        ).update(
            status=JobRun.Status.FAILED,
            started_at=job.started_at or now,
            finished_at=now,
            error=(error or "failed")[:ERROR_MAX_CHARS],
        )
    )


def job_execute(
    *,
    job_id: int,
    work: Callable[[JobContext], dict[str, Any] | None],
    worker: str | None = None,
) -> JobRun | None:
    """Run `work` for a job and record its outcome; the heart of every job task.

    `work` gets a JobContext. It writes its effects inside `context.commit()`, or returns a
    result dict when it has nothing to write. An exception fails the job with its message and
    traceback; a transient error (database or broker unreachable) is re-raised for a retry.
    """
    claimed = job_claim(job_id=job_id, worker=worker)
    if claimed is None:
        return None
    job, attempt = claimed
    with _Watch(job.pk, attempt) as memory:
        context = JobContext(
            job_id=job.pk,
            kind=job.kind,
            attempt=attempt,
            params=dict(job.params),
            requested_by_id=job.requested_by_id,
            started=time.monotonic(),
            memory=memory,
            counts=dict(job.counts or {}),
        )
        try:
            result = work(context)
            if not context.committed:
                with context.commit(result=result or {}):
                    pass
        except JobSuperseded:
            logger.info("job #%s attempt %s was superseded by a later delivery", job_id, attempt)
            return None
        except TRANSIENT_ERRORS:
            job_release(job_id=job_id, attempt=attempt)
            raise
        except JobRefused as exc:
            _finish(context, status=JobRun.Status.FAILED, error=str(exc), result=exc.details)
            logger.info("job #%s (%s) refused its input: %s", job_id, job.kind, exc)
        except Exception as exc:
            _finish(context, status=JobRun.Status.FAILED, error=_describe(exc))
            logger.exception("job #%s (%s) failed", job_id, job.kind)
    return JobRun.objects.get(pk=job_id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"Ran past its time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s."
    message = str(exc) or type(exc).__name__
    trace = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {message}\n\n{trace}"
