from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from forecasting.selectors import building_load_profile, next_forecast_day, with_load_summary
from forecasting.services.forecasts import forecast_run_create
from forecasting.services.models import ForecastError
from jobs.services import job_create

from . import charts
from .csvimport import CsvImportError
from .models import (
    Building,
    Feeder,
    Membership,
    Organization,
    Utility,
)
from .services import building_upsert, building_validate, buildings_csv_import


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "building_count", "member_count", "created_at")
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


class FeederInline(admin.TabularInline):
    model = Feeder
    extra = 0


@admin.register(Utility)
class UtilityAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "capacity_kw",
        "high_strain_pct",
        "critical_strain_pct",
        "feeder_count",
        "building_count",
        "enrolled_count",
    )
    search_fields = ("name",)
    inlines = (FeederInline,)
    actions = ("train_model", "forecast_next_day")

    @admin.action(description="Train a forecasting model (a job on the ml queue)")
    def train_model(self, request, queryset):
        for utility in queryset:
            job = job_create(
                kind="forecasting.train",
                params={"utility_id": utility.pk},
                requested_by=request.user,
            )
            self.message_user(request, f"{utility}: training queued as job #{job.pk}.")

    @admin.action(description="Forecast the day after its latest readings")
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
                self.message_user(
                    request,
                    f"{utility}: forecast for {run.day} queued in {run.chunks_total} chunk(s).",
                )

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
class FeederAdmin(admin.ModelAdmin):
    list_display = ("name", "utility", "capacity_kw")
    list_filter = ("utility",)
    search_fields = ("name", "utility__name")
    list_select_related = ("utility",)


class BuildingUploadForm(forms.Form):
    utility = forms.ModelChoiceField(queryset=Utility.objects.all())
    owner = forms.ModelChoiceField(queryset=Organization.objects.all())
    csv_file = forms.FileField(
        help_text="Columns: code, name, building_type, floor_area_m2, tariff_usd_per_kwh, "
        "carbon_kg_per_kwh, curtailable_kw; optional feeder, pv_kw, battery_kwh, "
        "max_setpoint_change_c, max_events_per_month, enrolled_on, consent_by."
    )


class FeederFilter(admin.RelatedFieldListFilter):
    """Feeder choices named with their utility, in one query."""

    def field_choices(self, field, request, model_admin):
        return [(feeder.pk, str(feeder)) for feeder in Feeder.objects.select_related("utility")]


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
class BuildingAdmin(admin.ModelAdmin):
    form = BuildingAdminForm
    list_display = (
        "code",
        "name",
        "building_type",
        "feeder",
        "mean_kw",
        "peak_kw",
        "days_of_data",
        "curtailable_kw",
        "enrolled",
        "origin",
    )
    list_filter = ("utility", "building_type", "enrolled", "origin", ("feeder", FeederFilter))
    search_fields = ("code", "name", "owner__name")
    list_select_related = ("utility", "feeder__utility", "owner")
    autocomplete_fields = ("owner",)
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

    @admin.display(description="mean kW", ordering="mean_daily_kwh")
    def mean_kw(self, building):
        return None if building.mean_daily_kwh is None else f"{building.mean_daily_kwh / 24:.2f}"

    @admin.display(description="peak kW", ordering="peak_kw")
    def peak_kw(self, building):
        return None if building.peak_kw is None else f"{building.peak_kw:.2f}"

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

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="stakeholders_building_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        form = BuildingUploadForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            try:
                counts = buildings_csv_import(
                    utility=form.cleaned_data["utility"],
                    owner=form.cleaned_data["owner"],
                    stream=form.cleaned_data["csv_file"].read(),
                )
            except CsvImportError as exc:
                errors = exc.errors
            else:
                self.message_user(request, f"Imported {counts['buildings']} building(s).")
                return redirect(reverse("admin:stakeholders_building_changelist"))
        return render(
            request,
            "admin/csv_upload.html",
            {
                **self.admin_site.each_context(request),
                "title": "Upload buildings (CSV)",
                "form": form,
                "errors": errors,
                "opts": self.model._meta,
            },
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role", "organization__kind")
    search_fields = ("user__username", "organization__name")
    list_select_related = ("user", "organization")
    autocomplete_fields = ("user", "organization")
