"""The program's delivery records in the back office: the program team's alone (no
organization's rows), saved and moved on through the delivery services, each change logged."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from stakeholders import charts
from stakeholders.admin_scoping import ScopedAdmin, refused
from stakeholders.formatting import number
from stakeholders.selectors import sees_everything

from .models import (
    KPI,
    ChangeRecord,
    Deliverable,
    KPIMeasurement,
    Milestone,
    Program,
    QARun,
    Risk,
    Sprint,
    Task,
    UserStory,
)
from .selectors import (
    kpis_with_latest,
    milestones_with_progress,
    program_overview,
    sprints_with_points,
)
from .services.records import (
    DeliveryError,
    delivery_record_save,
    kpi_measure,
    milestone_complete,
    risk_review,
    sprint_close,
    sprint_start,
    task_complete,
)


class ServiceSavedAdmin(ScopedAdmin):
    """Saves the object and its inline rows through the delivery service (audit included).
    Names no organization path: the program team's alone."""

    def save_model(self, request, obj, form, change):
        delivery_record_save(instance=obj, user=request.user)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            deleted.delete()
        for instance in instances:
            delivery_record_save(instance=instance, user=request.user)

    def run_service(self, request, queryset, service, done: str, logged: str, **kwargs):
        """Run `service` on each selected row; a LogEntry saying `logged` for each it moved."""
        succeeded = 0
        for obj in queryset:
            try:
                service(user=request.user, **{self.model._meta.model_name: obj}, **kwargs)
            except DeliveryError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                succeeded += 1
                self.log_change(request, obj, logged)
        if succeeded:
            self.message_user(request, f"{succeeded} {done}.")


@admin.register(Program)
class ProgramAdmin(ServiceSavedAdmin):
    list_display = ("name", "organization", "starts_on", "ends_on", "overview_link")
    search_fields = ("name",)

    @admin.display(description="overview")
    def overview_link(self, program):
        return format_html('<a href="overview/?program={}">Overview</a>', program.pk)

    def get_urls(self):
        return [
            path(
                "overview/",
                self.admin_site.admin_view(self.overview_view),
                name="projects_program_overview",
            ),
            *super().get_urls(),
        ]

    def overview_view(self, request):
        if not (sees_everything(request.user) and self.has_view_permission(request)):
            return refused(request, self, "The program overview is the program team's.")
        program_id = request.GET.get("program")
        overview = program_overview(
            user=request.user,
            program_id=int(program_id) if program_id and program_id.isdigit() else None,
        )
        sprint_bars = []
        if overview:
            for sprint in overview.sprints:
                committed = sprint.points_committed or 0
                sprint_bars.append(
                    (
                        sprint,
                        charts.bar(
                            (sprint.points_done / committed) if committed else 0,
                            label=f"{sprint.points_done} of {committed} points",
                        ),
                    )
                )
        return TemplateResponse(
            request,
            "admin/projects/overview.html",
            {
                **self.admin_site.each_context(request),
                "title": "Program overview",
                "overview": overview,
                "sprint_bars": sprint_bars,
                "opts": Program._meta,
            },
        )


class StoryInline(admin.TabularInline):
    model = UserStory
    extra = 0
    fields = ("title", "points", "priority", "status", "team")


@admin.register(Sprint)
class SprintAdmin(ServiceSavedAdmin):
    list_display = (
        "number",
        "goal",
        "program",
        "starts_on",
        "ends_on",
        "status",
        "capacity_points",
        "points",
    )
    list_filter = ("status", "program")
    search_fields = ("goal",)
    inlines = (StoryInline,)
    actions = ("start", "close")

    def get_queryset(self, request):
        return sprints_with_points(super().get_queryset(request))

    @admin.display(description="points done / committed")
    def points(self, sprint):
        committed = sprint.points_committed or 0
        over = committed > sprint.capacity_points
        return charts.bar(
            sprint.points_done / committed if committed else 0,
            label=f"{sprint.points_done} / {committed}" + (" (over capacity)" if over else ""),
            colour="#b91c1c" if over else "#15803d",
        )

    @admin.action(description="Start the selected sprint", permissions=["change"])
    def start(self, request, queryset):
        self.run_service(request, queryset, sprint_start, "sprint(s) started", "Started.")

    @admin.action(
        description="Close the selected sprints (unfinished stories go to the backlog)",
        permissions=["change"],
    )
    def close(self, request, queryset):
        self.run_service(
            request, queryset, sprint_close, "sprint(s) closed",
            "Closed; its unfinished stories went back to the backlog.",
        )  # fmt: skip


