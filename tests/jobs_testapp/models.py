from django.db import models


class JobMark(models.Model):
    """One effect of a test job: counting them shows whether work was done exactly once."""

    job = models.ForeignKey("jobs.JobRun", on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField()
    attempt = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="jobmark_once")]

    def __str__(self) -> str:
        return f"mark {self.seq} of job #{self.job_id}"
