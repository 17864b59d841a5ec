from datetime import date, datetime

from forecasting.models import ForecastRun
from jobs.models import JobRun
from jobs.services import JobContext, job_create
from jobs.tasks import job_task
from stakeholders.models import Utility

from .models import DemandResponseEvent
from .services.events import event_propose_from_grid
from .services.planning import event_optimize
from .services.revisit import (
    day_of_call,
    days_due_for_a_call,
    event_revisit,
    events_due_for_revisit,
)
from .services.season import season_simulate
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


@job_task("optimization.revisit")
def revisit(context: JobContext) -> None:
    """Revisit an event's plan with the morning's readings: a new target, the plan made again;
    events proposed for HIGH hours next to its window are queued for planning, as the grid's."""
    event = DemandResponseEvent.objects.select_related("utility", "feeder").get(
        pk=context.params["event_id"]
    )
    with context.commit() as result:
        result.update(event_revisit(event=event))
        result["planning_job_ids"] = [
            job_create(kind="optimization.optimize", params={"event_id": pk}).pk
            for pk in result.get("proposed", [])
        ]


@job_task("optimization.revisit_due")
def revisit_due(context: JobContext) -> None:
    """The schedule's hourly call: a revisit job for each event due (events_due_for_revisit),
    and a day-of call for each utility's day without one (days_due_for_a_call) that has none
    queued, running or done yet (one that failed, say for want of the morning's readings, is
    tried again the next hour; one whose message was lost is the reconciler's to send again),
    each its own job so that one day without readings does not hold up another. params["now"]
    (ISO time) reads the schedule as of another moment."""
    now = datetime.fromisoformat(context.params["now"]) if "now" in context.params else None
    with context.commit() as result:
        result["queued"] = [
            job_create(kind="optimization.revisit", params={"event_id": event.pk}).pk
            for event in events_due_for_revisit(now=now)
        ]
        result["day_of_calls"] = []
        for utility, day in days_due_for_a_call(now=now):
            calls = JobRun.objects.filter(
                kind="optimization.day_of_call", params__utility_id=utility.pk,
                params__day=str(day),
            )  # fmt: skip
            if calls.exclude(status=JobRun.Status.FAILED).exists():
                continue
            params = {"utility_id": utility.pk, "day": str(day)}
            if now is not None:
                params["now"] = now.isoformat()
            result["day_of_calls"].append(
                job_create(kind="optimization.day_of_call", params=params).pk
            )
        context.counts["queued"] = len(result["queued"]) + len(result["day_of_calls"])


@job_task("optimization.day_of_call")
def day_of_call_job(context: JobContext) -> None:
    """A day without an event, checked with its morning's readings (day_of_call): an event for
    the hours left that reach HIGH, queued for planning."""
    utility = Utility.objects.get(pk=context.params["utility_id"])
    now = datetime.fromisoformat(context.params["now"]) if "now" in context.params else None
    with context.commit() as result:
        result.update(
            day_of_call(utility=utility, now=now, day=date.fromisoformat(context.params["day"]))
        )
        if result["event_id"] is not None:
            result["planning_job_id"] = job_create(
                kind="optimization.optimize", params={"event_id": result["event_id"]}
            ).pk


@job_task("optimization.verify")
def verify(context: JobContext) -> None:
    """Measure what each building delivered in an event and learn from it."""
    event = DemandResponseEvent.objects.select_related("utility").get(pk=context.params["event_id"])
    with context.commit() as result:
        result.update(event_verify(event=event))


@job_task("optimization.propose_from_grid")
def propose_from_grid(context: JobContext) -> None:
    """A forecast run is complete: propose an event where its P90 reaches HIGH
    (event_propose_from_grid) and queue its planning."""
    run = ForecastRun.objects.select_related("utility").get(pk=context.params["run_id"])
    with context.commit() as result:
        event = event_propose_from_grid(run=run)
        result["event_id"] = event.pk if event else None
        if event is not None:
            result["planning_job_id"] = job_create(
                kind="optimization.optimize", params={"event_id": event.pk}
            ).pk


@job_task("optimization.simulate_season")
def simulate_season(context: JobContext) -> None:
    """A simulated season on a synthetic utility (labelled synthetic), three strategies."""
    with context.commit() as result:
        run = season_simulate(
            buildings=int(context.params.get("buildings", 1000)),
            seed=int(context.params.get("seed", 3)),
            job=JobRun.objects.get(pk=context.job_id),
            progress=lambda pct, note: context.counts.update(stage=note),
        )
        result.update(
            season_run_id=run.pk, **{k: v for k, v in run.figures.items() if k != "calibration"}
        )