@admin.register(UserStory)
class UserStoryAdmin(ServiceSavedAdmin):
    list_display = ("title", "sprint", "points", "priority", "status", "team")
    list_filter = ("status", "priority", "team", "sprint")
    search_fields = ("title", "narrative")
    list_select_related = ("sprint",)
    list_editable = ("status",)


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    fields = ("title", "status", "assignee", "estimate_h", "story")
    autocomplete_fields = ("story",)


@admin.register(Milestone)
class MilestoneAdmin(ServiceSavedAdmin):
    list_display = ("name", "program", "sprint", "target_date", "status", "progress")
    list_filter = ("status", "program", "sprint")
    search_fields = ("name",)
    date_hierarchy = "target_date"
    inlines = (TaskInline,)
    actions = ("complete",)

    def get_queryset(self, request):
        return milestones_with_progress(super().get_queryset(request))

    @admin.display(description="progress (tasks done)", ordering="tasks_done")
    def progress(self, milestone):
        total = milestone.tasks_total
        share = milestone.tasks_done / total if total else 0.0
        return charts.bar(share, label=f"{share:.0%} ({milestone.tasks_done}/{total})")

    @admin.action(description="Mark the selected milestones done", permissions=["change"])
    def complete(self, request, queryset):
        self.run_service(request, queryset, milestone_complete, "milestone(s) done", "Done.")


@admin.register(Task)
class TaskAdmin(ServiceSavedAdmin):
    list_display = ("title", "milestone", "status", "assignee", "estimate_h")
    list_filter = ("status", "milestone__program", "milestone")
    search_fields = ("title",)
    list_select_related = ("milestone", "assignee")
    actions = ("complete",)

    @admin.action(description="Mark the selected tasks done", permissions=["change"])
    def complete(self, request, queryset):
        self.run_service(request, queryset, task_complete, "task(s) done", "Done.")


class QARunInline(admin.TabularInline):
    model = QARun
    extra = 0
    fields = (
        "kind",
        "run_at",
        "measured_value",
        "comparison",
        "threshold",
        "unit",
        "passed",
        "evidence",
    )


@admin.register(Deliverable)
class DeliverableAdmin(ServiceSavedAdmin):
    list_display = ("name", "program", "milestone", "status", "due_date", "owner", "qa_summary")
    list_filter = ("status", "program")
    search_fields = ("name", "description")
    list_select_related = ("program", "milestone")
    inlines = (QARunInline,)

    @admin.display(description="QA runs")
    def qa_summary(self, deliverable):
        runs = list(deliverable.qa_runs.all())
        if not runs:
            return "none yet"
        passed = sum(run.passed for run in runs)
        return f"{passed} of {len(runs)} passed"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("qa_runs")


RISK_COLOURS = {
    range(1, 5): "#15803d",
    range(5, 10): "#ca8a04",
    range(10, 16): "#ea580c",
    range(16, 26): "#b91c1c",
}


