"""The executive's dashboard in the portal: the program's measured business impact (from the
day snapshot's settled figures) beside its top risks and next milestones (this app's records).
It is registered from here, because nothing outside projects may import projects; energyrec's
urls mount its `urlpatterns` in the portal's namespace, and ProjectsConfig.ready imports this
module so that the reports pages find the dashboard before any URL is resolved."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from stakeholders import formatting
from stakeholders.portal.access import portal_view
from stakeholders.portal.charts_owner import monthly_kwh_chart
from stakeholders.portal.dashboards import current_report, dashboard

from .selectors import (
    program_milestone_counts,
    program_milestones,
    program_risks_top,
    programs_linked,
    utility_programs,
)

EXECUTIVE = "executive"
EVENTS_SHOWN = 10


def impact_figures(report) -> dict | None:
    """The utility's verified figures as the snapshot settled them, with the ratios the page
    states; None before any verified event."""
    impact = (report.data.get("owners") or {}).get("utility")
    if not impact:
        return None
    events = impact["verified_events"]
    delivered = impact["delivered_kwh"]
    return {
        **impact,
        "target_share": impact["targets_met"] / events if events else None,
        "complied_share": impact["complied"] / impact["asks"] if impact["asks"] else None,
        "delivered_share": delivered / impact["asked_kwh"] if impact["asked_kwh"] else None,
        "incentive_usd_per_mwh": impact["incentive_usd"] / delivered * 1000 if delivered else None,
        "largest_mw": impact["peak_cut"]["largest"]["delivered_kw"] / 1000,
        "mean_mw": impact["peak_cut"]["mean_kw"] / 1000,
        "recent": list(reversed(impact["events"][-EVENTS_SHOWN:])),
    }


def _csv(member, report) -> list[list]:
    context = executive_context(member, report)
    impact = context["impact"]
    rows = [["utility", report.utility.name]]
    if impact is None:
        rows.append(["measured impact", formatting.NOT_MEASURED])
    else:
        largest = impact["peak_cut"]["largest"]
        rows += [
            ["verified events", impact["verified_events"]],
            ["targets met", impact["targets_met"]],
            ["peak cut, largest event MW", round(largest["delivered_kw"] / 1000, 3)],
            ["peak cut, largest event % of its day's forecast peak",
             None if largest["cut_pct"] is None else round(largest["cut_pct"], 1)],
            ["peak cut, mean MW", round(impact["peak_cut"]["mean_kw"] / 1000, 3)],
            ["peak cut, mean % of the day's forecast peak",
             None if impact["peak_cut"]["mean_pct"] is None else round(impact["peak_cut"]["mean_pct"], 1)],
            ["kWh shed", round(impact["delivered_kwh"], 1)],
            ["incentives paid $", round(impact["incentive_usd"])],
            ["customers' bill savings $", round(impact["cost_saved_usd"])],
            ["carbon saved kg", round(impact["carbon_saved_kg"])],
        ]  # fmt: skip
    rows += [
        [],
        ["risk", "program", "score", "probability", "impact", "status", "owner", "next review"],
    ]
    rows += [
        [r.title, r.program.name, r.score, r.get_probability_display(), r.get_impact_display(),
         r.get_status_display(), r.owner, r.next_review.isoformat()]
        for r in context["risks"]
    ]  # fmt: skip
    rows += [[], ["milestone", "program", "target date", "status", "tasks done", "tasks"]]
    rows += [
        [m.name, m.program.name, m.target_date.isoformat(), m.get_status_display(), m.tasks_done,
         m.tasks_total]
        for m in context["milestones"]
    ]  # fmt: skip
    return rows


@dashboard(slug=EXECUTIVE, title="Executive", template="portal/executive.html", csv_rows=_csv)
def executive_context(member, report) -> dict:
    utility = report.utility
    section = report.data.get("owners") or {}
    impact = impact_figures(report)
    chart = monthly_kwh_chart(
        section.get("months", []),
        impact["delivered_kwh_by_month"] if impact else [],
        impact["asked_kwh_by_month"] if impact else [],
        title="Energy shed by the program, month by month",
    )  # fmt: skip
    return {
        "utility": utility,
        "tz": utility.timezone,
        "impact": impact,
        "chart": chart,
        "programs": list(utility_programs(utility=utility)),
        "programs_linked": programs_linked(utility=utility),
        "risks": program_risks_top(utility=utility),
        "milestones": program_milestones(utility=utility),
        "milestone_counts": program_milestone_counts(utility=utility),
        "today": timezone.localdate(),
    }


@portal_view(EXECUTIVE)
def executive_page(request, member):
    report = current_report(member, request.GET.get("utility"))
    context = executive_context(member, report)
    return render(
        request, "portal/executive.html",
        {**context, "snapshot": report, "data_label": report.data_label},
    )  # fmt: skip


urlpatterns = [path("executive/", executive_page, name=EXECUTIVE)]
