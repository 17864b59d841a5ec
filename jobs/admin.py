from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from stakeholders.admin_display import readable_table
from stakeholders.admin_scoping import ScopedAdmin, requires
from stakeholders.formatting import DASH, local_time, number
from stakeholders.selectors import sees_everything

from .models import JobRun
from .reconciler import stuck
from .services import JobError, job_rerun, job_resend

STATUS_COLOURS = {
    JobRun.Status.QUEUED: "#6b7280",
    JobRun.Status.RUNNING: "#2563eb",
    JobRun.Status.SUCCEEDED: "#15803d",
    JobRun.Status.FAILED: "#b91c1c",
}


def _when(value) -> str:
    # A job belongs to no utility: its times read in the server's zone, named.
    return local_time(value, settings.TIME_ZONE)


class StuckFilter(admin.SimpleListFilter):
    """Jobs the reconciler has to take up now, and jobs it (or a person) ever sent again."""

    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return (("stuck", "stuck now"), ("reconciled", "sent again"))

    def queryset(self, request, queryset):
        if self.value() == "stuck":
            return queryset.filter(stuck(timezone.now()))
        if self.value() == "reconciled":
            return queryset.filter(reconciled_at__isnull=False)
        return queryset


@admin.register(JobRun)
class JobRunAdmin(ScopedAdmin):
    """Jobs are written by workers only: the back office reads them and can run one again.
    The program team sees every job; anyone else the jobs they asked for."""

    organization_paths = ()  # a job belongs to no organization: scoped by who asked
    list_display = (
        "id",
        "kind",
        "status_badge",
        "progress_bar",
        "attempts",
        "sends",
        "requested_by",
        "queued",
        "duration",
        "peak_memory",
        "error_line",
    )
    list_filter = (StuckFilter, "status", "kind", "queued_at")
    search_fields = ("kind", "error", "worker")
    date_hierarchy = "queued_at"
    list_select_related = ("requested_by",)
    actions = ("run_again", "send_again")
    fields = (
        "kind",
        "status",
        "progress",
        "progress_note",
        "parameters",
        "processed",
        "outcome",
        "attempts",
        "worker",
        "heartbeat",
        "sends",
        "sent",
        "send_error",
        "reconciled_when",
        "reconciled",
        "requested_by",
        "queued",
        "started",
        "finished",
        "duration",
        "peak_memory",
        "error_text",
    )
    readonly_fields = fields

    def scope_queryset(self, request, queryset):
        if sees_everything(request.user):
            return queryset
        return queryset.filter(requested_by=request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    # Running a job again adds one: the jobs' add permission (the add form itself stays off).
    has_rerun_permission = requires("add")

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: JobRun) -> str:
        return format_html(
            '<span style="color:#fff;background:{};padding:1px 6px;border-radius:8px">{}</span>',
            STATUS_COLOURS[job.status],
            job.get_status_display(),
        )

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, job: JobRun) -> str:
        return format_html(
            '<progress max="100" value="{}" title="{}%"></progress> {}%',
            job.progress,
            job.progress,
            job.progress,
        )

    @admin.display(description="queued", ordering="queued_at")
    def queued(self, job: JobRun) -> str:
        return _when(job.queued_at)

    @admin.display(description="last heartbeat", ordering="heartbeat_at")
    def heartbeat(self, job: JobRun) -> str:
        return _when(job.heartbeat_at)

    @admin.display(description="last sent", ordering="sent_at")
    def sent(self, job: JobRun) -> str:
        return _when(job.sent_at)

    @admin.display(description="sent again", ordering="reconciled_at")
    def reconciled_when(self, job: JobRun) -> str:
        return _when(job.reconciled_at)

    @admin.display(description="started", ordering="started_at")
    def started(self, job: JobRun) -> str:
        return _when(job.started_at)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, job: JobRun) -> str:
        return _when(job.finished_at)

    @admin.display(description="duration", ordering="duration_s")
    def duration(self, job: JobRun) -> str:
        return DASH if job.duration_s is None else f"{number(job.duration_s, 1)} s"

    @admin.display(description="peak memory", ordering="peak_memory_mb")
    def peak_memory(self, job: JobRun) -> str:
        return DASH if job.peak_memory_mb is None else f"{number(job.peak_memory_mb, 0)} MB"

    @admin.display(description="parameters")
    def parameters(self, job: JobRun) -> str:
        return readable_table(job.params)

    @admin.display(description="processed")
    def processed(self, job: JobRun) -> str:
        return readable_table(job.counts)

    @admin.display(description="result")
    def outcome(self, job: JobRun) -> str:
        return readable_table(job.result, depth=2)

    @admin.display(description="error")
    def error_line(self, job: JobRun) -> str:
        return job.error.splitlines()[0][:120] if job.error else ""

    @admin.display(description="error")
    def error_text(self, job: JobRun) -> str:
        if not job.error:
            return DASH
        return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', job.error)

    @admin.action(description="Run the selected finished jobs again", permissions=["rerun"])
    def run_again(self, request, queryset) -> None:
        for job in queryset:
            try:
                new_job = job_rerun(job=job, requested_by=request.user)
            except JobError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.log_addition(request, new_job, f"Run again from job #{job.pk}.")
                self.message_user(request, f"Queued job #{new_job.pk} ({new_job.kind}).")

    @admin.action(description="Send the selected unfinished jobs again", permissions=["rerun"])
    def send_again(self, request, queryset) -> None:
        for job in queryset:
            if job.is_finished:
                self.message_user(
                    request, f"Job #{job.pk} is {job.status}; run it again instead.",
                    messages.WARNING,
                )  # fmt: skip
            elif job_resend(job=job, reason=f"sent again by hand by {request.user.get_username()}"):
                self.log_change(request, job, "Sent again by hand.")
                self.message_user(request, f"Sent job #{job.pk} ({job.kind}) again.")
            else:
                self.message_user(
                    request,
                    f"Job #{job.pk} was not sent: it was sent again less than "
                    f"{settings.JOB_UNCLAIMED_AFTER_S} s ago, or the broker is out of reach "
                    "(see its send error).",
                    messages.WARNING,
                )
