"""The registry of role dashboards. Each audience module registers one Dashboard: how its page
reads a snapshot (context), the template that formats it, and the rows of its CSV export. The
dashboard page, the stored reports and their CSV / PDF exports all go through it, so a report
shows exactly what the page showed from the same snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Count
from django.http import Http404

from stakeholders.models import Building, Utility

from .access import Member
from .models import StakeholderReport
from .snapshots.service import report_day

Context = Callable[[Member, StakeholderReport], dict]
CsvRows = Callable[[Member, StakeholderReport], list[list]]


@dataclass(frozen=True)
class Dashboard:
    slug: str
    title: str
    template: str  # a template whose partial "figures" is what reports and PDFs print
    context: Context
    csv_rows: CsvRows


DASHBOARDS: dict[str, Dashboard] = {}


def dashboard(*, slug: str, title: str, template: str, csv_rows: CsvRows):
    """Register `context(member, report) -> dict` as the dashboard `slug`."""

    def register(context: Context) -> Context:
        DASHBOARDS[slug] = Dashboard(slug, title, template, context, csv_rows)
        return context

    return register


def member_utilities(member: Member) -> list[Utility]:
    """The utilities whose figures a member reads: a utility's own, or those an owner's
    buildings (or a facility manager's or tenant's) are on, most buildings first. Read once
    per request (the member is the request's)."""
    cached = member.__dict__.get("_utilities")
    if cached is None:
        cached = _member_utilities(member)
        object.__setattr__(member, "_utilities", cached)
    return cached


def _member_utilities(member: Member) -> list[Utility]:
    if member.utility is not None:
        return [member.utility]
    buildings = Building.objects.filter(owner_id=member.organization.pk)
    if member.building_ids is not None:
        buildings = buildings.filter(pk__in=member.building_ids)
    # Counted in the database: an owner of 100,000 buildings gets one row per utility back.
    counts = dict(
        buildings.values("utility_id").annotate(n=Count("pk")).values_list("utility_id", "n")
        .order_by()
    )  # fmt: skip
    utilities = {
        u.pk: u for u in Utility.objects.filter(pk__in=counts).select_related("organization")
    }
    return [utilities[pk] for pk in sorted(counts, key=lambda pk: (-counts[pk], pk))]


def member_utility(member: Member, utility_id: str | None = None) -> Utility:
    """The utility a page shows: the one asked for (among the member's), else the first.
    404 when the member reaches none."""
    utilities = member_utilities(member)
    if utility_id and utility_id.isdigit():
        utilities = [u for u in utilities if u.pk == int(utility_id)]
    if not utilities:
        raise Http404("No utility's figures reach this membership.")
    return utilities[0]


def current_report(member: Member, utility_id: str | None = None) -> StakeholderReport:
    """The day snapshot a member's dashboard renders now."""
    return report_day(utility=member_utility(member, utility_id))


def member_report_list(member: Member):
    """The stored day and event snapshots of the member's utilities, latest first: what the
    portal lists as reports."""
    return (
        StakeholderReport.objects.filter(utility__in=member_utilities(member))
        .select_related("utility", "event")
        .defer("data")
        .order_by("-day", "-created_at", "-pk")
    )


def member_report_get(member: Member, report_id: int) -> StakeholderReport:
    report = (
        StakeholderReport.objects.filter(pk=report_id, utility__in=member_utilities(member))
        .select_related("utility", "event")
        .first()
    )
    if report is None:
        raise Http404("No such report for this membership.")
    return report
