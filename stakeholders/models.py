"""Who is who: organizations, utilities, feeders, buildings and memberships (the directory).
The reports each stakeholder receives live a layer up, in stakeholders.portal."""

import re
from zoneinfo import available_timezones

import holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from holidays.registry import COUNTRIES


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(
            f"{value!r} is not an IANA time zone (e.g. America/Chicago, Europe/Berlin)."
        )


def holiday_countries() -> list[tuple[str, str]]:
    """(ISO 3166 alpha-2 code, name) of every country the holidays calendar knows, by name."""
    named = {
        entry[1]: re.sub(r"(?<=[a-z])(?=[A-Z])", " ", entry[0]) for entry in COUNTRIES.values()
    }
    return sorted(named.items(), key=lambda item: item[1])


def validate_holiday_country(value: str) -> None:
    if len(value) != 2 or value not in holidays.list_supported_countries():
        raise ValidationError(
            f"{value!r} is not a country the holidays calendar knows (ISO 3166 code, e.g. US, DE)."
        )


def holiday_region_problem(country: str, region: str) -> str | None:
    """Why `region` is not a subdivision of `country` in the holidays calendar, or None."""
    regions = holidays.list_supported_countries().get(country, [])
    if region and region not in regions:
        return (
            f"{region!r} is not a region of {country} in the holidays calendar; "
            f"known: {', '.join(regions) or 'none'}"
        )
    return None


