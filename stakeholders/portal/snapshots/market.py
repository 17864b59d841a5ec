"""What the energy trader reads: the DR capacity each forecast hour still has (and what it is
expected to deliver), what DR has cost per MWh against the tariff and the price signal, and
the delivered MWh and cost of past events. Built on the grid and events sections."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from django.db.models import Avg, Count, F, Sum

from forecasting.models import MeterDay, SeriesDay
from forecasting.services.windows import series_window
from optimization.models import EventStatus, Recommendation
from stakeholders.localtime import slot_of
from stakeholders.models import Building

from .base import DayContext, section
from .grid import OUTLOOK_DAYS

OPEN_STATUSES = (
    EventStatus.PROPOSED,
    EventStatus.OPTIMIZED,
    EventStatus.DISPATCHED,
    EventStatus.ACTIVE,
)
# What counts towards a building's events of the month, as planning counts it (whatever
# became of the event: a cancelled one's asks were sent all the same).
ASKED = (Recommendation.Status.PENDING, Recommendation.Status.ACCEPTED)
TARIFF_DAYS = 7  # the tariff is weighted by the metered kWh of the last week


def _month_key(moment: datetime, ctx: DayContext) -> tuple[int, int]:
    local = moment.astimezone(ctx.tz)
    return local.year, local.month


def _month_bounds(key: tuple[int, int], ctx: DayContext) -> tuple[datetime, datetime]:
    year, month = key
    first = datetime(year, month, 1, tzinfo=ctx.tz)
    after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=ctx.tz)
    return first, after


def _capacity(ctx: DayContext, moments: list[datetime]) -> dict:
    """Per hour: the enrolled buildings with curtailable kW that are neither asked in an open
    event covering the hour nor at their monthly limit (asks pending or accepted in events
    starting that local month >= Building.max_events_per_month); their count and kW."""
    enrolled = list(
        Building.objects.filter(utility=ctx.utility, enrolled=True, curtailable_kw__gt=0)
        .order_by("pk")
        .values_list("pk", "curtailable_kw", "max_events_per_month")
    )
    ids = np.array([row[0] for row in enrolled], dtype=np.int64)
    kw = np.array([row[1] for row in enrolled], dtype=float)
    limit = np.array([row[2] for row in enrolled], dtype=np.int64)
    months = sorted({_month_key(m, ctx) for m in moments})
    at_limit: dict[tuple[int, int], np.ndarray] = {}
    for key in months:
        first, after = _month_bounds(key, ctx)
        counts = (
            Recommendation.objects.filter(
                event__utility=ctx.utility, status__in=ASKED,
                event__starts_at__gte=first, event__starts_at__lt=after,
            )
            .values("building_id").annotate(n=Count("id")).order_by()
            .values_list("building_id", "n")
        )  # fmt: skip
        n = np.zeros(ids.size, dtype=np.int64)
        rows = np.array(list(counts), dtype=np.int64).reshape(-1, 2)
        if rows.size and ids.size:
            position = np.searchsorted(ids, rows[:, 0])
            found = (position < ids.size) & (ids[np.minimum(position, ids.size - 1)] == rows[:, 0])
            n[position[found]] = rows[found, 1]
        at_limit[key] = n >= limit
    asked = {}
    if moments:
        rows = (
            Recommendation.objects.filter(
                event__utility=ctx.utility, event__status__in=OPEN_STATUSES, status__in=ASKED,
                event__ends_at__gt=moments[0], event__starts_at__lte=moments[-1],
            )
            .order_by()
            .values_list("event_id", "event__starts_at", "event__ends_at", "building_id")
        )  # fmt: skip
        for event_id, starts, ends, building in rows:
            entry = asked.setdefault(event_id, [starts, ends, []])
            entry[2].append(building)
    asked_masks = [
        (starts, ends, np.isin(ids, np.array(buildings, dtype=np.int64)))
        for starts, ends, buildings in asked.values()
    ]
    hours = []
    for moment in moments:
        busy = at_limit[_month_key(moment, ctx)].copy()
        limited = int(busy.sum())
        for starts, ends, mask in asked_masks:
            if starts <= moment < ends:
                busy |= mask
        free = ~busy
        hours.append(
            {"buildings": int(free.sum()), "kw": float(kw[free].sum()), "at_limit": limited,
             "asked": int((busy & ~at_limit[_month_key(moment, ctx)]).sum())}
        )  # fmt: skip
    return {
        "enrolled": int(ids.size),
        "enrolled_kw": float(kw.sum()),
        "hours": hours,
    }


def _tariff(ctx: DayContext) -> dict:
    """The utility's buildings' tariff: weighted by their metered kWh over the last
    TARIFF_DAYS whole days, and the plain mean over the buildings."""
    metered = MeterDay.objects.filter(
        building__utility=ctx.utility,
        day__gte=ctx.day - timedelta(days=TARIFF_DAYS),
        day__lt=ctx.day,
    ).aggregate(
        weighted=Sum(F("total_kwh") * F("building__tariff_usd_per_kwh")), kwh=Sum("total_kwh")
    )
    plain = Building.objects.filter(utility=ctx.utility).aggregate(
        mean=Avg("tariff_usd_per_kwh"), n=Count("id")
    )
    weighted = (
        metered["weighted"] / metered["kwh"] * 1000.0
        if metered["kwh"] and metered["weighted"] is not None
        else None
    )
    return {
        "load_weighted_usd_per_mwh": weighted,
        "metered_mwh": (metered["kwh"] or 0.0) / 1000.0,
        "mean_usd_per_mwh": None if plain["mean"] is None else plain["mean"] * 1000.0,
        "buildings": plain["n"],
        "days": TARIFF_DAYS,
    }


class Prices:
    """The price signal in $/MWh by local day and hour from first_day, NaN where none was
    stored. A moment reads its local day's wall-clock slot (stakeholders.localtime), as the
    forecasts do."""

    def __init__(self, ctx: DayContext, first_day, days: int):
        self.ctx, self.first_day = ctx, first_day
        self.values = (
            series_window(
                utility=ctx.utility, series=SeriesDay.Series.PRICE_USD_PER_KWH,
                first_day=first_day, days=days,
            ).astype(float) * 1000.0
        )  # fmt: skip

    def at(self, moment: datetime) -> float | None:
        day, hour, _ = slot_of(moment, self.ctx.tz)
        row = (day - self.first_day).days
        if 0 <= row < self.values.shape[0] and 0 <= hour < self.values.shape[1]:
            value = self.values[row, hour]
            return float(value) if np.isfinite(value) else None
        return None

    def mean(self, starts: datetime, ends: datetime) -> float | None:
        """The mean price over a window's hours (None where none is priced)."""
        hours = int(np.ceil((ends - starts).total_seconds() / 3600))
        found = [self.at(starts + timedelta(hours=h)) for h in range(hours)]
        found = [value for value in found if value is not None]
        return float(np.mean(found)) if found else None


