"""Readings, series, the model registry and forecast runs in the back office: read-only
pages scoped to the staff user's utilities, the readings upload, promote and roll back."""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.html import format_html, format_html_join

from stakeholders import charts
from stakeholders.admin_display import readable_table
from stakeholders.admin_scoping import ScopedAdmin, related_scope, requires
from stakeholders.admin_upload import CsvFileField, CsvUploadAdmin, upload_page
from stakeholders.formatting import (
    DASH,
    kw,
    kwh,
    local_day,
    local_time,
    number,
    pct,
    share,
)
from stakeholders.localtime import hour_starts
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


class ReadingsUploadForm(forms.Form):
    """Only the utilities the user may name are offered (and accepted)."""

    utility = forms.ModelChoiceField(queryset=Utility.objects.none())
    csv_file = CsvFileField(
        command="import_readings",
        help_text="Columns: building_code, timestamp (interval start: local time "
        "YYYY-MM-DD HH:00, or with its UTC offset, which the fall-back day's repeated hour "
        "needs), kwh.",
    )

    def __init__(self, *args, utilities: QuerySet[Utility], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["utility"].queryset = utilities


class WeatherUploadForm(ReadingsUploadForm):
    KINDS = (
        ("measured", "Measured: temperature_c and optionally humidity_pct"),
        ("forecasts", "Day-ahead forecasts: temperature_c forecast for each hour"),
    )

    kind = forms.ChoiceField(choices=KINDS, widget=forms.RadioSelect, initial="measured")
    csv_file = CsvFileField(
        command="import_weather",
        help_text="Columns: timestamp (as for readings), temperature_c, and for measurements "
        "optionally humidity_pct.",
    )


def _readings_summary(result: dict) -> str:
    return (
        f"Imported {result.get('rows', 0):,} readings for {result.get('buildings', 0):,} "
        f"building(s), {result.get('days', 0):,} building-days."
    )


def _weather_summary(result: dict) -> str:
    return (
        f"Imported {result.get('rows', 0):,} hours over {result.get('days', 0):,} day(s): "
        f"{', '.join(result.get('series', []))}."
    )


def _hours_table(values, write, unit: str, day, timezone: str, repeated=None) -> str:
    """Every hour that happened on the local day, labelled with its zone: 23 rows on the
    spring-forward day, 25 on the fall-back day (its repeated hour's second pass from
    `repeated`)."""
    rows, seen = [], set()
    for slot, moment in hour_starts(day, ZoneInfo(timezone)):
        value = repeated if slot in seen else values[slot]
        seen.add(slot)
        present = value is not None and value == value
        rows.append((local_time(moment, timezone, "%H:%M"), write(value) if present else "missing"))
    return format_html(
        "<table><tr><th>hour</th><th>{}</th></tr>{}</table>",
        unit,
        format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows),
    )


# How each utility-wide series reads: its unit and its rounding.
SERIES_FORMATS = {
    SeriesDay.Series.TEMPERATURE_C: lambda v: f"{number(v, 1)} °C",
    SeriesDay.Series.TEMPERATURE_FORECAST_C: lambda v: f"{number(v, 1)} °C",
    SeriesDay.Series.HUMIDITY_PCT: pct,
    SeriesDay.Series.PRICE_USD_PER_KWH: lambda v: f"${number(v, 3)} per kWh",
    SeriesDay.Series.CARBON_KG_PER_KWH: lambda v: f"{number(v, 3)} kg per kWh",
}


class ReadOnlyAdmin(ScopedAdmin):
    """Series, models and runs are written by imports and jobs only; the back office reads
    them (the model's view permission)."""

    organization_paths = ("utility__organization",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MeterDay)