class Organization(models.Model):
    class Kind(models.TextChoices):
        UTILITY = "utility", "Utility"
        BUILDING_OWNER = "building_owner", "Building owner"
        PROGRAM_TEAM = "program_team", "Program team"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["utility", "building_owner", "program_team"]),
                name="organization_kind_valid",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Utility(models.Model):
    """A utility's grid: its capacity and the strain levels that make it HIGH or CRITICAL."""

    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="utility"
    )
    name = models.CharField(max_length=200, unique=True)
    capacity_kw = models.FloatField(validators=[MinValueValidator(0.001)])
    high_strain_pct = models.FloatField(
        default=80.0, help_text="Forecast load at or above this % of capacity is HIGH."
    )
    critical_strain_pct = models.FloatField(
        default=95.0, help_text="Forecast load at or above this % of capacity is CRITICAL."
    )
    timezone = models.CharField(
        max_length=64,
        validators=[validate_timezone],
        help_text="IANA time zone of the service area; readings are in its local time.",
    )
    country = models.CharField(
        max_length=2,
        validators=[validate_holiday_country],
        help_text="ISO 3166 country code whose public holidays the forecasts know.",
    )
    region = models.CharField(
        max_length=10,
        blank=True,
        help_text="State or province code for regional holidays (e.g. CA, BY); blank for none.",
    )

    class Meta:
        verbose_name_plural = "utilities"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity_kw__gt=0), name="utility_capacity_positive"
            ),
            models.CheckConstraint(
                condition=Q(high_strain_pct__gt=0)
                & Q(critical_strain_pct__gt=F("high_strain_pct"))
                & Q(critical_strain_pct__lte=150),
                name="utility_strain_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProgramHoliday(models.Model):
    """A day the program treats as a holiday beyond the country's public ones."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="program_holidays")
    day = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["utility", "day"]
        verbose_name = "program holiday"
        constraints = [
            models.UniqueConstraint(fields=["utility", "day"], name="program_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.name}"


class Feeder(models.Model):
    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="feeders")
    name = models.CharField(max_length=100)
    capacity_kw = models.FloatField(validators=[MinValueValidator(0.001)])

    class Meta:
        ordering = ["utility", "name"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "name"], name="feeder_name_unique"),
            models.CheckConstraint(condition=Q(capacity_kw__gt=0), name="feeder_capacity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.utility.name} / {self.name}"


class BuildingType(models.TextChoices):
    RESIDENTIAL = "residential", "Residential"
    OFFICE = "office", "Office"
    RETAIL = "retail", "Retail"
    SCHOOL = "school", "School"
    HOSPITAL = "hospital", "Hospital"
    WAREHOUSE = "warehouse", "Warehouse"
    RESTAURANT = "restaurant", "Restaurant"
    HOTEL = "hotel", "Hotel"


class DataOrigin(models.TextChoices):
    MEASURED = "measured", "Measured"
    UPLOADED = "uploaded", "Uploaded by the owner"
    SYNTHETIC = "synthetic", "Synthetic (simulated)"


class Building(models.Model):
    owner = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="buildings")
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="buildings")
    feeder = models.ForeignKey(
        Feeder, on_delete=models.SET_NULL, null=True, blank=True, related_name="buildings"
    )
    code = models.CharField(max_length=64, help_text="The utility's id for the building or meter.")
    name = models.CharField(max_length=200)
    building_type = models.CharField(max_length=20, choices=BuildingType.choices)
    floor_area_m2 = models.FloatField(null=True, blank=True, help_text="Blank when unknown.")
    tariff_usd_per_kwh = models.FloatField()
    carbon_kg_per_kwh = models.FloatField()
    curtailable_kw = models.FloatField(help_text="Load it can shed at full depth.")
    pv_kw = models.FloatField(null=True, blank=True, help_text="Installed PV, kW peak.")
    battery_kwh = models.FloatField(null=True, blank=True, help_text="Battery capacity.")
    max_setpoint_change_c = models.FloatField(
        default=2.0, help_text="Largest thermostat change the occupants accept."
    )
    max_events_per_month = models.PositiveSmallIntegerField(default=4)
    enrolled = models.BooleanField(default=False)
    enrolled_on = models.DateField(null=True, blank=True)
    consent_by = models.CharField(max_length=200, blank=True, help_text="Who consented.")
    origin = models.CharField(max_length=10, choices=DataOrigin.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["utility", "code"]
        indexes = [models.Index(fields=["utility", "feeder"]), models.Index(fields=["owner"])]
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="building_code_unique"),
            models.CheckConstraint(
                condition=Q(floor_area_m2__isnull=True) | Q(floor_area_m2__gt=0),
                name="building_area_positive",
            ),
            models.CheckConstraint(
                condition=Q(tariff_usd_per_kwh__gte=0) & Q(tariff_usd_per_kwh__lte=10),
                name="building_tariff_range",
            ),
            models.CheckConstraint(
                condition=Q(carbon_kg_per_kwh__gte=0) & Q(carbon_kg_per_kwh__lte=2),
                name="building_carbon_range",
            ),
            models.CheckConstraint(
                condition=Q(curtailable_kw__gte=0), name="building_curtailable_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(max_setpoint_change_c__gte=0) & Q(max_setpoint_change_c__lte=10),
                name="building_setpoint_change_range",
            ),
            models.CheckConstraint(
                condition=Q(enrolled=False) | (Q(enrolled_on__isnull=False) & ~Q(consent_by="")),
                name="building_enrolment_has_date_and_consent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Role(models.TextChoices):
    GRID_OPERATOR = "grid_operator", "Grid operator"
    ENERGY_TRADER = "energy_trader", "Energy trader"
    SYSTEM_ENGINEER = "system_engineer", "System engineer"
    EMERGENCY_TEAM = "emergency_team", "Emergency team"
    BUILDING_OWNER = "building_owner", "Building owner"
    FACILITY_MANAGER = "facility_manager", "Facility manager"
    TENANT = "tenant", "Tenant"
    ENERGY_MANAGER = "energy_manager", "Energy manager"
    EXECUTIVE = "executive", "Executive"
    DATA_SCIENCE = "data_science", "Data science"
    ENGINEERING = "engineering", "Engineering"
    SECURITY = "security", "Security"
    OPERATIONS = "operations", "Operations"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    buildings = models.ManyToManyField(
        Building,
        blank=True,
        related_name="+",
        help_text="For a facility manager or a tenant: the buildings they manage or occupy. A "
        "facility manager tied to none manages all of the organization's; a tenant sees only "
        "the buildings tied here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization", "role"], name="membership_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()} of {self.organization}"
