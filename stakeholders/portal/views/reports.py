"""Stored reports: listed by date and event, each shown as its role's page showed it, and
downloaded as CSV or PDF (the same figures, from the same snapshot)."""

from __future__ import annotations

import csv
import io

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path

from ..access import portal_view
from ..dashboards import DASHBOARDS, member_report_get, member_report_list
from ..models import StakeholderReport
from ..pdf import PdfUnavailable, html_to_pdf

REPORTS_PER_PAGE = 30


def _dashboard_for(member, report: StakeholderReport):
    """The member's dashboard, or the event report for an event snapshot."""
    if report.kind == StakeholderReport.Kind.EVENT:
        return DASHBOARDS["event"]
    return DASHBOARDS[member.dashboard]


def report_context(member, report: StakeholderReport) -> dict:
    board = _dashboard_for(member, report)
    return {
        **board.context(member, report),
        "snapshot": report,
        "data_label": report.data_label,
        "report_mode": True,
        "board": board,
    }


@portal_view()
def report_list(request, member):
    reports = Paginator(member_report_list(member), REPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "portal/reports.html", {"reports": reports, "member": member})


@portal_view()
def report_detail(request, member, report_id: int):
    report = member_report_get(member, report_id)
    context = report_context(member, report)
    return render(request, "portal/report.html", context)


@portal_view()
def report_csv(request, member, report_id: int):
    report = member_report_get(member, report_id)
    board = _dashboard_for(member, report)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"energyrec · {board.title} report", report.utility.name, str(report.day)])
    if report.data_label:
        writer.writerow([report.data_label])
    writer.writerow([f"snapshot #{report.pk}", f"made {report.created_at:%Y-%m-%d %H:%M} UTC"])
    writer.writerow([])
    writer.writerows(board.csv_rows(member, report))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="energyrec-{board.slug}-{report.day}-{report.pk}.csv"'
    )
    return response


@portal_view()
def report_pdf(request, member, report_id: int):
    report = member_report_get(member, report_id)
    html = render_to_string("portal/report_print.html", report_context(member, report), request)
    try:
        pdf = html_to_pdf(html)
    except PdfUnavailable as exc:
        return render(
            request, "portal/pdf_unavailable.html", {"reason": str(exc), "report": report},
            status=503,
        )  # fmt: skip
    response = HttpResponse(pdf, content_type="application/pdf")
    board = _dashboard_for(member, report)
    response["Content-Disposition"] = (
        f'attachment; filename="energyrec-{board.slug}-{report.day}-{report.pk}.pdf"'
    )
    return response


urlpatterns = [
    path("reports/", report_list, name="reports"),
    path("reports/<int:report_id>/", report_detail, name="report"),
    path("reports/<int:report_id>.csv", report_csv, name="report-csv"),
    path("reports/<int:report_id>.pdf", report_pdf, name="report-pdf"),
]
