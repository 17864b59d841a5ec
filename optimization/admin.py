from django.contrib import admin

from .models import DemandResponseEvent, EventTransition, Recommendation


class EventTransitionInline(admin.TabularInline):
    model = EventTransition
    extra = 0
    fields = ("at", "from_status", "to_status", "by", "note")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class RecommendationInline(admin.TabularInline):
    model = Recommendation
    extra = 0
    fields = (
        "building",
        "status",
        "depth_pct",
        "requested_kw",
        "compliance_probability",
        "expected_kw",
        "incentive_usd",
        "delivered_kw",
        "complied",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DemandResponseEvent)
class DemandResponseEventAdmin(admin.ModelAdmin):
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
    inlines = (RecommendationInline, EventTransitionInline)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in DemandResponseEvent._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
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

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Recommendation._meta.fields]

    def has_add_permission(self, request):
        return False
