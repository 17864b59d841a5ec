import time

from jobs.services import JobContext
from jobs.tasks import job_task

from .models import JobMark


@job_task("testapp.write_marks")
def write_marks(context: JobContext) -> None:
    """Work in `steps` slow steps, then write `marks` rows together with the job's success."""
    steps = int(context.params.get("steps", 4))
    step_s = float(context.params.get("step_s", 0.0))
    marks = int(context.params.get("marks", 3))
    fail_at = context.params.get("fail_at")
    for step in range(steps):
        if fail_at is not None and step == int(fail_at):
            raise ValueError(f"step {step} failed as asked")
        time.sleep(step_s)
        context.progress(100 * (step + 1) / (steps + 1), note=f"step {step + 1} of {steps}")
    context.counts["marks"] = marks
    with context.commit() as result:
        JobMark.objects.bulk_create(
            JobMark(job_id=context.job_id, seq=seq, attempt=context.attempt) for seq in range(marks)
        )
        result["marks"] = marks
