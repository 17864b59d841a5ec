"""The portal's jobs."""

from jobs.services import JobContext
from jobs.tasks import job_task

from .services import request_timings_prune


@job_task("portal.prune_request_timings")
def prune_request_timings(context: JobContext) -> None:
    """Keep the request timings table to what the technical report reads."""
    with context.commit() as result:
        result["deleted"] = request_timings_prune()
