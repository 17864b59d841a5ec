"""Hourly series, stored a row per building-day (DESIGN.md, "Data at scale")."""

from django.db import models
from django.db.models import Q

from stakeholders.models import Building, DataOrigin, Utility

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
