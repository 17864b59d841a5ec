"""Hourly series, stored a row per building-day (DESIGN.md, "Data at scale")."""

from django.db import models
from django.db.models import F, Q

from stakeholders.models import Building, DataOrigin, Feeder, Utility

from .hourly import DAY_BYTES, FULL_MASK, unpack_days


class MeterDay(models.Model):
    """A building's metered consumption for one day: 24 hourly kWh values in 96 bytes."""

    # The unique (building, day) index serves lookups by building; a second index would only
    # slow the bulk loads.
    building = models.ForeignKey(
        Building, on_delete=models.CASCADE, related_name="meter_days", db_index=False
    )
    day = models.DateField()
    kwh = models.BinaryField(max_length=DAY_BYTES, help_text="24 float32 kWh, hour 0 first.")
    present_mask = models.PositiveIntegerField(
        default=FULL_MASK, help_text="Bit h set when hour h was measured."
    )
    repeated_kwh = models.FloatField(
        null=True,
        blank=True,
        help_text="The fall-back day's repeated hour, its second pass (a 25-hour day).",
    )
    total_kwh = models.FloatField(help_text="Sum of the measured hours.")
    peak_kw = models.FloatField(help_text="Largest measured hourly value.")
    origin = models.CharField(max_length=10, choices=DataOrigin.choices)

    class Meta:
        ordering = ["building", "day"]
        constraints = [
            models.UniqueConstraint(fields=["building", "day"], name="meterday_unique"),
            models.CheckConstraint(
                condition=Q(present_mask__lte=FULL_MASK), name="meterday_mask_24_bits"
            ),
            models.CheckConstraint(
                condition=Q(total_kwh__gte=0) & Q(peak_kw__gte=0), name="meterday_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.building_id} {self.day}"

    @property
    def hourly_kwh(self):
        return unpack_days([self.kwh], [self.present_mask])[0]

    @property
    def hours_present(self) -> int:
        return bin(self.present_mask).count("1")


class SeriesDay(models.Model):
    """A utility-wide hourly series for one day: weather, price or carbon intensity."""

    class Series(models.TextChoices):
        TEMPERATURE_C = "temperature_c", "Outdoor temperature (°C)"
        TEMPERATURE_FORECAST_C = "temperature_fc_c", "Day-ahead temperature forecast (°C)"
        HUMIDITY_PCT = "humidity_pct", "Relative humidity (%)"
        PRICE_USD_PER_KWH = "price_usd_per_kwh", "Price ($/kWh)"
        CARBON_KG_PER_KWH = "carbon_kg_per_kwh", "Carbon intensity (kg CO2/kWh)"

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="series_days")
    series = models.CharField(max_length=20, choices=Series.choices)
    day = models.DateField()
    values = models.BinaryField(max_length=DAY_BYTES)
    present_mask = models.PositiveIntegerField(default=FULL_MASK)
    origin = models.CharField(max_length=10, choices=DataOrigin.choices)

    class Meta:
        ordering = ["utility", "series", "day"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "series", "day"], name="seriesday_unique"),
            models.CheckConstraint(
                condition=Q(present_mask__lte=FULL_MASK), name="seriesday_mask_24_bits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.day}"

    @property
    def hourly_values(self):
        return unpack_days([self.values], [self.present_mask])[0]


class ForecastModel(models.Model):
    """A trained forecasting model: one versioned row with what it learned from and how well
    it did on days it never saw. One model per utility is active."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="forecast_models")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CANDIDATE)
    architecture = models.CharField(max_length=40, default="global-lstm")
    hyperparameters = models.JSONField()
    train_start = models.DateField()
    train_end = models.DateField(help_text="Last day it trained on.")
    test_start = models.DateField(null=True, blank=True)
    test_end = models.DateField(null=True, blank=True)
    buildings = models.PositiveIntegerField()
    data_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of its training data.")
    metrics = models.JSONField(default=dict, blank=True, help_text="Held-out accuracy.")
    weights = models.BinaryField()
    device = models.CharField(max_length=20, default="cpu")
    trained_at = models.DateTimeField(auto_now_add=True)
    job = models.ForeignKey(
        "jobs.JobRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["utility", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "version"], name="forecastmodel_version"),
            models.UniqueConstraint(
                fields=["utility"], condition=Q(status="active"), name="forecastmodel_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.utility} model v{self.version} ({self.status})"


class ForecastRun(models.Model):
    """One day's forecast of a utility, computed in chunks of buildings by several jobs."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="forecast_runs")
    day = models.DateField(help_text="First forecast day (issued at its midnight).")
    horizon_h = models.PositiveSmallIntegerField(default=24)
    model = models.ForeignKey(
        ForecastModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    chunks_total = models.PositiveIntegerField()
    chunks_done = models.PositiveIntegerField(default=0)
    buildings = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0, help_text="Buildings given the baseline.")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(chunks_done__lte=F("chunks_total")), name="forecastrun_chunks"
            ),
            models.CheckConstraint(condition=Q(horizon_h__in=[24, 48]), name="forecastrun_horizon"),
        ]

    def __str__(self) -> str:
        return f"{self.utility} forecast for {self.day}"