@admin.register(Risk)
class RiskAdmin(ServiceSavedAdmin):
    list_display = (
        "title",
        "nature",
        "category",
        "probability",
        "impact",
        "score_badge",
        "owner",
        "status",
        "next_review",
    )
    list_filter = ("nature", "category", "status", "probability", "impact")
    search_fields = ("title", "description", "mitigation", "contingency", "owner")
    readonly_fields = ("score",)
    actions = ("reviewed",)

    @admin.display(description="score", ordering="score")
    def score_badge(self, risk):
        colour = next(c for band, c in RISK_COLOURS.items() if risk.score in band)
        return format_html(
            '<b style="color:#fff;background:{};padding:1px 7px;border-radius:8px">{}</b>',
            colour,
            risk.score,
        )

    @admin.action(
        description="Record a review of the selected risks (next review in 30 days)",
        permissions=["change"],
    )
    def reviewed(self, request, queryset):
        self.run_service(
            request, queryset, risk_review, "risk(s) reviewed", "Reviewed; next review in 30 days."
        )


@admin.register(QARun)
class QARunAdmin(ServiceSavedAdmin):
    list_display = ("deliverable", "kind", "run_at", "measured", "comparison", "limit", "passed")
    list_filter = ("kind", "passed")
    search_fields = ("deliverable__name", "evidence")
    list_select_related = ("deliverable",)

    @admin.display(description="measured", ordering="measured_value")
    def measured(self, run):
        return f"{number(run.measured_value, 2)} {run.unit}"

    @admin.display(description="threshold", ordering="threshold")
    def limit(self, run):
        return f"{number(run.threshold, 2)} {run.unit}"


class MeasurementInline(admin.TabularInline):
    """Past measurements are records: read them, add a manual one for a hand-kept KPI."""

    model = KPIMeasurement
    extra = 0
    fields = ("measured_at", "value", "source", "note", "recorded_by")
    readonly_fields = ("source", "recorded_by")
    ordering = ("-measured_at",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return obj is None or not obj.metric_key


@admin.register(KPI)
class KPIAdmin(ServiceSavedAdmin):
    list_display = (
        "name",
        "category",
        "direction",
        "goal",
        "latest",
        "met",
        "measured_by",
    )
    list_filter = ("category", "direction", "program")
    search_fields = ("name", "metric_key")
    inlines = (MeasurementInline,)

    def get_queryset(self, request):
        return kpis_with_latest(super().get_queryset(request))

    @admin.display(description="latest", ordering="latest_value")
    def latest(self, kpi):
        if kpi.latest_value is None:
            return "no measurement yet"
        return f"{number(kpi.latest_value, 2)} {kpi.unit}"

    @admin.display(description="target", ordering="target")
    def goal(self, kpi):
        return f"{number(kpi.target, 2)} {kpi.unit}"

    @admin.display(description="target met", boolean=True)
    def met(self, kpi):
        return None if kpi.latest_value is None else kpi.is_met(kpi.latest_value)

    @admin.display(description="measured by")
    def measured_by(self, kpi):
        return f"system ({kpi.metric_key})" if kpi.metric_key else "hand"

    def save_formset(self, request, form, formset, change):
        if formset.model is not KPIMeasurement:
            return super().save_formset(request, form, formset, change)
        for instance in formset.save(commit=False):
            try:
                kpi_measure(
                    kpi=form.instance,
                    value=instance.value,
                    source=KPIMeasurement.Source.MANUAL,
                    measured_at=instance.measured_at,
                    note=instance.note,
                    user=request.user,
                )
            except DeliveryError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        return None


@admin.register(KPIMeasurement)
class KPIMeasurementAdmin(ScopedAdmin):
    list_display = ("kpi", "measured", "measured_at", "source", "note", "recorded_by")
    list_filter = ("source", "kpi__category", "kpi")
    date_hierarchy = "measured_at"
    list_select_related = ("kpi", "recorded_by")

    @admin.display(description="value", ordering="value")
    def measured(self, measurement):
        return f"{number(measurement.value, 2)} {measurement.kpi.unit}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ScopedAdmin):
    list_display = ("changed_at", "object_type", "object_label", "changed_fields", "changed_by")
    list_filter = ("object_type",)
    search_fields = ("object_label",)
    list_select_related = ("changed_by",)

    @admin.display(description="changed")
    def changed_fields(self, record):
        return ", ".join(record.changes)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
