"""The building owner's and energy manager's dashboard (what taking part earned, per building
and in total, from the day snapshot's building lines) and the tenant's plain notice of the
windows that change something in their building."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from optimization.models import Recommendation
from stakeholders import formatting
from stakeholders.selectors import member_building_list

from ..access import portal_view
from ..charts_owner import month_label, monthly_kwh_chart
from ..dashboards import current_report, dashboard, member_utilities
from ..paging import page_by_ids
from ..selectors import requests_out

OWNER = "owner"
TENANT = "tenant"
LINES_PER_PAGE = 25
REQUESTS_PER_PAGE = 20


def member_lines(member, report):
    """The snapshot's lines of the member's buildings: its organization's, narrowed to the
    buildings tied to the membership where it has any."""
    lines = report.lines.filter(owner_id=member.organization.pk)
    if member.building_ids is not None:
        lines = lines.filter(building_id__in=member.building_ids)
    return lines


@dataclass(frozen=True)
class OwnerTotals:
    """The member's buildings' season to date, summed from the snapshot's lines."""

    buildings: int  # buildings that took part in at least one verified event
    events: int  # distinct verified events any of them took part in
    building_events: int  # one building in one event
    asked_kwh: float
    delivered_kwh: float
    cost_saved_usd: float
    carbon_saved_kg: float
    incentive_usd: float
    complied: int

    @property
    def earned_usd(self) -> float:
        """Incentives plus bill savings: what taking part brought in (no costs are recorded)."""
        return self.incentive_usd + self.cost_saved_usd

    @property
    def delivered_share(self) -> float | None:
        return self.delivered_kwh / self.asked_kwh if self.asked_kwh else None

    @property
    def complied_share(self) -> float | None:
        return self.complied / self.building_events if self.building_events else None

    @property
    def per_event_usd(self) -> float | None:
        return self.earned_usd / self.events if self.events else None

    @property
    def per_kwh_usd(self) -> float | None:
        return self.earned_usd / self.delivered_kwh if self.delivered_kwh else None


def owner_totals(member, report) -> OwnerTotals | None:
    """One aggregate query over the member's lines; None when none of its buildings has a
    verified event yet."""
    sums = member_lines(member, report).aggregate(
        buildings=Count("id"), building_events=Sum("events"), asked_kwh=Sum("asked_kwh"),
        delivered_kwh=Sum("delivered_kwh"), cost_saved_usd=Sum("cost_saved_usd"),
        carbon_saved_kg=Sum("carbon_saved_kg"), incentive_usd=Sum("incentive_usd"),
        complied=Sum("complied"),
    )  # fmt: skip
    if not sums["buildings"]:
        return None
    mine = _owner_section(member, report)
    return OwnerTotals(events=mine.get("events", 0), **sums)


def _owner_section(member, report) -> dict:
    owners = report.data.get("owners") or {}
    return (owners.get("by_owner") or {}).get(str(member.organization.pk), {})


def owner_requests(member, now: datetime):
    """The requests out now for the member's buildings; answered on the facility manager's
    page."""
    return requests_out(member, now)


def _line_rows(lines) -> list[dict]:
    return [
        {
            "line": line,
            "delivered_share": line.delivered_kwh / line.asked_kwh if line.asked_kwh else None,
            "earned_usd": line.incentive_usd + line.cost_saved_usd,
        }
        for line in lines
    ]


def _csv(member, report) -> list[list]:
    totals = owner_totals(member, report)
    rows = [["building owner", member.organization.name], ["utility", report.utility.name]]
    if totals is None:
        return rows + [["figures", formatting.NOT_MEASURED]]
    rows += [
        ["buildings that took part", totals.buildings],
        ["events taken part in", totals.events],
        ["kWh asked", round(totals.asked_kwh, 1)],
        ["kWh shed (verified)", round(totals.delivered_kwh, 1)],
        ["bill savings $", round(totals.cost_saved_usd)],
        ["carbon saved kg", round(totals.carbon_saved_kg)],
        ["incentives earned $", round(totals.incentive_usd)],
        ["incentives + savings per event $", round(totals.per_event_usd or 0)],
        ["incentives + savings per kWh shed $", round(totals.per_kwh_usd or 0, 3)],
        [],
        ["building code", "building", "events", "kWh asked", "kWh shed", "bill savings $",
         "carbon saved kg", "incentives $", "complied"],
    ]  # fmt: skip
    lines = member_lines(member, report).select_related("building").order_by("building__code")
    rows += [
        [line.building.code, line.building.name, line.events, round(line.asked_kwh, 1),
         round(line.delivered_kwh, 1), round(line.cost_saved_usd), round(line.carbon_saved_kg),
         round(line.incentive_usd), line.complied]
        for line in lines.iterator(chunk_size=2000)
    ]  # fmt: skip
    return rows


@dashboard(slug=OWNER, title="Building owner", template="portal/owner.html", csv_rows=_csv)
def owner_context(member, report, *, lines_page=None, requests_page=None, now=None) -> dict:
    now = now or timezone.now()
    utility = report.utility
    section = report.data.get("owners") or {}
    mine = _owner_section(member, report)
    months = section.get("months", [])
    chart = monthly_kwh_chart(
        months, mine.get("delivered_kwh", [0.0] * len(months)),
        mine.get("asked_kwh", [0.0] * len(months)),
        title="Energy shed by your buildings, month by month",
    )  # fmt: skip
    lines = page_by_ids(
        member_lines(member, report).order_by("-delivered_kwh", "pk"), lines_page,
        LINES_PER_PAGE, related=("building",),
    )  # fmt: skip
    requests = page_by_ids(
        owner_requests(member, now), requests_page, REQUESTS_PER_PAGE,
        related=("event", "event__utility", "building"),
    )  # fmt: skip
    return {
        "utility": utility,
        "tz": utility.timezone,
        "totals": owner_totals(member, report),
        "since": (section.get("utility") or {}).get("first_event_at"),
        "chart": chart,
        "months": [
            {
                "label": month_label(key),
                "delivered_kwh": d,
                "asked_kwh": a,
                "share": d / a if a else None,
            }  # fmt: skip
            for key, d, a in zip(
                months, mine.get("delivered_kwh", []), mine.get("asked_kwh", []), strict=False
            )
            if a or d
        ],
        "lines": lines,
        "line_rows": _line_rows(lines),
        "requests": requests,
        "organization": member.organization,
    }


