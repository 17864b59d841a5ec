"""DR events, their recommendations and simulated seasons in the back office: read-only pages
in the utility's own time zone, and the event actions, each a service call with a LogEntry."""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from jobs.services import job_create
from stakeholders.admin_display import readable_table
from stakeholders.admin_scoping import ScopedAdmin, requires
from stakeholders.formatting import (
    DASH,
    kg,
    kw,
    kwh,
    local_time,
    local_window,
    number,
    pct,
    share,
    usd,
)

from .models import DemandResponseEvent, EventTransition, OptimizationRun, Recommendation, SeasonRun
from .pages import season_page
from .services.events import (
    EventError,
    event_activate,
    event_cancel,
    event_complete,
    event_dispatch,
)


def _rate(value) -> str:
    return DASH if value is None else f"${number(value, 2)} per kWh"


class ServiceWrittenAdmin(ScopedAdmin):
    """Rows that services write (events, recommendations): the back office reads them and acts
    through the actions, never by editing or deleting them (their history is the audit)."""

    def get_readonly_fields(self, request, obj=None):
        return self.fields or [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """What services wrote about an event, shown under it: nothing added, edited or deleted."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OptimizationRunInline(ReadOnlyInline):
    model = OptimizationRun
    fields = (
        "solved", "solver", "candidates", "selected", "feasible", "objective", "gap",
        "p_met", "expected", "p10", "solve_time", "peak_memory",
    )  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event__utility")

    @admin.display(description="solved")
    def solved(self, run):
        return local_time(run.created_at, run.event.utility.timezone)

    @admin.display(description="objective")
    def objective(self, run):
        return usd(run.objective_usd)

    @admin.display(description="gap")
    def gap(self, run):
        return pct(run.gap_pct, 2)

    @admin.display(description="P(target met)")
    def p_met(self, run):
        return share(run.p_target_met)

    @admin.display(description="expected")
    def expected(self, run):
        return kw(run.expected_kw)

    @admin.display(description="P10")
    def p10(self, run):
        return kw(run.p10_kw)

    @admin.display(description="solve time")
    def solve_time(self, run):
        return f"{number(run.solve_s, 2)} s"

    @admin.display(description="peak memory")
    def peak_memory(self, run):
        return "–" if run.peak_mb is None else f"{number(run.peak_mb, 1)} MB"


class EventTransitionInline(ReadOnlyInline):
    model = EventTransition
    fields = ("when", "from_status", "to_status", "by", "note")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event__utility", "by")

    @admin.display(description="at")
    def when(self, transition):
        return local_time(transition.at, transition.event.utility.timezone)


class RecommendationInline(ReadOnlyInline):
    model = Recommendation
    fields = (
        "building", "status", "depth", "requested", "compliance", "expected", "incentive",
        "delivered", "settled_on", "baseline_sd", "delivered_vs_forecast", "complied",
    )  # fmt: skip
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("building")

    @admin.display(description="depth")
    def depth(self, rec):
        return pct(rec.depth_pct, 0)

    @admin.display(description="requested")
    def requested(self, rec):
        return kw(rec.requested_kw)

    @admin.display(description="P(complies)")
    def compliance(self, rec):
        return share(rec.compliance_probability)

    @admin.display(description="expected")
    def expected(self, rec):
        return kw(rec.expected_kw)

    @admin.display(description="incentive")
    def incentive(self, rec):
        return usd(rec.incentive_usd)

    @admin.display(description="delivered")
    def delivered(self, rec):
        return kw(rec.delivered_kw)

    @admin.display(description="baseline sd")
    def baseline_sd(self, rec):
        return kw(rec.baseline_sd_kw)

    @admin.display(description="delivered against the forecast")
    def delivered_vs_forecast(self, rec):
        return kw(rec.delivered_vs_forecast_kw)


@admin.register(DemandResponseEvent)
class DemandResponseEventAdmin(ServiceWrittenAdmin):
    """Events move through their life cycle by services (portal, API, jobs); the admin reads
    them with their audit history and runs the same services as actions."""

    organization_paths = ("utility__organization",)
    list_display = (
        "id",
        "utility",
        "feeder",
        "status",
        "strain",
        "window",
        "target",
        "p_met",
        "expected",
        "delivered",
        "target_met",
        "simulated",
    )
    list_filter = ("status", "strain", "source", "simulated", "utility")
    date_hierarchy = "starts_at"
    search_fields = ("utility__name", "feeder__name")
    list_select_related = ("utility", "feeder")
    fields = (
        "utility", "feeder", "status", "source", "strain", "simulated", "window", "target",
        "accepted_risk", "incentive_rate", "p_met", "expected", "model_expected", "p10",
        "own_sd", "delivered", "target_met", "revisited", "comparison_group",
        "forecast_correction_factor", "created_by", "created",
    )  # fmt: skip
    inlines = (OptimizationRunInline, RecommendationInline, EventTransitionInline)
    actions = ("plan", "revisit", "dispatch", "activate", "complete", "verify", "cancel")

    # Each action moves the event on (or queues the job that does): the change permission on
    # events, although the page itself stays read-only.
    has_act_permission = requires("change")

    @admin.display(description="window", ordering="starts_at")
    def window(self, event):
        return local_window(event.starts_at, event.ends_at, event.utility.timezone)

    @admin.display(description="target", ordering="target_kw")
    def target(self, event):
        return kw(event.target_kw)

    @admin.display(description="P(target met)", ordering="p_target_met")
    def p_met(self, event):
        return share(event.p_target_met)

    @admin.display(description="expected", ordering="expected_kw")
    def expected(self, event):
        return kw(event.expected_kw)

    @admin.display(description="delivered", ordering="delivered_kw")
    def delivered(self, event):
        return kw(event.delivered_kw)

    @admin.display(description="accepted risk of missing the target")
    def accepted_risk(self, event):
        return share(event.risk_eps)

    @admin.display(description="incentive")
    def incentive_rate(self, event):
        return _rate(event.incentive_usd_per_kwh)

    @admin.display(description="expected by the compliance model alone")
    def model_expected(self, event):
        return kw(event.model_expected_kw)

    @admin.display(description="P10 of what the plan delivers")
    def p10(self, event):
        return kw(event.p10_kw)

    @admin.display(description="the plan's own sd")
    def own_sd(self, event):
        return kw(event.own_sd_kw)

    @admin.display(description="revisited")
    def revisited(self, event):
        return local_time(event.revisited_at, event.utility.timezone)

    @admin.display(description="actual / forecast load (comparison group)")
    def forecast_correction_factor(self, event):
        return number(event.forecast_correction, 3)

    @admin.display(description="created")
    def created(self, event):
        return local_time(event.created_at, event.utility.timezone)

    def _each(self, request, queryset, service, done: str) -> None:
        for event in queryset:
            try:
                service(event=event, user=request.user)
            except EventError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.log_change(request, event, f"{done.capitalize()} in the back office.")
                self.message_user(request, f"Event #{event.pk} {done}.")

    def _queue(self, request, queryset, kind: str, what: str) -> None:
        for event in queryset:
            job = job_create(kind=kind, params={"event_id": event.pk}, requested_by=request.user)
            self.log_change(request, event, f"{what.capitalize()} queued as job #{job.pk}.")
            self.message_user(request, f"Event #{event.pk}: {what} queued as job #{job.pk}.")

    @admin.action(description="Plan: choose buildings and depths (a job)", permissions=["act"])
    def plan(self, request, queryset):
        self._queue(request, queryset, "optimization.optimize", "planning")

    @admin.action(
        description="Revisit with the morning's readings: new target, plan again (a job)",
        permissions=["act"],
    )
    def revisit(self, request, queryset):
        self._queue(request, queryset, "optimization.revisit", "revisiting")

    @admin.action(description="Dispatch the recommendations", permissions=["act"])
    def dispatch(self, request, queryset):
        self._each(request, queryset, event_dispatch, "dispatched")

    @admin.action(description="Mark active (the window has started)", permissions=["act"])
    def activate(self, request, queryset):
        self._each(request, queryset, event_activate, "made active")

    @admin.action(description="Mark completed (the window has ended)", permissions=["act"])
    def complete(self, request, queryset):
        self._each(request, queryset, event_complete, "completed")

    @admin.action(description="Verify what each building delivered (a job)", permissions=["act"])
    def verify(self, request, queryset):
        self._queue(request, queryset, "optimization.verify", "verification")

    @admin.action(description="Cancel the selected events", permissions=["act"])
    def cancel(self, request, queryset):
        def cancel_from_back_office(*, event, user):
            return event_cancel(
                event=event, user=user, reason=f"cancelled in the back office by {user}"
            )

        self._each(request, queryset, cancel_from_back_office, "cancelled")


def steps_list(actions) -> str:
    """A recommendation's ordered steps, as a list a facility manager reads."""
    if not actions:
        return DASH
    return format_html(
        "<ol>{}</ol>",
        format_html_join(
            "",
            "<li><b>{}</b>: {}</li>",
            (
                (str(step.get("action", "")).capitalize(), step.get("detail", ""))
                for step in actions
                if isinstance(step, dict)
            ),
        ),
    )


@admin.register(Recommendation)
class RecommendationAdmin(ServiceWrittenAdmin):
    # The utility's staff read what was asked on its grid; an owner's what its buildings were.
    organization_paths = ("event__utility__organization", "building__owner")
    list_display = (
        "event",
        "building",
        "status",
        "depth",
        "requested",
        "compliance",
        "expected",
        "cost_saved",
        "incentive",
        "delivered",
        "complied",
    )
    list_filter = ("status", "complied", "event__utility")
    search_fields = ("building__code", "building__name")
    list_select_related = ("event", "event__utility", "building")
    fields = (
        "event", "building", "status", "depth", "requested", "compliance", "expected",
        "expected_energy", "cost_saved", "carbon_saved", "incentive", "comfort_impact", "steps",
        "guidance", "responded", "responded_by", "decline_reason", "baseline", "baseline_sd",
        "delivered", "complied", "settled_on", "forecast_baseline", "delivered_vs_forecast",
        "what_the_model_saw", "compliance_model_version", "created",
    )  # fmt: skip

    def _zone(self, rec) -> str:
        return rec.event.utility.timezone

    @admin.display(description="depth", ordering="depth_pct")
    def depth(self, rec):
        return pct(rec.depth_pct, 0)

    @admin.display(description="requested", ordering="requested_kw")
    def requested(self, rec):
        return kw(rec.requested_kw)

    @admin.display(description="P(complies)", ordering="compliance_probability")
    def compliance(self, rec):
        return share(rec.compliance_probability)

    @admin.display(description="expected", ordering="expected_kw")
    def expected(self, rec):
        return kw(rec.expected_kw)

    @admin.display(description="expected energy")
    def expected_energy(self, rec):
        return kwh(rec.expected_kwh)

    @admin.display(description="cost saved", ordering="cost_saved_usd")
    def cost_saved(self, rec):
        return usd(rec.cost_saved_usd)

    @admin.display(description="CO2 saved")
    def carbon_saved(self, rec):
        return kg(rec.carbon_saved_kg)

    @admin.display(description="incentive", ordering="incentive_usd")
    def incentive(self, rec):
        return usd(rec.incentive_usd)

    @admin.display(description="steps")
    def steps(self, rec):
        return steps_list(rec.actions)

    @admin.display(description="answered")
    def responded(self, rec):
        return local_time(rec.responded_at, self._zone(rec))

    @admin.display(description="baseline")
    def baseline(self, rec):
        return kw(rec.baseline_kw)

    @admin.display(description="baseline sd")
    def baseline_sd(self, rec):
        return kw(rec.baseline_sd_kw)

    @admin.display(description="delivered", ordering="delivered_kw")
    def delivered(self, rec):
        return kw(rec.delivered_kw)

    @admin.display(description="forecast counterfactual")
    def forecast_baseline(self, rec):
        return kw(rec.forecast_baseline_kw)

    @admin.display(description="delivered against the forecast")
    def delivered_vs_forecast(self, rec):
        return kw(rec.delivered_vs_forecast_kw)

    @admin.display(description="what the compliance model saw")
    def what_the_model_saw(self, rec):
        return readable_table(rec.features)

    @admin.display(description="created")
    def created(self, rec):
        return local_time(rec.created_at, self._zone(rec))


# A season's costs are dollars although their keys do not say so.
SEASON_FORMATS = dict.fromkeys(("cost", "cost_compliance_blind", "cost_largest_first"), usd)


@admin.register(SeasonRun)
class SeasonRunAdmin(ScopedAdmin):
    """Simulated seasons: synthetic utilities, simulated behaviour; labelled so. No
    organization's: the program team's alone."""

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
    fields = (
        "label", "buildings", "seed", "first_day", "days", "capacity", "headline", "job",
        "created_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="data")
    def label(self, run):
        return "SIMULATED (synthetic utility)"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id) if object_id else None
        page = season_page(run) if run is not None else None
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "season_page": page}
        )

    @admin.display(description="peak cut")
    def peak_cut(self, run):
        return pct(run.figures.get("peak_reduction_pct"))

    @admin.display(description="targets met (verified)")
    def targets_met(self, run):
        return share(run.figures.get("target_met_share"))

    @admin.display(description="incentive cost (ours / blind / largest-first)")
    def cost(self, run):
        f = run.figures
        return " / ".join(
            usd(f.get(key)) for key in ("cost", "cost_compliance_blind", "cost_largest_first")
        )

    @admin.display(description="compliance AUC")
    def auc(self, run):
        return number(run.figures.get("compliance_auc"), 3)

    @admin.display(description="capacity")
    def capacity(self, run):
        return kw(run.capacity_kw)

    @admin.display(description="headline figures")
    def headline(self, run):
        return readable_table(run.figures, formats=SEASON_FORMATS)
