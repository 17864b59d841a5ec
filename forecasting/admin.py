from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from stakeholders import charts
from stakeholders.csvimport import CsvImportError
from stakeholders.models import Utility

from .models import (
    AggregateForecast,
    ComplianceModelVersion,
    ForecastModel,
    ForecastRun,
    GridStatusHour,
    MeterDay,
    SeriesDay,
)
from .services.forecasts import building_forecast_values
from .services.models import ForecastError, forecast_model_promote, forecast_model_rollback
from .services.readings import readings_csv_import

MAX_UPLOAD_MB = 50


class ReadingsUploadForm(forms.Form):
    utility = forms.ModelChoiceField(queryset=Utility.objects.all())
    csv_file = forms.FileField(
        help_text="Columns: building_code, timestamp (interval start, YYYY-MM-DD HH:00, "
        "local time or with an offset), kwh. Larger files: manage.py import_readings."
    )

    def clean_csv_file(self):
        upload = self.cleaned_data["csv_file"]
        if upload.size > MAX_UPLOAD_MB * 2**20:
            raise forms.ValidationError(
                f"The file is over {MAX_UPLOAD_MB} MB: use manage.py import_readings."
            )
        return upload


def _hours_table(values) -> str:
    cells = (
        (f"{hour:02d}", "missing" if value != value else f"{value:.3f}")
        for hour, value in enumerate(values)
    )
    return format_html(
        "<table><tr><th>hour</th><th>kWh</th></tr>{}</table>",
        format_html_join("", "<tr><td>{}:00</td><td>{}</td></tr>", cells),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Series are written by imports only; the back office reads them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MeterDay)
class MeterDayAdmin(ReadOnlyAdmin):
    list_display = ("building", "day", "total_kwh", "peak_kw", "hours_present", "origin")
    list_filter = ("origin", "building__utility")
    search_fields = ("building__code", "building__name")
    date_hierarchy = "day"
    list_select_related = ("building",)
    show_full_result_count = False
    fields = ("building", "day", "origin", "total_kwh", "peak_kw", "hours")
    readonly_fields = fields
    change_list_template = "admin/forecasting/meterday/change_list.html"

    @admin.display(description="hours measured")
    def hours_present(self, day: MeterDay) -> str:
        return f"{day.hours_present}/24"

    @admin.display(description="hourly kWh")
    def hours(self, day: MeterDay) -> str:
        return _hours_table(day.hourly_kwh)

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="forecasting_meterday_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not request.user.has_perm("forecasting.add_meterday"):
            raise PermissionDenied
        form = ReadingsUploadForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            try:
                counts = readings_csv_import(
                    utility=form.cleaned_data["utility"],
                    stream=form.cleaned_data["csv_file"].read(),
                )
            except CsvImportError as exc:
                errors = exc.errors
            else:
                self.message_user(
                    request,
                    f"Imported {counts['rows']:,} readings for {counts['buildings']} building(s).",
                )
                return redirect(reverse("admin:forecasting_meterday_changelist"))
        return render(
            request,
            "admin/csv_upload.html",
            {
                **self.admin_site.each_context(request),
                "title": "Upload readings (CSV)",
                "form": form,
                "errors": errors,
                "opts": self.model._meta,
            },
        )


@admin.register(SeriesDay)
class SeriesDayAdmin(ReadOnlyAdmin):
    list_display = ("utility", "series", "day", "mean_value", "origin")
    list_filter = ("series", "utility", "origin")
    date_hierarchy = "day"
    list_select_related = ("utility",)
    fields = ("utility", "series", "day", "origin", "hours")
    readonly_fields = fields

    @admin.display(description="mean")
    def mean_value(self, day: SeriesDay) -> str:
        values = day.hourly_values
        present = values[values == values]
        return f"{present.mean():.3f}" if present.size else "-"

    @admin.display(description="hourly values")
    def hours(self, day: SeriesDay) -> str:
        return _hours_table(day.hourly_values)


