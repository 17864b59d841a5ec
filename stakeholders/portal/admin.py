"""The portal's records in the back office, read-only: report snapshots with their building
lines, the emergency protocol's acknowledgements; and who signs in: users, groups and the
sign-in throttle's records, scoped like every other admin."""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q

from stakeholders.admin_display import readable_table
from stakeholders.admin_scoping import ScopedAdmin, request_organization_ids
from stakeholders.formatting import kg, kwh, local_time, number, usd
from stakeholders.models import Membership
from stakeholders.selectors import sees_everything

from .models import ProtocolCheck, ReportBuildingLine, StakeholderReport


class ReadOnlyAdmin(ScopedAdmin):
    """Written by the portal's services only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StakeholderReport)
class StakeholderReportAdmin(ReadOnlyAdmin):
    organization_paths = ("organization", "utility__organization")
    list_display = ("__str__", "utility", "kind", "day", "simulated", "build_time", "created")
    list_filter = ("kind", "simulated", "utility")
    date_hierarchy = "day"
    list_select_related = ("utility", "event")
    fields = (
        "organization", "utility", "kind", "day", "event", "simulated", "data_label", "figures",
        "versions", "source_key", "build_time", "created",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="figures")
    def figures(self, report):
        # Its top-level sections, each with its own figures; long series summarised.
        return readable_table(report.data, timezone=report.utility.timezone, depth=1)

    @admin.display(description="model versions behind the figures")
    def versions(self, report):
        return readable_table(report.model_versions)

    @admin.display(description="computed in", ordering="build_s")
    def build_time(self, report):
        return f"{number(report.build_s, 2)} s"

    @admin.display(description="created", ordering="created_at")
    def created(self, report):
        return local_time(report.created_at, report.utility.timezone)


@admin.register(ReportBuildingLine)
class ReportBuildingLineAdmin(ReadOnlyAdmin):
    organization_paths = ("report__utility__organization", "owner")
    list_display = (
        "building", "owner", "report", "events", "complied", "asked", "delivered",
        "cost_saved", "carbon_saved", "incentive",
    )  # fmt: skip
    list_filter = ("report__utility",)
    search_fields = ("building__code", "building__name", "owner__name")
    list_select_related = ("building", "owner", "report__utility", "report__event")
    fields = (
        "report", "building", "owner", "events", "complied", "asked", "delivered",
        "cost_saved", "carbon_saved", "incentive",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="asked", ordering="asked_kwh")
    def asked(self, line):
        return kwh(line.asked_kwh)

    @admin.display(description="delivered", ordering="delivered_kwh")
    def delivered(self, line):
        return kwh(line.delivered_kwh)

    @admin.display(description="cost saved", ordering="cost_saved_usd")
    def cost_saved(self, line):
        return usd(line.cost_saved_usd)

    @admin.display(description="CO2 saved", ordering="carbon_saved_kg")
    def carbon_saved(self, line):
        return kg(line.carbon_saved_kg)

    @admin.display(description="incentive", ordering="incentive_usd")
    def incentive(self, line):
        return usd(line.incentive_usd)


@admin.register(ProtocolCheck)
class ProtocolCheckAdmin(ReadOnlyAdmin):
    organization_paths = ("event__utility__organization",)
    list_display = ("event", "step", "by", "acknowledged")
    list_select_related = ("event__utility", "by")
    fields = ("event", "step", "by", "acknowledged")
    readonly_fields = fields

    @admin.display(description="acknowledged", ordering="at")
    def acknowledged(self, check):
        return local_time(check.at, check.event.utility.timezone)


# Who signs in. Users are people of several organizations at once: their fellow members read
# them; only the program team adds, changes or removes one (a member of two utilities is not
# either utility's to take over).

User = get_user_model()


def _reregister(model, model_admin) -> None:
    """Put a scoped admin in place of the one its app registered (none where it registered
    none: axes registers its models only with AXES_ENABLE_ADMIN)."""
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, model_admin)


class ScopedUserAdmin(ScopedAdmin, UserAdmin):
    organization_paths = ()  # scoped by fellow membership, below

    def scope_queryset(self, request, queryset):
        if sees_everything(request.user):
            return queryset
        fellows = Membership.objects.filter(
            organization_id__in=request_organization_ids(request)
        ).values("user_id")
        return queryset.filter(Q(pk=request.user.pk) | Q(pk__in=fellows))

    def has_add_permission(self, request):
        return sees_everything(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return sees_everything(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return sees_everything(request.user) and super().has_delete_permission(request, obj)


class ScopedGroupAdmin(ScopedAdmin, GroupAdmin):
    """Groups grant permissions across every organization: the program team's alone."""


class ScopedAccessAttemptAdmin(ScopedAdmin, AccessAttemptAdmin):
    """Failed sign-ins of every organization's people: the program team's alone. Expired
    attempts are cleaned at each sign-in; deleting one (unlocking) is logged by the admin."""

    actions = ()


class ScopedAccessLogAdmin(ScopedAdmin, AccessLogAdmin):
    pass


class ScopedAccessFailureLogAdmin(ScopedAdmin, AccessFailureLogAdmin):
    pass


_reregister(User, ScopedUserAdmin)
_reregister(Group, ScopedGroupAdmin)
_reregister(AccessAttempt, ScopedAccessAttemptAdmin)
_reregister(AccessLog, ScopedAccessLogAdmin)
_reregister(AccessFailureLog, ScopedAccessFailureLogAdmin)
