"""The directory's jobs: a large buildings file checked and imported by a worker."""

from jobs.services import JobContext
from jobs.tasks import job_task

from .csvimport import csv_import_work
from .models import Organization, Utility
from .services import buildings_csv_import


@job_task("stakeholders.import_buildings")
def import_buildings(context: JobContext) -> None:
    """Check and import an uploaded buildings CSV: every row, or none."""
    utility = Utility.objects.get(pk=context.params["utility_id"])
    owner = Organization.objects.get(pk=context.params["owner_id"])
    csv_import_work(
        context,
        lambda stream, progress: buildings_csv_import(
            utility=utility, owner=owner, stream=stream, progress=progress
        ),
    )