@section("market")
def market(ctx: DayContext) -> dict:
    grid_hours = ctx.data.get("grid", {}).get("hours", [])
    moments = [datetime.fromisoformat(hour["t"]) for hour in grid_hours]
    capacity = _capacity(ctx, moments)
    verified = ctx.verified()
    settled = verified.settled()
    asked_kwh = float(settled.asked_kwh.sum())
    delivered_kwh = float(settled.delivered_kwh.sum())
    incentive_usd = float(settled.incentive_usd.sum())
    share = delivered_kwh / asked_kwh if asked_kwh > 0 else None
    events_verified = int(np.unique(verified.event_id).size)
    dr_cost = incentive_usd / delivered_kwh * 1000.0 if delivered_kwh > 0 else None

    events = ctx.data.get("events", {})
    past = [e for e in events.get("past", []) if e["status"] == EventStatus.VERIFIED]
    days_back = events.get("past_days", 90)
    first_day = ctx.day - timedelta(days=days_back)
    prices = Prices(ctx, first_day, days_back + OUTLOOK_DAYS + 1)
    hours = []
    for hour, moment, free in zip(grid_hours, moments, capacity["hours"], strict=True):
        hours.append(
            {
                "t": hour["t"], "p10": hour["p10"], "p50": hour["p50"], "p90": hour["p90"],
                "level": hour["level"], "dr_buildings": free["buildings"],
                "dr_kw": round(free["kw"], 3),
                "dr_expected_kw": None if share is None else round(free["kw"] * min(share, 1.0), 3),
                "at_limit": free["at_limit"], "asked": free["asked"],
                "price_usd_per_mwh": prices.at(moment),
            }
        )  # fmt: skip
    past_rows = []
    for e in past:
        mwh = e["delivered_kwh"] / 1000.0
        starts, ends = datetime.fromisoformat(e["starts_at"]), datetime.fromisoformat(e["ends_at"])
        past_rows.append(
            {
                "id": e["id"], "starts_at": e["starts_at"], "ends_at": e["ends_at"],
                "simulated": e["simulated"], "target_kw": e["target_kw"],
                "delivered_kw": e["delivered_kw"], "delivered_mwh": mwh,
                "incentive_usd": e["incentive_usd"],
                "usd_per_mwh": e["incentive_usd"] / mwh if mwh > 0 else None,
                "offered_usd_per_mwh": e["incentive_usd_per_kwh"] * 1000.0,
                "price_usd_per_mwh": prices.mean(starts, ends),
            }
        )  # fmt: skip
    open_rows = [
        {
            "id": e["id"], "starts_at": e["starts_at"], "ends_at": e["ends_at"],
            "status_label": e["status_label"], "target_kw": e["target_kw"],
            "expected_kw": e["expected_kw"], "hours": e["hours"],
            "offered_usd_per_mwh": e["incentive_usd_per_kwh"] * 1000.0,
            "price_usd_per_mwh": prices.mean(
                datetime.fromisoformat(e["starts_at"]), datetime.fromisoformat(e["ends_at"])
            ),
        }
        for e in events.get("open", [])
    ]  # fmt: skip
    priced = [h["price_usd_per_mwh"] for h in hours if h["price_usd_per_mwh"] is not None]
    return {
        "hours": hours,
        "enrolled": capacity["enrolled"],
        "enrolled_kw": capacity["enrolled_kw"],
        "delivery_share": share,
        "verified_asks": int(verified.event_id.size),
        "verified_events": events_verified,
        "delivered_mwh": delivered_kwh / 1000.0,
        "incentive_usd": incentive_usd,
        "dr_usd_per_mwh": dr_cost,
        "tariff": _tariff(ctx),
        "price_hours": len(priced),
        "price_mean_usd_per_mwh": float(np.mean(priced)) if priced else None,
        "price_max_usd_per_mwh": float(np.max(priced)) if priced else None,
        "past": past_rows,
        "past_days": days_back,
        "open": open_rows,
    }