class MeterDayAdmin(CsvUploadAdmin, ReadOnlyAdmin):
    upload_url_name = "forecasting_meterday_upload"
    upload_refusal = (
        "Uploading readings needs the permissions to add and to change meter days. "
        "Nothing was imported."
    )
    # A building's owner reads its own buildings' readings too.
    organization_paths = ("building__utility__organization", "building__owner")
    list_display = ("building", "day", "total", "peak", "hours_present", "origin")
    list_filter = ("origin", "building__utility")
    search_fields = ("building__code", "building__name")
    date_hierarchy = "day"
    list_select_related = ("building",)
    show_full_result_count = False
    fields = ("building", "day", "origin", "total", "peak", "hours")
    readonly_fields = fields
    change_list_template = "admin/forecasting/meterday/change_list.html"

    @admin.display(description="total", ordering="total_kwh")
    def total(self, day: MeterDay) -> str:
        return kwh(day.total_kwh)

    @admin.display(description="peak", ordering="peak_kw")
    def peak(self, day: MeterDay) -> str:
        return kw(day.peak_kw)

    @admin.display(description="hours measured")
    def hours_present(self, day: MeterDay) -> str:
        return f"{day.hours_present}/24"

    @admin.display(description="hourly kWh")
    def hours(self, day: MeterDay) -> str:
        return _hours_table(
            day.hourly_kwh, kwh, "kWh", day.day, day.building.utility.timezone, day.repeated_kwh
        )

    def upload(self, request):
        form = ReadingsUploadForm(
            request.POST or None,
            request.FILES or None,
            utilities=related_scope(request, Utility, self.admin_site),
        )
        return upload_page(
            self, request, form=form, title="Upload readings (CSV)",
            job_kind="forecasting.import_readings",
            params=lambda data: {"utility_id": data["utility"].pk},
            describe=_readings_summary,
            what="readings",
        )  # fmt: skip


@admin.register(SeriesDay)
class SeriesDayAdmin(CsvUploadAdmin, ReadOnlyAdmin):
    upload_url_name = "forecasting_seriesday_upload"
    upload_refusal = (
        "Uploading weather needs the permissions to add and to change series days. "
        "Nothing was imported."
    )
    list_display = ("utility", "series", "day", "mean_value", "origin")
    list_filter = ("series", "utility", "origin")
    date_hierarchy = "day"
    list_select_related = ("utility",)
    fields = ("utility", "series", "day", "origin", "hours")
    readonly_fields = fields
    change_list_template = "admin/forecasting/seriesday/change_list.html"

    def upload(self, request):
        form = WeatherUploadForm(
            request.POST or None,
            request.FILES or None,
            utilities=related_scope(request, Utility, self.admin_site),
        )
        return upload_page(
            self, request, form=form, title="Upload weather (CSV)",
            job_kind="forecasting.import_weather",
            params=lambda data: {
                "utility_id": data["utility"].pk, "forecasts": data["kind"] == "forecasts"
            },
            describe=_weather_summary,
            what="weather",
        )  # fmt: skip

    @admin.display(description="mean")
    def mean_value(self, day: SeriesDay) -> str:
        values = day.hourly_values
        present = values[values == values]
        return SERIES_FORMATS[day.series](float(present.mean())) if present.size else DASH

    @admin.display(description="hourly values")
    def hours(self, day: SeriesDay) -> str:
        return _hours_table(
            day.hourly_values, SERIES_FORMATS[day.series], day.get_series_display(), day.day,
            day.utility.timezone,
        )  # fmt: skip


def _cvrmse(metrics: dict, name: str) -> str:
    scores = metrics.get(name, {})
    return f"{pct(scores.get('median_cvrmse_pct'))} / {pct(scores.get('total_cvrmse_pct'))}"


