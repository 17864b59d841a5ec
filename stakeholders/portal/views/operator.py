"""The grid operator's dashboard: status now and for the next 48 h, open events with their
portfolio and answers coming in, propose / plan / dispatch / cancel, verified outcomes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs.models import JobRun
from jobs.services import job_create
from optimization.selectors import answer_counts
from optimization.services.events import EventError, event_cancel, event_dispatch, event_propose
from stakeholders import formatting
from stakeholders.localtime import window_of

from ..access import portal_view
from ..charts import outlook_chart
from ..dashboards import current_report, dashboard
from ..protocol import EMERGENCY_STEPS
from .events import member_event

HORIZON_H = 48
OPERATOR = "operator"


def hours_ahead(grid: dict, now: datetime, hours: int = HORIZON_H) -> list[dict]:
    """The snapshot's forecast hours from the one under way now, `hours` of them."""
    start = now.replace(minute=0, second=0, microsecond=0)
    ahead = [h for h in grid.get("hours", []) if datetime.fromisoformat(h["t"]) >= start]
    return ahead[:hours]


def grid_summary(report, now: datetime) -> dict:
    """Status now and over the next 48 h, read from the day snapshot's grid section."""
    grid = report.data.get("grid", {})
    ahead = hours_ahead(grid, now)
    utility = report.utility
    chart = outlook_chart(
        ahead, capacity_kw=grid.get("capacity_kw", utility.capacity_kw),
        high_kw=grid.get("high_kw", 0.0), critical_kw=grid.get("critical_kw", 0.0),
        timezone=utility.timezone, now=now, title="Next 48 hours: forecast load against capacity",
    )  # fmt: skip
    peak = max(ahead, key=lambda h: h["p50"], default=None)
    return {
        "grid": grid,
        "ahead": ahead,
        "now_hour": ahead[0] if ahead else None,
        "peak": peak,
        "high_hours": [h for h in ahead if h["level"] == "HIGH"],
        "critical_hours": [h for h in ahead if h["level"] == "CRITICAL"],
        "chart": chart,
        "tz": utility.timezone,
    }


class ProposeForm(forms.Form):
    """An operator's event: the local day and hours of its window, its target and risk."""

    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    start_hour = forms.IntegerField(min_value=0, max_value=23, label="Starts at (hour)")
    end_hour = forms.IntegerField(min_value=1, max_value=24, label="Ends at (hour)")
    target_kw = forms.FloatField(min_value=0.1, label="Target reduction (kW)")
    risk_pct = forms.FloatField(
        min_value=0.5, max_value=49.0, initial=5.0, label="Accepted risk of missing it (%)"
    )

    def window(self, timezone_name: str) -> tuple[datetime, datetime]:
        return window_of(
            self.cleaned_data["day"], self.cleaned_data["start_hour"],
            self.cleaned_data["end_hour"], ZoneInfo(timezone_name),
        )  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_hour"), cleaned.get("end_hour")
        if start is not None and end is not None and end <= start:
            raise forms.ValidationError("The window must end after it starts.")
        return cleaned


def _suggested(summary: dict, open_events: list[dict], tz: str) -> dict:
    """The propose form's starting values: the next HIGH or CRITICAL hours that no open event
    covers yet, if any."""
    covered = [
        (datetime.fromisoformat(e["starts_at"]), datetime.fromisoformat(e["ends_at"]))
        for e in open_events
    ]
    strained = [
        h for h in summary["high_hours"] + summary["critical_hours"]
        if not any(start <= datetime.fromisoformat(h["t"]) < end for start, end in covered)
    ]  # fmt: skip
    if not strained:
        return {"risk_pct": 5.0}
    strained.sort(key=lambda h: h["t"])
    zone = ZoneInfo(tz)
    first = datetime.fromisoformat(strained[0]["t"]).astimezone(zone)
    run = [
        h
        for h in strained
        if datetime.fromisoformat(h["t"]).astimezone(zone).date() == first.date()
    ]
    last = datetime.fromisoformat(run[-1]["t"]).astimezone(zone)
    return {
        "day": first.date(), "start_hour": first.hour, "end_hour": min(last.hour + 1, 24),
        "target_kw": round(max(h["above_high"] for h in run), 1) or None, "risk_pct": 5.0,
    }  # fmt: skip


@dashboard(
    slug=OPERATOR,
    title="Grid operator",
    template="portal/operator.html",
    csv_rows=lambda member, report: operator_csv(report),
)
def operator_context(member, report) -> dict:
    now = timezone.now()
    summary = grid_summary(report, now)
    events = report.data.get("events", {})
    return {
        **summary,
        "open_events": events.get("open", []),
        "past_events": [e for e in events.get("past", []) if e["status"] == "verified"][:12],
        "events_section": events,
        "steps": EMERGENCY_STEPS,
        "utility": report.utility,
    }