@admin.register(ForecastModel)
class ForecastModelAdmin(ReadOnlyAdmin):
    """The model registry: versions with their held-out accuracy; promote or roll back."""

    list_display = (
        "utility",
        "version",
        "status",
        "trained_at",
        "buildings",
        "train_window",
        "lstm_cvrmse",
        "mean7_cvrmse",
        "coverage",
    )
    list_filter = ("status", "utility")
    list_select_related = ("utility",)
    actions = ("promote", "roll_back")
    exclude = ("weights",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ForecastModel._meta.fields if field.name != "weights"]

    def has_change_permission(self, request, obj=None):
        return obj is not None and request.user.is_staff  # to read it; every field is read-only

    @admin.display(description="trained on")
    def train_window(self, model):
        return f"{model.train_start} – {model.train_end}"

    @admin.display(description="LSTM CV(RMSE) median / total")
    def lstm_cvrmse(self, model):
        lstm = model.metrics.get("lstm", {})
        return f"{lstm.get('median_cvrmse_pct', '-')} % / {lstm.get('total_cvrmse_pct', '-')} %"

    @admin.display(description="7-day mean CV(RMSE) median / total")
    def mean7_cvrmse(self, model):
        mean7 = model.metrics.get("mean7", {})
        return f"{mean7.get('median_cvrmse_pct', '-')} % / {mean7.get('total_cvrmse_pct', '-')} %"

    @admin.display(description="P10-P90 coverage")
    def coverage(self, model):
        return model.metrics.get("p10_p90_coverage", "-")

    @admin.action(description="Promote the selected model to active for its utility")
    def promote(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to promote.", messages.WARNING)
            return
        try:
            model = forecast_model_promote(model=queryset.get())
        except ForecastError as exc:
            self.message_user(request, str(exc), messages.WARNING)
        else:
            self.message_user(
                request, f"Version {model.version} is now active for {model.utility}."
            )

    @admin.action(description="Roll back the selected model's utility to its previous version")
    def roll_back(self, request, queryset):
        for utility in {model.utility for model in queryset}:
            try:
                model = forecast_model_rollback(utility=utility)
            except ForecastError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"{utility}: version {model.version} is active again.")


class GridHourInline(admin.TabularInline):
    model = GridStatusHour
    fields = (
        "starts_at",
        "forecast_kw",
        "p90_kw",
        "capacity_kw",
        "strain_pct",
        "level",
        "kw_above_high",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(feeder__isnull=True)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ForecastRun)
class ForecastRunAdmin(ReadOnlyAdmin):
    list_display = (
        "utility",
        "day",
        "horizon_h",
        "model",
        "status",
        "chunks",
        "buildings",
        "flagged",
        "peak",
        "created_at",
    )
    list_filter = ("status", "utility")
    date_hierarchy = "day"
    list_select_related = ("utility", "model", "model__utility")
    inlines = (GridHourInline,)
    change_form_template = "admin/forecasting/forecastrun/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ForecastRun._meta.fields]

    def has_change_permission(self, request, obj=None):
        return obj is not None and request.user.is_staff

    @admin.display(description="chunks done")
    def chunks(self, run):
        return charts.bar(
            run.chunks_done / run.chunks_total, label=f"{run.chunks_done}/{run.chunks_total}"
        )

    @admin.display(description="peak P50 kW")
    def peak(self, run):
        hours = [hour.forecast_kw for hour in run.grid_hours.all() if hour.feeder_id is None]
        return f"{max(hours):,.1f}" if hours else "-"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("grid_hours")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        chart = None
        run = (
            ForecastRun.objects.filter(pk=object_id).select_related("utility").first()
            if object_id.isdigit()
            else None
        )
        total = run and AggregateForecast.objects.filter(run=run, feeder__isnull=True).first()
        if total:
            values = building_forecast_values(total)
            chart = charts.band_chart(
                values.p10, values.p50, values.p90,
                title=f"{run.utility} forecast for {run.day}: P50 with P10-P90, against capacity",
                unit="kW",
                reference=(run.utility.capacity_kw * run.utility.high_strain_pct / 100, "HIGH threshold"),
            )  # fmt: skip
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "forecast_chart": chart}
        )


@admin.register(ComplianceModelVersion)
class ComplianceModelVersionAdmin(ReadOnlyAdmin):
    """Compliance models learnt from verified outcomes, with their held-out scores."""

    list_display = ("utility", "version", "active", "outcomes", "auc", "brier", "trained_at")
    list_filter = ("active", "utility")
    exclude = ("weights",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ComplianceModelVersion._meta.fields if f.name != "weights"]

    def has_change_permission(self, request, obj=None):
        return obj is not None and request.user.is_staff

    @admin.display(description="AUC")
    def auc(self, model):
        return model.metrics.get("auc", "-")

    @admin.display(description="Brier")
    def brier(self, model):
        return model.metrics.get("brier", "-")
