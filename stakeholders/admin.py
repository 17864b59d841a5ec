"""The directory in the back office: organizations, utilities, feeders, buildings (with the
CSV upload) and memberships, each scoped to the staff user's organizations."""

from zoneinfo import available_timezones

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.utils.html import format_html

from forecasting.selectors import building_load_profile, next_forecast_day, with_load_summary
from forecasting.services.forecasts import forecast_run_create
from forecasting.services.models import ForecastError
from jobs.services import job_create

from . import charts
from .admin_scoping import (
    ScopedAdmin,
    ScopedRelatedFilter,
    ScopedTabularInline,
    related_scope,
    request_organization_ids,
    requires,
)
from .admin_upload import CsvFileField, CsvUploadAdmin, upload_page
from .formatting import kw, pct
from .models import (
    Building,
    Feeder,
    Membership,
    Organization,
    ProgramHoliday,
    Utility,
    holiday_countries,
)
from .selectors import sees_everything
from .services import building_upsert, building_validate, utility_ensure, utility_validate


def owner_choices(request) -> QuerySet[Organization]:
    """The owners a staff user may name for a building: their own organizations and the
    owners of buildings on their utilities' grids."""
    owners = Organization.objects.all()
    if sees_everything(request.user):
        return owners
    mine = request_organization_ids(request)
    return owners.filter(
        Q(pk__in=mine) | Q(buildings__utility__organization_id__in=mine)
    ).distinct()


class MembershipInline(ScopedTabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user", "buildings")


@admin.register(Organization)
class OrganizationAdmin(ScopedAdmin):
    organization_paths = ("pk",)
    list_display = ("name", "kind", "building_count", "member_count", "created_at")
    ordering = ("name",)  # the counts' GROUP BY drops the model's own ordering
    list_filter = ("kind",)
    search_fields = ("name",)
    inlines = (MembershipInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                building_count=Count("buildings", distinct=True),
                member_count=Count("memberships", distinct=True),
            )
        )

    @admin.display(description="buildings", ordering="building_count")
    def building_count(self, organization):
        return organization.building_count

    @admin.display(description="members", ordering="member_count")
    def member_count(self, organization):
        return organization.member_count


class FeederInline(ScopedTabularInline):
    model = Feeder
    extra = 0


class ProgramHolidayInline(ScopedTabularInline):
    """Days the program treats as holidays beyond the country's and region's public ones."""

    model = ProgramHoliday
    extra = 0


class UtilityForm(forms.ModelForm):
    """A utility as a newcomer sets it up: the zone and the holiday calendar from lists."""

    timezone = forms.ChoiceField(
        label="Time zone",
        choices=[("", "Choose the service area's zone")]
        + [(zone, zone) for zone in sorted(available_timezones()) if "/" in zone],
        help_text="IANA time zone of the service area; readings are read in its local time.",
    )
    country = forms.ChoiceField(
        choices=[("", "Choose the country")]
        + [(code, f"{name} ({code})") for code, name in holiday_countries()],
        help_text="Whose public holidays the forecasts know.",
    )

    class Meta:
        model = Utility
        fields = (
            "name", "capacity_kw", "high_strain_pct", "critical_strain_pct", "timezone",
            "country", "region",
        )  # fmt: skip
        labels = {
            "capacity_kw": "Grid capacity (kW)",
            "high_strain_pct": "HIGH from (% of capacity)",
            "critical_strain_pct": "CRITICAL from (% of capacity)",
        }

    def clean(self):
        cleaned = super().clean()
        problems = utility_validate(
            capacity_kw=cleaned.get("capacity_kw") or 0,
            high_strain_pct=cleaned.get("high_strain_pct") or 0,
            critical_strain_pct=cleaned.get("critical_strain_pct") or 0,
            timezone=cleaned.get("timezone", ""),
            country=cleaned.get("country", ""),
            region=cleaned.get("region", ""),
        )
        if problems:
            raise forms.ValidationError(
                [problem[:1].upper() + problem[1:] + "." for problem in problems]
            )
        return cleaned


