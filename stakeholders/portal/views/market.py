"""The energy trader's dashboard: the hourly forecast with its interval, the DR capacity each
hour still has and what it is expected to deliver, what DR has cost per MWh against the tariff
and the price signal, and the delivered MWh and cost of past events."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from stakeholders import formatting

from ..access import portal_view
from ..charts_market import trader_chart
from ..dashboards import current_report, dashboard
from .operator import HORIZON_H, hours_ahead

TRADER = "trader"


def _round(value, digits: int = 1):
    return None if value is None else round(value, digits)


@dashboard(
    slug=TRADER,
    title="Energy trader",
    template="portal/trader.html",
    csv_rows=lambda member, report: trader_csv(report),
)
def trader_context(member, report) -> dict:
    now = timezone.now()
    market = report.data.get("market", {})
    grid = report.data.get("grid", {})
    ahead = hours_ahead(market, now)
    utility = report.utility
    capacity_kw = grid.get("capacity_kw", utility.capacity_kw)
    chart = trader_chart(
        ahead, capacity_kw=capacity_kw, timezone=utility.timezone,
        dr_usd_per_mwh=market.get("dr_usd_per_mwh"), now=now,
    )  # fmt: skip
    free = [h["dr_kw"] for h in ahead]
    priced = [h["price_usd_per_mwh"] for h in ahead if h["price_usd_per_mwh"] is not None]
    return {
        "market": market,
        "grid": grid,
        "ahead": ahead,
        "horizon_h": HORIZON_H,
        "now_hour": ahead[0] if ahead else None,
        "dr_min_kw": min(free) if free else None,
        "dr_max_kw": max(free) if free else None,
        "price_mean": sum(priced) / len(priced) if priced else None,
        "price_max": max(priced) if priced else None,
        "priced_hours": len(priced),
        "capacity_kw": capacity_kw,
        "chart": chart,
        "tz": utility.timezone,
        "utility": utility,
    }


def trader_csv(report) -> list[list]:
    tz = report.utility.timezone
    market = report.data.get("market", {})
    rows = [["hour starting", "P10 kW", "P50 kW", "P90 kW", "DR available kW",
             "buildings available", "DR expected kW", "price $/MWh"]]  # fmt: skip
    rows += [
        [formatting.local_time(h["t"], tz, "%Y-%m-%d %H:%M"), _round(h["p10"]), _round(h["p50"]),
         _round(h["p90"]), _round(h["dr_kw"]), h["dr_buildings"], _round(h["dr_expected_kw"]),
         _round(h["price_usd_per_mwh"], 0)]
        for h in market.get("hours", [])
    ]  # fmt: skip
    tariff = market.get("tariff", {})
    rows += [
        [],
        ["verified DR cost $/MWh", _round(market.get("dr_usd_per_mwh"), 0)],
        ["verified delivery share %", _round(None if market.get("delivery_share") is None
                                             else 100 * market["delivery_share"])],
        ["tariff $/MWh, load-weighted", _round(tariff.get("load_weighted_usd_per_mwh"), 0)],
        ["tariff $/MWh, plain mean", _round(tariff.get("mean_usd_per_mwh"), 0)],
        [],
        ["event", "window", "delivered kW", "delivered MWh", "incentive $", "cost $/MWh",
         "offered $/MWh", "price $/MWh"],
    ]  # fmt: skip
    rows += [
        [e["id"], formatting.local_window(e["starts_at"], e["ends_at"], tz),
         _round(e["delivered_kw"]), _round(e["delivered_mwh"], 3), _round(e["incentive_usd"], 0),
         _round(e["usd_per_mwh"], 0), _round(e["offered_usd_per_mwh"], 0),
         _round(e["price_usd_per_mwh"], 0)]
        for e in market.get("past", [])
    ]  # fmt: skip
    return rows


@portal_view(TRADER)
def trader_page(request, member):
    report = current_report(member, request.GET.get("utility"))
    context = trader_context(member, report)
    return render(
        request, "portal/trader.html",
        {**context, "snapshot": report, "data_label": report.data_label},
    )  # fmt: skip


urlpatterns = [path("trader/", trader_page, name="trader")]
