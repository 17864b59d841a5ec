"""The facility manager's page: each open request for their buildings (what to do, when, how
deep, the comfort impact and the incentive), accepted or declined with one click, and past
requests with what verification found."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from optimization.models import EventStatus, Recommendation
from optimization.services.events import EventError
from optimization.services.planning import recommendation_accept, recommendation_decline
from stakeholders import formatting

from ..access import ANSWERING_ROLES, portal_view
from ..dashboards import current_report, dashboard
from ..selectors import requests_out

FACILITY = "facility"
PAST_SHOWN = 20


def member_recommendations(member):
    """The recommendations for the buildings this member manages."""
    return Recommendation.objects.filter(building__in=member.buildings).select_related(
        "event", "event__utility", "building"
    )


def open_requests(member) -> list[Recommendation]:
    """The requests out now, with their events and buildings."""
    return list(
        requests_out(member, timezone.now()).select_related("event", "event__utility", "building")
    )


def past_requests(member) -> list[Recommendation]:
    return list(
        member_recommendations(member)
        .filter(event__status__in=[EventStatus.COMPLETED, EventStatus.VERIFIED])
        .exclude(status=Recommendation.Status.WITHDRAWN)
        .order_by("-event__starts_at", "building__code")[:PAST_SHOWN]
    )


def _lines_total(member, report) -> dict:
    return report.lines.filter(
        building__in=member.buildings
    ).aggregate(
        delivered_kwh=Sum("delivered_kwh"), incentive_usd=Sum("incentive_usd"),
        cost_saved_usd=Sum("cost_saved_usd"),
    )  # fmt: skip


def _csv(member, report) -> list[list]:
    tz = report.utility.timezone
    rows = [["building", "event", "window", "answer", "depth %", "asked kW", "comfort impact",
             "incentive $", "delivered kW", "complied"]]  # fmt: skip
    for rec in open_requests(member) + past_requests(member):
        rows.append(
            [rec.building.code, rec.event_id,
             formatting.local_window(rec.event.starts_at, rec.event.ends_at, tz),
             rec.get_status_display(), round(rec.depth_pct), round(rec.requested_kw, 1),
             rec.comfort_impact, round(rec.incentive_usd),
             None if rec.delivered_kw is None else round(rec.delivered_kw, 1),
             {True: "yes", False: "no"}.get(rec.complied, "")]
        )  # fmt: skip
    return rows


@dashboard(slug=FACILITY, title="Facility manager", template="portal/facility.html", csv_rows=_csv)
def facility_context(member, report) -> dict:
    return {
        "requests": open_requests(member),
        "past": past_requests(member),
        "totals": _lines_total(member, report),
        "buildings": member.buildings.count(),
        "may_answer": member.role in ANSWERING_ROLES,
    }


@portal_view(FACILITY)
def facility_page(request, member):
    report = current_report(member, request.GET.get("utility"))
    context = facility_context(member, report)
    return render(
        request, "portal/facility.html",
        {**context, "snapshot": report, "data_label": report.data_label},
    )  # fmt: skip


def _member_recommendation(member, recommendation_id: int) -> Recommendation:
    rec = member_recommendations(member).filter(pk=recommendation_id).first()
    if rec is None or member.role not in ANSWERING_ROLES:
        raise Http404("No such request for your buildings.")
    return rec


def _answered(request, rec: Recommendation, *, done: str = "", error: str = ""):
    """The request's row again with what happened (HTMX swaps it in place), or back to the
    page with a message."""
    if request.htmx:
        rec.refresh_from_db()
        return render(
            request,
            "portal/facility.html#request-row",
            {"rec": rec, "may_answer": True, "done": done, "error": error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("portal:facility")


@require_POST
@portal_view(FACILITY, "owner")
def accept(request, member, recommendation_id: int):
    rec = _member_recommendation(member, recommendation_id)
    try:
        recommendation_accept(recommendation=rec, user=request.user)
    except EventError as exc:
        return _answered(request, rec, error=str(exc))
    return _answered(
        request, rec, done=f"Accepted: {rec.building.name} takes part in event #{rec.event_id}."
    )


@require_POST
@portal_view(FACILITY, "owner")
def decline(request, member, recommendation_id: int):
    rec = _member_recommendation(member, recommendation_id)
    try:
        recommendation_decline(
            recommendation=rec, user=request.user, reason=request.POST.get("reason", "")
        )
    except EventError as exc:
        return _answered(request, rec, error=str(exc))
    return _answered(
        request, rec,
        done=f"Declined: {rec.building.name} sits out event #{rec.event_id}; the rest of the "
        "event is planned again without it.",
    )  # fmt: skip


urlpatterns = [
    path("facility/", facility_page, name="facility"),
    path("requests/<int:recommendation_id>/accept/", accept, name="request-accept"),
    path("requests/<int:recommendation_id>/decline/", decline, name="request-decline"),
]
