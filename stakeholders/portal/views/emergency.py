"""The emergency team's dashboard: the CRITICAL hours of the forecast, the events open on them,
and the emergency protocol of each, checked off step by step (who, when)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from stakeholders import formatting

from ..access import portal_view
from ..dashboards import current_report, dashboard
from ..models import ProtocolCheck
from ..protocol import EMERGENCY_STEPS
from ..services import STAND_DOWN_H, ProtocolError, protocol_check, protocol_open
from .events import member_event

EMERGENCY = "emergency"
CRITICAL = "CRITICAL"
HOUR = timedelta(hours=1)


def hours_from_now(grid: dict, now: datetime) -> list[dict]:
    """The snapshot's forecast hours from the one under way now."""
    start = now.replace(minute=0, second=0, microsecond=0)
    return [h for h in grid.get("hours", []) if datetime.fromisoformat(h["t"]) >= start]


def critical_spans(hours: list[dict]) -> list[dict]:
    """Consecutive CRITICAL hours joined into spans, each with its highest forecast hour."""
    spans: list[dict] = []
    for hour in hours:
        if hour["level"] != CRITICAL:
            continue
        t = datetime.fromisoformat(hour["t"])
        last = spans[-1] if spans else None
        if last is not None and t == last["ends_at"]:
            last["ends_at"] = t + HOUR
            last["hours"] += 1
            last["peak"] = max(last["peak"], hour, key=lambda h: h["p50"])
        else:
            spans.append({"starts_at": t, "ends_at": t + HOUR, "hours": 1, "peak": hour})
    return spans


def _overlaps(event: dict, spans: list[dict]) -> bool:
    starts, ends = (
        datetime.fromisoformat(event["starts_at"]),
        datetime.fromisoformat(event["ends_at"]),
    )
    return any(s["starts_at"] < ends and starts < s["ends_at"] for s in spans)


def emergency_events(events: dict, spans: list[dict], now: datetime) -> list[dict]:
    """The events whose protocol is open: open (or just completed) events called CRITICAL, or
    whose window meets a CRITICAL hour of the forecast."""
    candidates = events.get("open", []) + [
        e for e in events.get("past", []) if e["status"] == "completed"
    ]
    return [
        e
        for e in candidates
        if (e["strain"] == CRITICAL or _overlaps(e, spans))
        and protocol_open(status=e["status"], ends_at=datetime.fromisoformat(e["ends_at"]), now=now)
    ]


def checklist(event_ids: list[int]) -> dict[int, list[dict]]:
    """Each event's protocol steps with the check of each (None where not done): one query."""
    checks = {
        (c.event_id, c.step): c
        for c in ProtocolCheck.objects.filter(event_id__in=event_ids).select_related("by")
    }
    return {
        event_id: [
            {"number": number, "text": text, "check": checks.get((event_id, number))}
            for number, text in EMERGENCY_STEPS
        ]
        for event_id in event_ids
    }


def uncovered(spans: list[dict], events: list[dict]) -> list[dict]:
    """CRITICAL spans that no dispatched or running event overlaps (step 2 of the protocol)."""
    out = [e for e in events if e["status"] in ("dispatched", "active")]
    return [s for s in spans if not _overlaps_any(s, out)]


def _overlaps_any(span: dict, events: list[dict]) -> bool:
    return any(_overlaps(e, [span]) for e in events)


def _csv(member, report) -> list[list]:
    context = emergency_context(member, report)
    tz = context["tz"]
    rows = [["CRITICAL from", "to", "hours", "peak P50 kW", "peak % of capacity"]]
    rows += [
        [formatting.local_time(s["starts_at"], tz, "%Y-%m-%d %H:%M"),
         formatting.local_time(s["ends_at"], tz, "%Y-%m-%d %H:%M"), s["hours"],
         round(s["peak"]["p50"], 1), round(s["peak"]["strain_pct"], 1)]
        for s in context["spans"]
    ]  # fmt: skip
    rows += [[], ["event", "window", "status", "strain", "step", "what", "checked by", "at"]]
    for item in context["events"]:
        e = item["event"]
        window = formatting.local_window(e["starts_at"], e["ends_at"], tz)
        for step in item["steps"]:
            check = step["check"]
            rows.append(
                [e["id"], window, e["status_label"], e["strain"], step["number"], step["text"],
                 check.by.username if check else "",
                 formatting.local_time(check.at, tz, "%Y-%m-%d %H:%M") if check else ""]
            )  # fmt: skip
    return rows


@dashboard(slug=EMERGENCY, title="Emergency team", template="portal/emergency.html", csv_rows=_csv)
def emergency_context(member, report, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    grid = report.data.get("grid", {})
    ahead = hours_from_now(grid, now)
    spans = critical_spans(ahead)
    events = emergency_events(report.data.get("events", {}), spans, now)
    steps = checklist([e["id"] for e in events])
    items = [
        {
            "event": e,
            "steps": steps[e["id"]],
            "done": sum(s["check"] is not None for s in steps[e["id"]]),
            "open": True,
        }
        for e in events
    ]
    return {
        "utility": report.utility,
        "tz": report.utility.timezone,
        "grid": grid,
        "now_hour": ahead[0] if ahead else None,
        "critical_hours": [h for h in ahead if h["level"] == CRITICAL],
        "spans": spans,
        "uncovered": uncovered(spans, events),
        "events": items,
        "steps": EMERGENCY_STEPS,
        "total_steps": len(EMERGENCY_STEPS),
        "stand_down_h": STAND_DOWN_H,
    }


@portal_view(EMERGENCY)
def emergency_page(request, member):
    report = current_report(member, request.GET.get("utility"))
    context = emergency_context(member, report)
    return render(
        request, "portal/emergency.html",
        {**context, "snapshot": report, "data_label": report.data_label},
    )  # fmt: skip


@require_POST
@portal_view(EMERGENCY)
def step_check(request, member, event_id: int):
    """Check one protocol step of an event (HTMX: the step's line answers in place)."""
    event = member_event(member, event_id)
    raw = request.POST.get("step", "")
    error = None if raw.isdigit() else "Say which step of the protocol is done."
    if error is None:
        try:
            protocol_check(event=event, step=int(raw), user=request.user)
        except ProtocolError as exc:
            error = str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"Event #{event.pk}: step {raw} checked.")
        return redirect("portal:emergency")
    steps = checklist([event.pk])[event.pk]
    item = next((s for s in steps if str(s["number"]) == raw), None)
    return render(
        request, "portal/emergency.html#protocol-step",
        {"e": {"id": event.pk}, "step": item, "error": error, "tz": event.utility.timezone,
         "item": {"open": protocol_open(status=event.status, ends_at=event.ends_at)}},
        status=200 if item is not None else 400,
    )  # fmt: skip


urlpatterns = [
    path("emergency/", emergency_page, name=EMERGENCY),
    path("emergency/events/<int:event_id>/check/", step_check, name="emergency-check"),
]