@portal_view(OWNER)
def owner_page(request, member):
    report = current_report(member, request.GET.get("utility"))
    context = owner_context(
        member, report, lines_page=request.GET.get("page"),
        requests_page=request.GET.get("requests_page"),
    )  # fmt: skip
    template = "portal/owner.html"
    if request.htmx and request.GET.get("panel") in {"buildings", "requests"}:
        template += f"#{request.GET['panel']}-panel"
    return render(
        request, template,
        {**context, "utilities": member_utilities(member), "snapshot": report,
         "data_label": report.data_label},
    )  # fmt: skip


# The tenant's notice -------------------------------------------------------------------------

WARMER = re.compile(r"\+\s*(\d+(?:\.\d+)?)\s*°C")
PRE_COOL = re.compile(r"(\d+(?:\.\d+)?)\s*°C below .*? for (\d+(?:\.\d+)?)\s*h")


@dataclass(frozen=True)
class TenantNotice:
    """One window that changes something in a tenant's building, in plain words."""

    building: str
    when: str  # 'today, Tue 01 Dec, 16:00–19:00 PST'
    changes: list[str]
    confirmed: bool  # the building's manager accepted the request


def _degrees(text: str) -> str:
    value = float(text)
    return f"{value:g}"


def notice_changes(
    *, comfort_impact: str, actions: list[dict], starts_at, ends_at, tz
) -> list[str]:
    """What a tenant notices, from the request's comfort impact and actions: warmer during the
    window, cooler before it where the building pre-cools, dimmer common areas."""
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    window = f"between {start:%H:%M} and {end:%H:%M}"
    changes = []
    warmer = WARMER.search(comfort_impact or "")
    if warmer and float(warmer.group(1)) > 0:
        changes.append(f"Up to {_degrees(warmer.group(1))} °C warmer than usual {window}.")
    elif warmer:
        changes.append(f"No change to the temperature {window}.")
    elif comfort_impact:
        changes.append(f"{comfort_impact[0].upper()}{comfort_impact[1:]} ({window}).")
    for action in actions or []:
        kind, detail = action.get("action"), action.get("detail", "")
        if kind == "pre-cool" and (cool := PRE_COOL.search(detail)):
            before = start - timedelta(hours=float(cool.group(2)))
            changes.append(
                f"About {_degrees(cool.group(1))} °C cooler than usual from {before:%H:%M} to "
                f"{start:%H:%M}, before the window."
            )
        elif kind == "lighting dim":
            changes.append(f"Lighting in common areas a little dimmer {window}.")
    return changes


def _when(starts_at, ends_at, tz: ZoneInfo, now: datetime) -> str:
    start = starts_at.astimezone(tz)
    today = now.astimezone(tz).date()
    day = {today: "today", today + timedelta(days=1): "tomorrow"}.get(start.date())
    window = formatting.local_window(starts_at, ends_at, str(tz))
    return f"{day}, {window}" if day else window


def tenant_notices(member, now: datetime) -> list[TenantNotice]:
    """The windows ahead (or under way) in the tenant's buildings: requests pending or accepted
    of events that are out, whose window has not ended; one query."""
    recommendations = (
        requests_out(member, now)
        .filter(status__in=(Recommendation.Status.PENDING, Recommendation.Status.ACCEPTED))
        .select_related("event", "building", "building__utility")
    )
    notices = []
    for rec in recommendations:
        tz = ZoneInfo(rec.building.utility.timezone)
        notices.append(
            TenantNotice(
                building=rec.building.name,
                when=_when(rec.event.starts_at, rec.event.ends_at, tz, now),
                changes=notice_changes(
                    comfort_impact=rec.comfort_impact,
                    actions=rec.actions,
                    starts_at=rec.event.starts_at,
                    ends_at=rec.event.ends_at,
                    tz=tz,
                ),  # fmt: skip
                confirmed=rec.status == Recommendation.Status.ACCEPTED,
            )
        )
    return notices


def _tenant_csv(member, report) -> list[list]:
    rows = [["building", "when", "what changes", "confirmed"]]
    rows += [
        [n.building, n.when, " ".join(n.changes), "yes" if n.confirmed else "not yet"]
        for n in tenant_notices(member, timezone.now())
    ]
    return rows


@dashboard(slug=TENANT, title="Tenant", template="portal/tenant.html", csv_rows=_tenant_csv)
def tenant_context(member, report) -> dict:
    return {
        "notices": tenant_notices(member, timezone.now()),
        "buildings": list(
            member_building_list(membership=member.membership).values_list("name", flat=True)
        ),
    }


@portal_view(TENANT)
def tenant_page(request, member):
    utility_id = request.GET.get("utility")
    try:
        report = current_report(member, utility_id)
    except Http404:
        if utility_id:
            raise
        report = None  # a tenant tied to no building yet: the page says so
    context = tenant_context(member, report)
    if report is not None:
        context.update(snapshot=report, data_label=report.data_label)
    return render(request, "portal/tenant.html", context)


urlpatterns = [
    path("owner/", owner_page, name=OWNER),
    path("tenant/", tenant_page, name=TENANT),
]
