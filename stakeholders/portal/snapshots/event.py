"""An event's snapshot: its window, plan, answers, history and outcome, computed once for
each state the event passes through."""

from __future__ import annotations

import hashlib
import time

from django.db.models import Max

from optimization.models import DemandResponseEvent, EventStatus, Recommendation
from optimization.selectors import answer_counts, verified_asks

from ..models import StakeholderReport
from .base import SIMULATED_LABEL, data_label, local_today
from .events import event_figures


def event_source_key(event: DemandResponseEvent) -> str:
    latest = event.recommendations.aggregate(answered=Max("responded_at"), n=Max("pk"))
    parts = [
        event.pk, event.status, event.target_kw, event.delivered_kw, event.p_target_met,
        event.transitions.aggregate(m=Max("pk"))["m"],
        event.optimization_runs.aggregate(m=Max("pk"))["m"],
        str(latest["answered"]), latest["n"],
    ]  # fmt: skip
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def report_event(*, event: DemandResponseEvent) -> StakeholderReport:
    """The event's current snapshot: stored while the event is unchanged, else made anew."""
    key = event_source_key(event)
    stored = (
        StakeholderReport.objects.filter(event=event, source_key=key)
        .order_by("-created_at", "-pk")
        .first()
    )
    if stored is not None:
        return stored
    started = time.perf_counter()
    counts = answer_counts(event_ids=[event.pk])[event.pk]
    figures = event_figures(event, counts)
    run = event.optimization_runs.order_by("-created_at", "-pk").first()
    if run is not None:
        figures["plan"] = {
            "run": run.pk, "solver": run.solver, "candidates": run.candidates,
            "selected": run.selected, "feasible": run.feasible, "gap_pct": run.gap_pct,
            "objective_usd": run.objective_usd, "solve_s": run.solve_s,
            "at": run.created_at.isoformat(),
        }  # fmt: skip
    if event.status == EventStatus.VERIFIED:
        asks = verified_asks(utility=event.utility, event_ids=[event.pk])
        mine = asks.event_id == event.pk
        settled = asks.settled()
        figures.update(
            delivered_kwh=float(settled.delivered_kwh[mine].sum()),
            incentive_usd=float(settled.incentive_usd[mine].sum()),
            cost_saved_usd=float(settled.cost_saved_usd[mine].sum()),
            carbon_saved_kg=float(settled.carbon_saved_kg[mine].sum()),
            complied=int(asks.complied[mine].sum()), verified_asks=int(mine.sum()),
        )  # fmt: skip
    figures["history"] = [
        {"at": t.at.isoformat(), "from": t.get_from_status_display(), "to": t.get_to_status_display(),
         "by": t.by.username if t.by_id else "the system", "note": t.note}
        for t in event.transitions.select_related("by").order_by("at", "pk")
    ]  # fmt: skip
    versions = {"optimization_run": run.pk if run else None}
    model = (
        Recommendation.objects.filter(event=event, compliance_model_version__isnull=False)
        .values_list("compliance_model_version", flat=True)
        .first()
    )
    if model is not None:
        versions["compliance_model"] = model
    label = " ".join(
        part for part in (data_label(event.utility), SIMULATED_LABEL if event.simulated else "")
        if part
    )  # fmt: skip
    return StakeholderReport.objects.create(
        organization=event.utility.organization, utility=event.utility,
        kind=StakeholderReport.Kind.EVENT, event=event,
        day=local_today(event.utility, event.starts_at), data={"event": figures},
        model_versions=versions, source_key=key, simulated=event.simulated, data_label=label,
        build_s=time.perf_counter() - started,
    )  # fmt: skip
