"""One event as a utility's people see it: its window, plan, answers (live), history and
outcome, from the event's snapshot; the event report prints the same."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import path

from jobs.models import JobRun
from optimization.models import DemandResponseEvent, Recommendation
from optimization.selectors import answer_counts
from stakeholders import formatting

from ..access import UTILITY_ROLES, portal_view
from ..dashboards import dashboard
from ..paging import page_by_ids
from ..protocol import EMERGENCY_STEPS
from ..snapshots.event import report_event

RECOMMENDATIONS_PER_PAGE = 50
# Every utility role reads its grid's events; only the operator acts on them.
UTILITY_DASHBOARDS = ("operator", "trader", "engineer", "emergency", "executive", "technical")


def member_event(member, event_id: int) -> DemandResponseEvent:
    """The event `event_id` of the member's own utility; 404 for anyone else's."""
    utility = member.utility
    if utility is None or member.role not in UTILITY_ROLES:
        raise Http404("Events are read by the utility's members.")
    event = (
        DemandResponseEvent.objects.filter(pk=event_id, utility=utility)
        .select_related("utility", "feeder")
        .first()
    )
    if event is None:
        raise Http404("No such event on your grid.")
    return event


def _event_csv(member, report) -> list[list]:
    event = report.data["event"]
    tz = report.utility.timezone
    rows = [
        ["event", event["id"]],
        ["window", formatting.local_window(event["starts_at"], event["ends_at"], tz)],
        ["status", event["status_label"]],
        ["target kW", round(event["target_kw"], 1)],
        ["P(target met) %", None if event["p_target_met"] is None else round(100 * event["p_target_met"], 1)],
        ["expected kW", None if event["expected_kw"] is None else round(event["expected_kw"], 1)],
        ["P10 kW", None if event["p10_kw"] is None else round(event["p10_kw"], 1)],
        ["buildings asked", event["asked"]],
        ["delivered kW", None if event["delivered_kw"] is None else round(event["delivered_kw"], 1)],
        [],
        ["building", "status", "depth %", "requested kW", "P(complies) %", "expected kW",
         "incentive $", "delivered kW", "complied"],
    ]  # fmt: skip
    for rec in (
        Recommendation.objects.filter(event_id=event["id"])
        .select_related("building")
        .order_by("-requested_kw", "pk")
    ):
        rows.append(
            [rec.building.code, rec.get_status_display(), round(rec.depth_pct), round(rec.requested_kw, 1),
             round(100 * rec.compliance_probability, 1), round(rec.expected_kw, 1), round(rec.incentive_usd),
             None if rec.delivered_kw is None else round(rec.delivered_kw, 1),
             {True: "yes", False: "no"}.get(rec.complied, "")]
        )  # fmt: skip
    return rows


@dashboard(slug="event", title="DR event", template="portal/event.html", csv_rows=_event_csv)
def event_context(member, report) -> dict:
    event = report.data["event"]
    return {
        "event": event,
        "utility": report.utility,
        "tz": report.utility.timezone,
        "steps": EMERGENCY_STEPS if event["strain"] == "CRITICAL" else [],
    }


def _recommendation_page(event: DemandResponseEvent, number):
    """One page of the event's asks, largest first, with their buildings."""
    return page_by_ids(
        event.recommendations.order_by("-requested_kw", "pk"), number,
        RECOMMENDATIONS_PER_PAGE, related=("building",),
    )  # fmt: skip


@portal_view(*UTILITY_DASHBOARDS)
def event_page(request, member, event_id: int):
    event = member_event(member, event_id)
    report = report_event(event=event)
    context = event_context(member, report)
    context["live"] = answer_counts(event_ids=[event.pk])[event.pk]
    recommendations = _recommendation_page(event, request.GET.get("page"))
    job = None
    if request.GET.get("job", "").isdigit():
        job = JobRun.objects.filter(pk=int(request.GET["job"]), requested_by=request.user).first()
    template = "portal/event.html"
    if request.htmx and request.GET.get("panel") == "answers":
        template += "#answers-panel"
    return render(
        request,
        template,
        {
            **context, "snapshot": report, "data_label": report.data_label,
            "recommendations": recommendations, "job": job,
            "may_act": member.dashboard == "operator",
        },
    )  # fmt: skip


urlpatterns = [
    path("events/<int:event_id>/", event_page, name="event"),
]
