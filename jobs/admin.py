from django.contrib import admin, messages
from django.utils.html import format_html

from .models import JobRun
from .services import JobError, job_rerun

STATUS_COLOURS = {
    JobRun.Status.QUEUED: "#6b7280",
    JobRun.Status.RUNNING: "#2563eb",
    JobRun.Status.SUCCEEDED: "#15803d",
    JobRun.Status.FAILED: "#b91c1c",
}


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    """Jobs are written by workers only: the back office reads them and can run one again."""

    list_display = (
        "id",
        "kind",
        "status_badge",
        "progress_bar",
        "attempts",
        "requested_by",
        "queued_at",
        "duration_s",
        "peak_memory_mb",
        "error_line",
    )
    list_filter = ("status", "kind", "queued_at")
    search_fields = ("kind", "error", "worker")
    date_hierarchy = "queued_at"
    list_select_related = ("requested_by",)
    actions = ("run_again",)
    fields = (
        "kind",
        "status",
        "progress",
        "progress_note",
        "params",
        "counts",
        "result",
        "attempts",
        "worker",
        "requested_by",
        "queued_at",
        "started_at",
        "finished_at",
        "duration_s",
        "peak_memory_mb",
        "error_text",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

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

    @admin.display(description="error")
    def error_line(self, job: JobRun) -> str:
        return job.error.splitlines()[0][:120] if job.error else ""

    @admin.display(description="error")
    def error_text(self, job: JobRun) -> str:
        if not job.error:
            return "-"
        return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', job.error)

    @admin.action(description="Run the selected finished jobs again")
    def run_again(self, request, queryset) -> None:
        for job in queryset:
            try:
                new_job = job_rerun(job=job, requested_by=request.user)
            except JobError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"Queued job #{new_job.pk} ({new_job.kind}).")
