"""A job is one run of a long piece of work (an import, a training, a forecast, an optimization),
executed by a Celery worker and recorded here from queued to its outcome."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JobRun(models.Model):
    Status = JobStatus

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    kind = models.CharField(max_length=100, help_text="The Celery task that runs it.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0-100.")
    progress_note = models.CharField(max_length=200, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="What it processed, by name.")
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(
        default=0, help_text="Deliveries to a worker; above 1 after a lost worker or a retry."
    )
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the last try.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="When the delivery running it last said it was alive."
    )
    sends = models.PositiveIntegerField(
        default=0, help_text="Messages handed to the broker for it: the first, and any sent again."
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When it was last sent.")
    send_error = models.CharField(
        max_length=300, blank=True, help_text="Why the last send failed (the broker unreachable)."
    )
    reconciled_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reconciler last sent it again or failed it."
    )
    reconciled = models.CharField(
        max_length=300, blank=True, help_text="Why the reconciler (or a person) last sent it again."
    )
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    peak_memory_mb = models.FloatField(
        null=True, blank=True, help_text="Peak resident memory of the worker process while it ran."
    )
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["status", "kind"]),
            models.Index(fields=["-queued_at"]),
            # The reconciler's reads: the jobs not finished.
            models.Index(
                fields=["status", "heartbeat_at"],
                name="jobrun_unfinished",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=100), name="jobrun_progress_0_100"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in JobStatus]),
                name="jobrun_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True)
                | Q(started_at__isnull=False, finished_at__gte=models.F("started_at")),
                name="jobrun_finished_after_started",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""), name="jobrun_failed_has_error"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