class BuildingForecast(models.Model):
    """A building's forecast for one run: P10 / P50 / P90 and mean, float32 per hour."""

    class Method(models.TextChoices):
        LSTM = "lstm", "LSTM"
        BASELINE = "baseline", "7-day mean (baseline)"

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="forecasts")
    method = models.CharField(max_length=10, choices=Method.choices)
    flag = models.CharField(max_length=120, blank=True, help_text="Why it got the baseline.")
    p10_kw = models.BinaryField()
    p50_kw = models.BinaryField()
    p90_kw = models.BinaryField()
    mean_kw = models.BinaryField()
    peak_p50_kw = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "building"], name="buildingforecast_unique"),
            models.CheckConstraint(condition=Q(peak_p50_kw__gte=0), name="buildingforecast_peak"),
        ]

    def __str__(self) -> str:
        return f"{self.building_id} in run {self.run_id}"


class AggregateForecast(models.Model):
    """A run's forecast summed over a feeder, or over the whole utility (feeder empty)."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="aggregates")
    feeder = models.ForeignKey(
        Feeder, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    buildings = models.PositiveIntegerField()
    p10_kw = models.BinaryField()
    p50_kw = models.BinaryField()
    p90_kw = models.BinaryField()
    mean_kw = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run"], condition=Q(feeder__isnull=True), name="aggregate_utility_once"
            ),
            models.UniqueConstraint(fields=["run", "feeder"], name="aggregate_feeder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.feeder or 'utility'} in run {self.run_id}"


class GridStatus(models.TextChoices):
    NORMAL = "NORMAL", "Normal"
    HIGH = "HIGH", "High"
    CRITICAL = "CRITICAL", "Critical"


class GridStatusHour(models.Model):
    """Forecast strain for one hour: P50 load against capacity and the utility's thresholds."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="grid_hours")
    feeder = models.ForeignKey(
        Feeder, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    forecast_kw = models.FloatField(help_text="P50 forecast.")
    p90_kw = models.FloatField()
    capacity_kw = models.FloatField()
    strain_pct = models.FloatField()
    level = models.CharField(max_length=8, choices=GridStatus.choices)
    kw_above_high = models.FloatField(help_text="kW above the HIGH threshold (0 below it).")
    kw_above_critical = models.FloatField()

    class Meta:
        ordering = ["run", "feeder", "starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "starts_at"],
                condition=Q(feeder__isnull=True),
                name="gridstatus_utility_hour_once",
            ),
            models.UniqueConstraint(
                fields=["run", "feeder", "starts_at"], name="gridstatus_feeder_hour_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:00} {self.level}"


class ComplianceModelVersion(models.Model):
    """A compliance model trained on verified outcomes, with its held-out accuracy."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="compliance_models")
    version = models.PositiveIntegerField()
    active = models.BooleanField(default=True)
    outcomes = models.PositiveIntegerField(help_text="Verified outcomes it learnt from.")
    metrics = models.JSONField(default=dict, help_text="AUC, Brier, calibration on held-out.")
    weights = models.BinaryField()
    trained_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["utility", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "version"], name="compliancemodel_version"),
            models.UniqueConstraint(
                fields=["utility"], condition=Q(active=True), name="compliancemodel_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.utility} compliance v{self.version}"