@admin.register(Utility)
class UtilityAdmin(ScopedAdmin):
    organization_paths = ("organization",)
    form = UtilityForm
    list_display = (
        "name",
        "capacity",
        "high_strain",
        "critical_strain",
        "feeder_count",
        "building_count",
        "enrolled_count",
    )
    search_fields = ("name",)
    inlines = (FeederInline, ProgramHolidayInline)
    actions = ("train_model", "forecast_next_day")

    def save_model(self, request, obj, form, change):
        """Through the directory's service, which gives a new utility its own organization."""
        data = form.cleaned_data
        saved = utility_ensure(
            name=obj.name, capacity_kw=data["capacity_kw"], timezone=data["timezone"],
            country=data["country"], region=data["region"],
            high_strain_pct=data["high_strain_pct"], critical_strain_pct=data["critical_strain_pct"],
        )  # fmt: skip
        obj.pk, obj.organization_id = saved.pk, saved.organization_id

    def get_readonly_fields(self, request, obj=None):
        # The name identifies a utility and its organization: changing it would make another.
        return ("name",) if obj else ()

    # Training adds a forecast model and forecasting adds a run: those models' permissions.
    has_train_permission = requires("forecasting.add_forecastmodel")
    has_forecast_permission = requires("forecasting.add_forecastrun")

    @admin.action(
        description="Train a forecasting model (a job on the ml queue)", permissions=["train"]
    )
    def train_model(self, request, queryset):
        for utility in queryset:
            job = job_create(
                kind="forecasting.train",
                params={"utility_id": utility.pk},
                requested_by=request.user,
            )
            self.log_change(
                request, utility, f"Training of a forecasting model queued as job #{job.pk}."
            )
            self.message_user(request, f"{utility}: training queued as job #{job.pk}.")

    @admin.action(
        description="Forecast the day after its latest readings", permissions=["forecast"]
    )
    def forecast_next_day(self, request, queryset):
        for utility in queryset:
            try:
                run = forecast_run_create(
                    utility=utility,
                    day=next_forecast_day(utility=utility),
                    requested_by=request.user,
                )
            except ForecastError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                done = f"forecast for {run.day} queued in {run.chunks_total} chunk(s)"
                self.log_change(request, utility, f"{done.capitalize()} (run #{run.pk}).")
                self.message_user(request, f"{utility}: {done}.")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                feeder_count=Count("feeders", distinct=True),
                building_count=Count("buildings", distinct=True),
                enrolled_count=Count(
                    "buildings", filter=Q(buildings__enrolled=True), distinct=True
                ),
            )
        )

    @admin.display(description="capacity", ordering="capacity_kw")
    def capacity(self, utility):
        return kw(utility.capacity_kw)

    @admin.display(description="HIGH from", ordering="high_strain_pct")
    def high_strain(self, utility):
        return pct(utility.high_strain_pct)

    @admin.display(description="CRITICAL from", ordering="critical_strain_pct")
    def critical_strain(self, utility):
        return pct(utility.critical_strain_pct)

    @admin.display(description="feeders", ordering="feeder_count")
    def feeder_count(self, utility):
        return utility.feeder_count

    @admin.display(description="buildings", ordering="building_count")
    def building_count(self, utility):
        return utility.building_count

    @admin.display(description="enrolled", ordering="enrolled_count")
    def enrolled_count(self, utility):
        return utility.enrolled_count


@admin.register(Feeder)
class FeederAdmin(ScopedAdmin):
    organization_paths = ("utility__organization",)
    list_display = ("name", "utility", "capacity")
    list_filter = ("utility",)
    search_fields = ("name", "utility__name")
    list_select_related = ("utility",)

    @admin.display(description="capacity", ordering="capacity_kw")
    def capacity(self, feeder):
        return kw(feeder.capacity_kw)


