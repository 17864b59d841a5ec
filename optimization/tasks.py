from jobs.services import JobContext
from jobs.tasks import job_task

from .models import DemandResponseEvent
from .services.planning import event_optimize
from .services.verification import event_verify


@job_task("optimization.optimize")
def optimize(context: JobContext) -> None:
    """Plan an event: choose buildings and depths, write their recommendations."""
    event = DemandResponseEvent.objects.select_related("utility").get(pk=context.params["event_id"])
    with context.commit() as result:
        run = event_optimize(event=event)
        result.update(
            optimization_run_id=run.pk, selected=run.selected, feasible=run.feasible,
            p_target_met=round(run.p_target_met, 4), solve_s=round(run.solve_s, 4),
        )  # fmt: skip
        context.counts.update(candidates=run.candidates, selected=run.selected)


@job_task("optimization.verify")
def verify(context: JobContext) -> None:
    """Measure what each building delivered in an event and learn from it."""
    event = DemandResponseEvent.objects.select_related("utility").get(pk=context.params["event_id"])
    with context.commit() as result:
        result.update(event_verify(event=event))
