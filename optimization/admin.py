from django.contrib import admin, messages

from jobs.services import job_create

from .models import DemandResponseEvent, EventTransition, OptimizationRun, Recommendation, SeasonRun
from .pages import season_page
from .services.events import (
    EventError,
    event_activate,
    event_cancel,
    event_complete,
    event_dispatch,
)


class ServiceWrittenAdmin(admin.ModelAdmin):
    """Rows that services write (events, recommendations): the back office reads them and acts
    through the actions, never by editing fields."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


class ReadOnlyInline(admin.TabularInline):
    """What services wrote about an event, shown under it: nothing added, edited or deleted."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class OptimizationRunInline(ReadOnlyInline):
    model = OptimizationRun
    fields = (
        "created_at", "solver", "candidates", "selected", "feasible", "objective_usd", "gap_pct",
        "p_target_met", "expected_kw", "p10_kw", "solve_s", "peak_mb",
    )  # fmt: skip


class EventTransitionInline(ReadOnlyInline):
    model = EventTransition
    fields = ("at", "from_status", "to_status", "by", "note")


class RecommendationInline(ReadOnlyInline):
    model = Recommendation
    fields = (
        "building",
        "status",
        "depth_pct",
        "requested_kw",
        "compliance_probability",
        "expected_kw",
        "incentive_usd",
        "delivered_kw",
        "settled_on",
        "baseline_sd_kw",
        "delivered_vs_forecast_kw",
        "complied",
    )
    show_change_link = True


@admin.register(DemandResponseEvent)
class DemandResponseEventAdmin(ServiceWrittenAdmin):
    """Events move through their life cycle by services (portal, API, jobs); the admin reads
    them with their audit history."""

    list_display = (
        "id",
        "utility",
        "feeder",
        "status",
        "strain",
        "starts_at",
        "ends_at",
        "target_kw",
        "p_target_met",
        "expected_kw",
        "delivered_kw",
        "target_met",
        "simulated",
    )
    list_filter = ("status", "strain", "source", "simulated", "utility")
    date_hierarchy = "starts_at"
    search_fields = ("utility__name", "feeder__name")
    list_select_related = ("utility", "feeder")
    inlines = (OptimizationRunInline, RecommendationInline, EventTransitionInline)
    actions = ("plan", "revisit", "dispatch", "activate", "complete", "verify", "cancel")

    def _each(self, request, queryset, service, done: str) -> None:
        for event in queryset:
            try:
                service(event=event, user=request.user)
            except EventError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"Event #{event.pk} {done}.")

    def _queue(self, request, queryset, kind: str, what: str) -> None:
        for event in queryset:
            job = job_create(kind=kind, params={"event_id": event.pk}, requested_by=request.user)
            self.message_user(request, f"Event #{event.pk}: {what} queued as job #{job.pk}.")

    @admin.action(description="Plan: choose buildings and depths (a job)")
    def plan(self, request, queryset):
        self._queue(request, queryset, "optimization.optimize", "planning")

    @admin.action(description="Revisit with the morning's readings: new target, plan again (a job)")
    def revisit(self, request, queryset):
        self._queue(request, queryset, "optimization.revisit", "revisiting")

    @admin.action(description="Dispatch the recommendations")
    def dispatch(self, request, queryset):
        self._each(request, queryset, event_dispatch, "dispatched")

    @admin.action(description="Mark active (the window has started)")
    def activate(self, request, queryset):
        self._each(request, queryset, event_activate, "is active")

    @admin.action(description="Mark completed (the window has ended)")
    def complete(self, request, queryset):
        self._each(request, queryset, event_complete, "completed")

    @admin.action(description="Verify what each building delivered (a job)")
    def verify(self, request, queryset):
        self._queue(request, queryset, "optimization.verify", "verification")

    @admin.action(description="Cancel the selected events")
    def cancel(self, request, queryset):
        def cancel_from_back_office(*, event, user):
            return event_cancel(
                event=event, user=user, reason=f"cancelled in the back office by {user}"
            )

        self._each(request, queryset, cancel_from_back_office, "cancelled")


@admin.register(Recommendation)
class RecommendationAdmin(ServiceWrittenAdmin):
    list_display = (
        "event",
        "building",
        "status",
        "depth_pct",
        "requested_kw",
        "compliance_probability",
        "expected_kw",
        "cost_saved_usd",
        "incentive_usd",
        "delivered_kw",
        "complied",
    )
    list_filter = ("status", "complied", "event__utility")
    search_fields = ("building__code", "building__name")
    list_select_related = ("event", "event__utility", "building")


@admin.register(SeasonRun)
class SeasonRunAdmin(admin.ModelAdmin):
    """Simulated seasons: synthetic utilities, simulated behaviour; labelled so."""

    list_display = (
        "created_at",
        "label",
        "buildings",
        "days",
        "peak_cut",
        "targets_met",
        "cost",
        "auc",
    )
    readonly_fields = [field.name for field in SeasonRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is not None and request.user.is_staff

    @admin.display(description="data")
    def label(self, run):
        return "SIMULATED (synthetic utility)"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id) if object_id else None
        page = season_page(run) if run is not None else None
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "season_page": page}
        )

    @admin.display(description="peak cut %")
    def peak_cut(self, run):
        return run.figures.get("peak_reduction_pct")

    @admin.display(description="targets met (verified)")
    def targets_met(self, run):
        return run.figures.get("target_met_share")

    @admin.display(description="cost $ (ours / blind / largest-first)")
    def cost(self, run):
        f = run.figures
        return f"{f.get('cost'):,.0f} / {f.get('cost_compliance_blind'):,.0f} / {f.get('cost_largest_first'):,.0f}"

    @admin.display(description="compliance AUC")
    def auc(self, run):
        return run.figures.get("compliance_auc")