@admin.register(ForecastModel)
class ForecastModelAdmin(ReadOnlyAdmin):
    """The model registry: versions with their held-out accuracy; promote or roll back."""

    list_display = (
        "utility",
        "version",
        "status",
        "trained",
        "buildings",
        "train_window",
        "lstm_cvrmse",
        "mean7_cvrmse",
        "coverage",
        "temperature_forecast",
    )
    list_filter = ("status", "utility")
    list_select_related = ("utility",)
    actions = ("promote", "roll_back")
    fields = (
        "utility", "version", "status", "architecture", "device", "buildings", "train_window",
        "test_window", "accuracy", "settings", "data_fingerprint", "trained", "promoted", "job",
    )  # fmt: skip
    readonly_fields = fields

    # Promoting and rolling back change which version is active: the model's change permission.
    has_promote_permission = requires("change")

    @admin.display(description="trained on")
    def train_window(self, model):
        return f"{local_day(model.train_start)} – {local_day(model.train_end)}"

    @admin.display(description="scored on")
    def test_window(self, model):
        if model.test_start is None:
            return DASH
        return f"{local_day(model.test_start)} – {local_day(model.test_end)}"

    @admin.display(description="trained", ordering="trained_at")
    def trained(self, model):
        return local_time(model.trained_at, model.utility.timezone)

    @admin.display(description="promoted", ordering="promoted_at")
    def promoted(self, model):
        return local_time(model.promoted_at, model.utility.timezone)

    @admin.display(description="LSTM CV(RMSE) median / total")
    def lstm_cvrmse(self, model):
        return _cvrmse(model.metrics, "lstm")

    @admin.display(description="7-day mean CV(RMSE) median / total")
    def mean7_cvrmse(self, model):
        return _cvrmse(model.metrics, "mean7")

    @admin.display(description="P10-P90 coverage")
    def coverage(self, model):
        return share(model.metrics.get("p10_p90_coverage"))

    @admin.display(description="held-out accuracy")
    def accuracy(self, model):
        return readable_table(model.metrics, depth=2, formats={"p10_p90_coverage": share})

    @admin.display(description="scored with temperature")
    def temperature_forecast(self, model):
        source = model.metrics.get("temperature_forecast") or {}
        return source.get("label", "not recorded (trained before it was)")

    @admin.display(description="hyperparameters")
    def settings(self, model):
        return readable_table(model.hyperparameters)

    @admin.action(
        description="Promote the selected model to active for its utility",
        permissions=["promote"],
    )
    def promote(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to promote.", messages.WARNING)
            return
        try:
            model = forecast_model_promote(model=queryset.get())
        except ForecastError as exc:
            self.message_user(request, str(exc), messages.WARNING)
        else:
            self.log_change(request, model, f"Promoted version {model.version} to active.")
            self.message_user(
                request, f"Version {model.version} is now active for {model.utility}."
            )

    @admin.action(
        description="Roll back the selected model's utility to its previous version",
        permissions=["promote"],
    )
    def roll_back(self, request, queryset):
        for utility in {model.utility for model in queryset}:
            try:
                model = forecast_model_rollback(utility=utility)
            except ForecastError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.log_change(request, model, f"Rolled back to version {model.version}.")
                self.message_user(request, f"{utility}: version {model.version} is active again.")


class GridHourInline(admin.TabularInline):
    """The run's utility-wide hours, in the utility's time zone."""

    model = GridStatusHour
    fields = ("hour", "p50", "p90", "capacity", "strain", "level", "above_high")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(feeder__isnull=True).select_related("run__utility")
        )

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="hour")
    def hour(self, row):
        return local_time(row.starts_at, row.run.utility.timezone)

    @admin.display(description="P50")
    def p50(self, row):
        return kw(row.forecast_kw)

    @admin.display(description="P90")
    def p90(self, row):
        return kw(row.p90_kw)

    @admin.display(description="capacity")
    def capacity(self, row):
        return kw(row.capacity_kw)

    @admin.display(description="strain")
    def strain(self, row):
        return pct(row.strain_pct)

    @admin.display(description="above HIGH")
    def above_high(self, row):
        return kw(row.kw_above_high)


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
        "created",
    )
    list_filter = ("status", "utility")
    date_hierarchy = "day"
    list_select_related = ("utility", "model", "model__utility")
    inlines = (GridHourInline,)
    change_form_template = "admin/forecasting/forecastrun/change_form.html"
    fields = (
        "utility", "day", "horizon_h", "model", "status", "chunks", "buildings", "flagged",
        "created", "completed",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="chunks done")
    def chunks(self, run):
        return charts.bar(
            run.chunks_done / run.chunks_total, label=f"{run.chunks_done}/{run.chunks_total}"
        )

    @admin.display(description="peak P50")
    def peak(self, run):
        hours = [hour.forecast_kw for hour in run.grid_hours.all() if hour.feeder_id is None]
        return kw(max(hours)) if hours else DASH

    @admin.display(description="created", ordering="created_at")
    def created(self, run):
        return local_time(run.created_at, run.utility.timezone)

    @admin.display(description="completed", ordering="completed_at")
    def completed(self, run):
        return local_time(run.completed_at, run.utility.timezone)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("grid_hours")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        chart = None
        run = self.get_object(request, object_id)  # scoped: another utility's run is no run
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

    list_display = ("utility", "version", "active", "outcomes", "auc", "brier", "trained")
    list_filter = ("active", "utility")
    list_select_related = ("utility",)
    fields = ("utility", "version", "active", "outcomes", "scores", "trained")
    readonly_fields = fields

    @admin.display(description="AUC")
    def auc(self, model):
        return number(model.metrics.get("auc"), 3)

    @admin.display(description="Brier")
    def brier(self, model):
        return number(model.metrics.get("brier"), 3)

    @admin.display(description="held-out scores")
    def scores(self, model):
        return readable_table(model.metrics, depth=1)

    @admin.display(description="trained", ordering="trained_at")
    def trained(self, model):
        return local_time(model.trained_at, model.utility.timezone)