def operator_csv(report) -> list[list]:
    tz = report.utility.timezone
    rows = [["hour starting", "P10 kW", "P50 kW", "P90 kW", "status"]]
    rows += [
        [formatting.local_time(h["t"], tz, "%Y-%m-%d %H:%M"), round(h["p10"], 1),
         round(h["p50"], 1), round(h["p90"], 1), h["level"]]
        for h in report.data.get("grid", {}).get("hours", [])
    ]  # fmt: skip
    rows += [[], ["event", "window", "status", "target kW", "P(target met) %", "expected kW",
                  "P10 kW", "asked", "accepted", "declined", "pending", "delivered kW", "met"]]  # fmt: skip
    events = report.data.get("events", {})
    for e in events.get("open", []) + events.get("past", []):
        rows.append(
            [e["id"], formatting.local_window(e["starts_at"], e["ends_at"], tz), e["status_label"],
             round(e["target_kw"], 1), None if e["p_target_met"] is None else round(100 * e["p_target_met"], 1),
             None if e["expected_kw"] is None else round(e["expected_kw"], 1),
             None if e["p10_kw"] is None else round(e["p10_kw"], 1), e["asked"], e["accepted"],
             e["declined"], e["pending"],
             None if e["delivered_kw"] is None else round(e["delivered_kw"], 1),
             {True: "yes", False: "no"}.get(e["target_met"], "")]
        )  # fmt: skip
    return rows


def _live_answers(open_events: list[dict]) -> list[dict]:
    """The open events with their answers as they stand now (one grouped query)."""
    live = answer_counts(event_ids=[e["id"] for e in open_events])
    return [{**e, **live[e["id"]]} for e in open_events]


@portal_view(OPERATOR)
def operator_page(request, member):
    report = current_report(member, request.GET.get("utility"))
    context = operator_context(member, report)
    context["open_events"] = _live_answers(context["open_events"])
    form = ProposeForm(initial=_suggested(context, context["open_events"], report.utility.timezone))
    template = "portal/operator.html"
    if request.htmx and request.GET.get("panel") in {"status", "events"}:
        template += f"#{request.GET['panel']}-panel"
    return render(
        request, template,
        {**context, "form": form, "snapshot": report, "data_label": report.data_label},
    )  # fmt: skip


@require_POST
@portal_view(OPERATOR)
def propose(request, member):
    utility = member.utility
    if utility is None:
        raise Http404("No utility for this membership.")
    form = ProposeForm(request.POST)
    if form.is_valid():
        starts, ends = form.window(utility.timezone)
        try:
            event = event_propose(
                utility=utility, starts_at=starts, ends_at=ends,
                target_kw=form.cleaned_data["target_kw"],
                risk_eps=form.cleaned_data["risk_pct"] / 100.0, user=request.user,
            )  # fmt: skip
        except EventError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Event #{event.pk} proposed for {formatting.local_window(starts, ends, utility.timezone)}"
                f" ({formatting.kw(event.target_kw)}). Plan it next.",
            )
            return redirect("portal:event", event_id=event.pk)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("portal:operator")


@require_POST
@portal_view(OPERATOR)
def plan(request, member, event_id: int):
    event = member_event(member, event_id)
    job = job_create(
        kind="optimization.optimize", params={"event_id": event.pk}, requested_by=request.user
    )
    messages.success(request, f"Planning event #{event.pk}: job #{job.pk} queued.")
    return redirect(f"{_event_url(event)}?job={job.pk}")


@require_POST
@portal_view(OPERATOR)
def dispatch(request, member, event_id: int):
    event = member_event(member, event_id)
    try:
        event_dispatch(event=event, user=request.user)
    except EventError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Event #{event.pk} dispatched: the buildings are asked.")
    return redirect(_event_url(event))


@require_POST
@portal_view(OPERATOR)
def cancel(request, member, event_id: int):
    event = member_event(member, event_id)
    try:
        event_cancel(event=event, user=request.user, reason=request.POST.get("reason", ""))
    except EventError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Event #{event.pk} cancelled.")
    return redirect(_event_url(event))


def _event_url(event) -> str:
    return reverse("portal:event", kwargs={"event_id": event.pk})


@portal_view()
def job_progress(request, member, job_id: int):
    """A job's progress bar (HTMX polls it until the job ends); only the member's own jobs."""
    job = JobRun.objects.filter(pk=job_id, requested_by=request.user).first()
    if job is None:
        raise Http404("No such job of yours.")
    return render(request, "portal/_job_progress.html", {"job": job})


urlpatterns = [
    path("operator/", operator_page, name="operator"),
    path("operator/propose/", propose, name="event-propose"),
    path("events/<int:event_id>/plan/", plan, name="event-plan"),
    path("events/<int:event_id>/dispatch/", dispatch, name="event-dispatch"),
    path("events/<int:event_id>/cancel/", cancel, name="event-cancel"),
    path("jobs/<int:job_id>/", job_progress, name="job"),
]
