"""The utility's events around the day: those still open (with their plan and answers) and
those past (with what verification found and what it paid)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from optimization.models import EventStatus
from optimization.selectors import answer_counts, utility_events

from .base import DayContext, section

PAST_DAYS = 90  # past events shown: the last quarter


def event_figures(event, counts: dict) -> dict:
    """One event as the pages read it (figures as the services stored them)."""
    return {
        "id": event.pk, "status": event.status, "status_label": event.get_status_display(),
        "strain": event.strain, "source": event.get_source_display(),
        "feeder": event.feeder.name if event.feeder_id else None,
        "starts_at": event.starts_at.isoformat(), "ends_at": event.ends_at.isoformat(),
        "hours": event.duration_h, "target_kw": event.target_kw,
        "p_target_met": event.p_target_met, "expected_kw": event.expected_kw,
        "p10_kw": event.p10_kw, "delivered_kw": event.delivered_kw,
        "target_met": event.target_met, "simulated": event.simulated,
        "incentive_usd_per_kwh": event.incentive_usd_per_kwh,
        "comparison_group": event.comparison_group, **counts,
    }  # fmt: skip


@section("events")
def events(ctx: DayContext) -> dict:
    rows = list(utility_events(utility=ctx.utility, since=ctx.now - timedelta(days=PAST_DAYS)))
    counts = answer_counts(event_ids=[event.pk for event in rows])
    verified = ctx.verified()
    settled = verified.settled()
    open_statuses = {
        EventStatus.PROPOSED,
        EventStatus.OPTIMIZED,
        EventStatus.DISPATCHED,
        EventStatus.ACTIVE,
    }
    upcoming, past = [], []
    for event in rows:
        figures = event_figures(event, counts[event.pk])
        ctx.simulated = ctx.simulated or event.simulated
        if event.status == EventStatus.VERIFIED:
            mine = verified.event_id == event.pk
            figures.update(
                delivered_kwh=float(settled.delivered_kwh[mine].sum()),
                incentive_usd=float(settled.incentive_usd[mine].sum()),
                cost_saved_usd=float(settled.cost_saved_usd[mine].sum()),
                carbon_saved_kg=float(settled.carbon_saved_kg[mine].sum()),
                complied=int(verified.complied[mine].sum()), verified_asks=int(mine.sum()),
            )  # fmt: skip
        (upcoming if event.status in open_statuses else past).append(figures)
    past.sort(key=lambda figures: figures["starts_at"], reverse=True)
    done = [figures for figures in past if figures["status"] == EventStatus.VERIFIED]
    return {
        "open": upcoming,
        "past": past,
        "verified": len(done),
        "targets_met": sum(bool(figures["target_met"]) for figures in done),
        "delivered_kwh": float(np.sum([f["delivered_kwh"] for f in done])) if done else 0.0,
        "incentive_usd": float(np.sum([f["incentive_usd"] for f in done])) if done else 0.0,
        "past_days": PAST_DAYS,
    }