class BuildingUploadForm(forms.Form):
    """Only the utilities and owners the user may name are offered (and accepted)."""

    utility = forms.ModelChoiceField(queryset=Utility.objects.none())
    owner = forms.ModelChoiceField(queryset=Organization.objects.none())
    csv_file = CsvFileField(
        command="import_buildings",
        help_text="Columns: code, name, building_type, floor_area_m2, tariff_usd_per_kwh, "
        "carbon_kg_per_kwh, curtailable_kw; optional feeder, pv_kw, battery_kwh, "
        "max_setpoint_change_c, max_events_per_month, enrolled_on, consent_by.",
    )

    def __init__(
        self, *args, utilities: QuerySet[Utility], owners: QuerySet[Organization], **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["utility"].queryset = utilities
        self.fields["owner"].queryset = owners


class FeederFilter(ScopedRelatedFilter):
    """Feeder choices named with their utility, in one query."""

    def choice_queryset(self, queryset):
        return queryset.select_related("utility")


class BuildingAdminForm(forms.ModelForm):
    class Meta:
        model = Building
        exclude: list[str] = []

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("utility"):
            problems = building_validate(
                utility=cleaned["utility"], feeder=cleaned.get("feeder"), fields=cleaned
            )
            if problems:
                raise forms.ValidationError([problem.capitalize() + "." for problem in problems])
        return cleaned


@admin.register(Building)
class BuildingAdmin(CsvUploadAdmin, ScopedAdmin):
    upload_url_name = "stakeholders_building_upload"
    upload_refusal = (
        "Uploading buildings needs the permissions to add and to change buildings. "
        "Nothing was imported."
    )
    organization_paths = ("utility__organization", "owner")
    form = BuildingAdminForm
    list_display = (
        "code",
        "name",
        "building_type",
        "feeder",
        "mean_kw",
        "peak_kw",
        "days_of_data",
        "curtailable",
        "enrolled",
        "origin",
    )
    list_filter = ("utility", "building_type", "enrolled", "origin", ("feeder", FeederFilter))
    search_fields = ("code", "name", "owner__name")
    list_select_related = ("utility", "feeder__utility", "owner")
    readonly_fields = ("created_at",)
    fieldsets = (
        (None, {"fields": ("code", "name", "owner", "utility", "feeder", "building_type")}),
        (
            "Energy",
            {
                "fields": (
                    "floor_area_m2",
                    "tariff_usd_per_kwh",
                    "carbon_kg_per_kwh",
                    "curtailable_kw",
                    "pv_kw",
                    "battery_kwh",
                )
            },
        ),
        (
            "Program",
            {
                "fields": (
                    "max_setpoint_change_c",
                    "max_events_per_month",
                    "enrolled",
                    "enrolled_on",
                    "consent_by",
                    "origin",
                    "created_at",
                )
            },
        ),
    )
    change_list_template = "admin/stakeholders/building/change_list.html"
    change_form_template = "admin/stakeholders/building/change_form.html"

    def get_queryset(self, request):
        return with_load_summary(super().get_queryset(request))

    def get_autocomplete_fields(self, request):
        # The program team picks among every owner by search; anyone else from the few
        # owners they may name (the organizations' search would not find the others).
        return ("owner",) if sees_everything(request.user) else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = owner_choices(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="mean kW", ordering="mean_daily_kwh")
    def mean_kw(self, building):
        return None if building.mean_daily_kwh is None else kw(building.mean_daily_kwh / 24)

    @admin.display(description="peak kW", ordering="peak_kw")
    def peak_kw(self, building):
        return None if building.peak_kw is None else kw(building.peak_kw)

    @admin.display(description="curtailable", ordering="curtailable_kw")
    def curtailable(self, building):
        return kw(building.curtailable_kw)

    @admin.display(description="days of data", ordering="days_of_data")
    def days_of_data(self, building):
        return building.days_of_data or 0

    def change_view(self, request, object_id, form_url="", extra_context=None):
        charts_html = None
        if object_id and object_id.isdigit():
            charts_html = self.load_charts(request, int(object_id))
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "load_charts": charts_html}
        )

    def load_charts(self, request, building_id: int):
        profile = building_load_profile(user=request.user, building_id=building_id)
        if profile is None or not profile.days:
            return "No readings yet."
        daily = charts.line_chart(
            profile.daily_kwh,
            title=f"Daily energy, {len(profile.days)} days ({profile.origin} data)",
            unit="kWh",
            labels=(str(profile.days[0]), str(profile.days[-1])),
        )
        week = charts.line_chart(
            profile.last_week_kw,
            title=f"Hourly load, the week from {profile.last_week_start}",
            unit="kW",
            labels=(str(profile.last_week_start), str(profile.days[-1])),
            colour="#7c3aed",
        )
        return format_html("{}<br>{}", daily, week)

    def get_readonly_fields(self, request, obj=None):
        # The code and utility identify a building: changing them would make another one.
        return (*self.readonly_fields, "code", "utility") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {
            name: value
            for name, value in form.cleaned_data.items()
            if name not in {"code", "utility", "owner"}
        }
        saved = building_upsert(utility=obj.utility, owner=obj.owner, code=obj.code, **fields)
        obj.pk = saved.pk

    def upload(self, request):
        form = BuildingUploadForm(
            request.POST or None,
            request.FILES or None,
            utilities=related_scope(request, Utility, self.admin_site),
            owners=owner_choices(request),
        )
        return upload_page(
            self, request, form=form, title="Upload buildings (CSV)",
            job_kind="stakeholders.import_buildings",
            params=lambda data: {"utility_id": data["utility"].pk, "owner_id": data["owner"].pk},
            describe=lambda result: f"Imported {result.get('buildings', 0):,} building(s).",
            what=f"buildings of {form.cleaned_data['owner']}" if form.is_bound and form.is_valid() else "",
        )  # fmt: skip


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    organization_paths = ("organization",)
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role", "organization__kind")
    search_fields = ("user__username", "organization__name")
    list_select_related = ("user", "organization")
    autocomplete_fields = ("user", "organization", "buildings")
