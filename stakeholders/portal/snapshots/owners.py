"""What taking part earned, season to date: every verified ask settled once (VerifiedAsks
.settled, optimization.mv's one rule) and summed per building (the report's lines, which owners,
energy managers and facility managers read), per owner by month, and for the utility as a whole
with each verified event's cut against its day's forecast peak (what the executive reads).

Sums are numpy group-bys (np.unique + np.bincount): no Python loop per ask, one object per
building line only."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from forecasting.models import GridStatusHour
from forecasting.selectors import latest_runs
from optimization.models import DemandResponseEvent

from ..models import ReportBuildingLine
from .base import DayContext, section

SETTLED = ("delivered_kwh", "asked_kwh", "incentive_usd", "cost_saved_usd", "carbon_saved_kg")


def _month_keys(first: datetime, last: datetime) -> list[str]:
    """Every month from `first`'s to `last`'s, as 'YYYY-MM' (local dates given)."""
    keys, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def _rounded(values: np.ndarray, digits: int = 3) -> list[float]:
    return [round(float(v), digits) for v in values]


def _day_peaks(ctx: DayContext, days: set) -> dict:
    """Each local day's forecast peak (P50 kW, the day's latest complete run, its own hours
    only): two queries, whatever the number of days."""
    runs = latest_runs(utility=ctx.utility, days=sorted(days))
    if not runs:
        return {}
    day_of_run = {run.pk: day for day, run in runs.items()}
    peaks: dict = {}
    rows = GridStatusHour.objects.filter(run_id__in=day_of_run, feeder__isnull=True).values_list(
        "run_id", "starts_at", "forecast_kw"
    )
    for run_id, starts_at, forecast_kw in rows:
        day = day_of_run[run_id]
        if starts_at.astimezone(ctx.tz).date() == day:
            peaks[day] = max(peaks.get(day, 0.0), forecast_kw)
    return peaks


@section("owners")
def owners(ctx: DayContext) -> dict:
    asks = ctx.verified()
    if not asks.building_id.size:
        return {"months": [], "by_owner": {}, "utility": None}
    settled = asks.settled()

    # per building: its report line
    buildings, b_of_ask = np.unique(asks.building_id, return_inverse=True)
    n = buildings.size
    sums = {
        name: np.bincount(b_of_ask, weights=getattr(settled, name), minlength=n) for name in SETTLED
    }
    events_n = np.bincount(b_of_ask, minlength=n)
    complied_n = np.bincount(b_of_ask, weights=asks.complied.astype(float), minlength=n)
    owner_of = np.zeros(n, dtype=np.int64)
    owner_of[b_of_ask] = asks.owner_id
    ctx.lines.extend(
        ReportBuildingLine(
            building_id=b,
            owner_id=o,
            events=e,
            asked_kwh=a,
            delivered_kwh=d,
            cost_saved_usd=c,
            carbon_saved_kg=k,
            incentive_usd=i,
            complied=round(m),
        )  # fmt: skip
        for b, o, e, a, d, c, k, i, m in zip(
            buildings.tolist(),
            owner_of.tolist(),
            events_n.tolist(),
            sums["asked_kwh"].tolist(),
            sums["delivered_kwh"].tolist(),
            sums["cost_saved_usd"].tolist(),
            sums["carbon_saved_kg"].tolist(),
            sums["incentive_usd"].tolist(),
            complied_n.tolist(),
            strict=True,
        )  # fmt: skip
    )

    # per event: its local month, target and the verified cut
    event_ids, e_of_ask = np.unique(asks.event_id, return_inverse=True)
    meta = {
        row[0]: row
        for row in DemandResponseEvent.objects.filter(pk__in=event_ids.tolist()).values_list(
            "pk", "starts_at", "ends_at", "target_kw", "target_met", "delivered_kw"
        )
    }
    starts = [meta[pk][1].astimezone(ctx.tz) for pk in event_ids.tolist()]
    months = _month_keys(min(starts), max(starts))
    month_of_event = np.array([months.index(f"{s.year:04d}-{s.month:02d}") for s in starts])
    m_of_ask = month_of_event[e_of_ask]
    n_months = len(months)

    # per owner: events taken part in (distinct), buildings, and kWh by month
    owner_ids, o_of_ask = np.unique(asks.owner_id, return_inverse=True)
    n_owners = owner_ids.size
    cell = o_of_ask * n_months + m_of_ask

    def by_owner_month(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=n_owners * n_months).reshape(
            n_owners, n_months
        )

    delivered_om = by_owner_month(settled.delivered_kwh)
    asked_om = by_owner_month(settled.asked_kwh)
    owner_events = np.bincount(
        np.unique(o_of_ask * event_ids.size + e_of_ask) // event_ids.size, minlength=n_owners
    )
    owner_buildings = np.bincount(np.searchsorted(owner_ids, owner_of), minlength=n_owners)
    by_owner = {
        str(owner): {
            "events": int(owner_events[j]),
            "buildings": int(owner_buildings[j]),
            "delivered_kwh": _rounded(delivered_om[j]),
            "asked_kwh": _rounded(asked_om[j]),
        }
        for j, owner in enumerate(owner_ids.tolist())
    }

    # the utility: totals, and each event's cut against its day's forecast peak
    peaks = _day_peaks(ctx, {s.date() for s in starts})
    delivered_kw_of_event = np.bincount(
        e_of_ask, weights=asks.delivered_kw, minlength=event_ids.size
    )
    events = []
    for j, pk in enumerate(event_ids.tolist()):
        _, starts_at, ends_at, target_kw, target_met, delivered_kw = meta[pk]
        kw = float(delivered_kw if delivered_kw is not None else delivered_kw_of_event[j])
        peak = peaks.get(starts[j].date())
        events.append(
            {
                "id": pk, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                "target_kw": target_kw, "target_met": target_met, "delivered_kw": kw,
                "day_peak_kw": peak, "cut_pct": 100.0 * kw / peak if peak else None,
            }
        )  # fmt: skip
    events.sort(key=lambda e: e["starts_at"])
    largest = max(events, key=lambda e: e["delivered_kw"])
    with_peak = [e["cut_pct"] for e in events if e["cut_pct"] is not None]
    utility = {
        **{name: float(getattr(settled, name).sum()) for name in SETTLED},
        "verified_events": len(events),
        "targets_met": sum(e["target_met"] is True for e in events),
        "asks": int(asks.building_id.size),
        "complied": int(asks.complied.sum()),
        "buildings": int(n),
        "owners": int(n_owners),
        "first_event_at": events[0]["starts_at"],
        "last_event_at": events[-1]["starts_at"],
        "delivered_kwh_by_month": _rounded(delivered_om.sum(axis=0)),
        "asked_kwh_by_month": _rounded(asked_om.sum(axis=0)),
        "peak_cut": {
            "largest": largest,
            "mean_kw": float(np.mean([e["delivered_kw"] for e in events])),
            "mean_pct": float(np.mean(with_peak)) if with_peak else None,
            "events_with_peak": len(with_peak),
        },
        "events": events,
    }
    return {"months": months, "by_owner": by_owner, "utility": utility}
