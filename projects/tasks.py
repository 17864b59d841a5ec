from jobs.services import JobContext
from jobs.tasks import job_task

from .models import Program
from .services.kpis import kpis_measure_from_records


@job_task("projects.measure_kpis")
def measure_kpis(context: JobContext) -> None:
    """Measure every program's system KPIs from the records (scheduled daily)."""
    with context.commit() as result:
        measured = 0
        for program in Program.objects.all():
            measured += len(kpis_measure_from_records(program=program))
        context.counts["measurements"] = measured
        result["measurements"] = measured
