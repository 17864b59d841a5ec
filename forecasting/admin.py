from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from stakeholders.csvimport import CsvImportError
from stakeholders.models import Utility

from .models import MeterDay, SeriesDay
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
