"""Writes to the directory: organizations, utilities, feeders, buildings, people and roles."""

from datetime import date

from django.contrib.auth import get_user_model
from django.db import transaction

from .csvimport import CsvImportError, RowError, parse_float, read_rows
from .models import (
    Building,
    BuildingType,
    DataOrigin,
    Feeder,
    Membership,
    Organization,
    Role,
    Utility,
)


class DirectoryError(ValueError):
    """A directory change that cannot be made as asked."""


def organization_ensure(*, name: str, kind: str) -> Organization:
    organization, created = Organization.objects.get_or_create(name=name, defaults={"kind": kind})
    if not created and organization.kind != kind:
        raise DirectoryError(
            f"Organization {name!r} exists as a {organization.get_kind_display()}."
        )
    return organization


@transaction.atomic
def utility_ensure(
    *,
    name: str,
    capacity_kw: float,
    high_strain_pct: float = 80.0,
    critical_strain_pct: float = 95.0,
    timezone: str = "America/Los_Angeles",
) -> Utility:
    """The utility named `name` with its own organization, created or updated."""
    if capacity_kw <= 0:
        raise DirectoryError("A utility's capacity must be above 0 kW.")
    if not 0 < high_strain_pct < critical_strain_pct <= 150:
        raise DirectoryError("Strain thresholds must satisfy 0 < HIGH < CRITICAL <= 150 %.")
    organization = organization_ensure(name=name, kind=Organization.Kind.UTILITY)
    utility, _ = Utility.objects.update_or_create(
        name=name,
        defaults={
            "organization": organization,
            "capacity_kw": capacity_kw,
            "high_strain_pct": high_strain_pct,
            "critical_strain_pct": critical_strain_pct,
            "timezone": timezone,
        },
    )
    return utility


def feeder_ensure(*, utility: Utility, name: str, capacity_kw: float) -> Feeder:
    if capacity_kw <= 0:
        raise DirectoryError(f"Feeder {name}: capacity must be above 0 kW.")
    feeder, _ = Feeder.objects.update_or_create(
        utility=utility, name=name, defaults={"capacity_kw": capacity_kw}
    )
    return feeder


def building_validate(*, utility: Utility, feeder: Feeder | None, fields: dict) -> list[str]:
    """Reasons a building cannot be saved as given; empty when it can."""
    problems = []
    if feeder is not None and feeder.utility_id != utility.pk:
        problems.append(f"feeder {feeder.name} belongs to another utility")
    if fields.get("floor_area_m2") is not None and fields["floor_area_m2"] <= 0:
        problems.append("floor area must be above 0 m2")
    if not 0 <= fields.get("tariff_usd_per_kwh", 0) <= 10:
        problems.append("tariff must be between 0 and 10 $/kWh")
    if not 0 <= fields.get("carbon_kg_per_kwh", 0) <= 2:
        problems.append("carbon factor must be between 0 and 2 kg/kWh")
    if fields.get("curtailable_kw", 0) < 0:
        problems.append("curtailable kW cannot be negative")
    if fields.get("enrolled") and not (fields.get("enrolled_on") and fields.get("consent_by")):
        problems.append("an enrolled building needs its enrolment date and who consented")
    return problems


def building_upsert(*, utility: Utility, owner: Organization, code: str, **fields) -> Building:
    """Create or update the building `code` of `utility` after checking every rule."""
    feeder = fields.pop("feeder", None)
    problems = building_validate(utility=utility, feeder=feeder, fields=fields)
    if problems:
        raise DirectoryError(f"Building {code}: " + "; ".join(problems) + ".")
    building, _ = Building.objects.update_or_create(
        utility=utility, code=code, defaults={"owner": owner, "feeder": feeder, **fields}
    )
    return building


def building_enrol(*, building: Building, consent_by: str, on: date) -> Building:
    if not consent_by.strip():
        raise DirectoryError("Enrolment needs the name of who consented.")
    Building.objects.filter(pk=building.pk).update(
        enrolled=True, enrolled_on=on, consent_by=consent_by
    )
    building.refresh_from_db()
    return building


def membership_grant(*, user, organization: Organization, role: str) -> Membership:
    if role not in Role.values:
        raise DirectoryError(f"Unknown role {role!r}.")
    membership, _ = Membership.objects.get_or_create(
        user=user, organization=organization, role=role
    )
    return membership


def user_ensure(
    *,
    username: str,
    password: str,
    email: str = "",
    is_staff: bool = False,
    superuser: bool = False,
):
    """The user `username` with this password and standing, created or updated (idempotent)."""
    if not username or not password:
        raise DirectoryError("A user needs a username and a password.")
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model(username=username)
    user.email = email or user.email
    user.is_staff = is_staff or superuser
    user.is_superuser = superuser
    user.set_password(password)
    user.save()
    return user


BUILDING_CSV_REQUIRED = [
    "code",
    "name",
    "building_type",
    "floor_area_m2",
    "tariff_usd_per_kwh",
    "carbon_kg_per_kwh",
    "curtailable_kw",
]
BUILDING_CSV_OPTIONAL_FLOATS = ["pv_kw", "battery_kwh", "max_setpoint_change_c"]


def _building_fields(row: dict[str, str], feeders: dict[str, Feeder]) -> dict:
    """A CSV row as building fields; raises ValueError listing everything wrong with it."""
    problems, fields = [], {}
    if not row["code"]:
        problems.append("code is empty")
    if not row["name"]:
        problems.append("name is empty")
    if row["building_type"] not in BuildingType.values:
        problems.append(
            f"building_type {row['building_type']!r} is not one of {', '.join(BuildingType.values)}"
        )
    for name in BUILDING_CSV_REQUIRED[3:] + BUILDING_CSV_OPTIONAL_FLOATS:
        value = row.get(name, "")
        if not value and (name in BUILDING_CSV_OPTIONAL_FLOATS or name == "floor_area_m2"):
            continue
        try:
            fields[name] = parse_float(value, name=name, minimum=0)
        except ValueError as exc:
            problems.append(str(exc))
    if row.get("max_events_per_month"):
        try:
            fields["max_events_per_month"] = int(row["max_events_per_month"])
        except ValueError:
            problems.append(
                f"max_events_per_month {row['max_events_per_month']!r} is not a whole number"
            )
    feeder_name = row.get("feeder", "")
    if feeder_name and feeder_name not in feeders:
        problems.append(f"feeder {feeder_name!r} is not on this utility")
    fields["feeder"] = feeders.get(feeder_name)
    if row.get("enrolled_on"):
        try:
            fields["enrolled_on"] = date.fromisoformat(row["enrolled_on"])
        except ValueError:
            problems.append(f"enrolled_on {row['enrolled_on']!r} is not a date (YYYY-MM-DD)")
        fields["enrolled"] = True
        fields["consent_by"] = row.get("consent_by", "")
    if problems:
        raise ValueError("; ".join(problems))
    fields.update(name=row["name"], building_type=row["building_type"])
    return fields


def buildings_csv_import(*, utility: Utility, owner: Organization, stream) -> dict[str, int]:
    """Create or update `owner`'s buildings on `utility` from a CSV; all rows or none.

    Required columns: code, name, building_type, floor_area_m2 (may be empty), tariff_usd_per_kwh,
    carbon_kg_per_kwh, curtailable_kw. Optional: feeder, pv_kw, battery_kwh,
    max_setpoint_change_c, max_events_per_month, enrolled_on, consent_by.
    """
    feeders = {feeder.name: feeder for feeder in utility.feeders.all()}
    errors: list[RowError] = []
    parsed: list[tuple[str, dict]] = []
    first_line: dict[str, int] = {}
    for line, row in read_rows(stream, required=BUILDING_CSV_REQUIRED):
        try:
            fields = _building_fields(row, feeders)
            problems = building_validate(utility=utility, feeder=fields["feeder"], fields=fields)
            if problems:
                raise ValueError("; ".join(problems))
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        earlier = first_line.setdefault(row["code"], line)
        if earlier != line:
            errors.append(
                RowError(line, f"code {row['code']!r} was already given on line {earlier}")
            )
            continue
        parsed.append((row["code"], fields))
    taken = set(
        Building.objects.filter(utility=utility, code__in=[code for code, _ in parsed])
        .exclude(owner=owner)
        .values_list("code", flat=True)
    )
    errors.extend(
        RowError(first_line[code], f"code {code!r} belongs to another owner on this utility")
        for code in sorted(taken)
    )
    if errors:
        raise CsvImportError(sorted(errors, key=lambda error: error.line))
    if not parsed:
        raise CsvImportError([RowError(1, "the file holds no buildings")])
    with transaction.atomic():
        for code, fields in parsed:
            building_upsert(
                utility=utility, owner=owner, code=code, origin=DataOrigin.UPLOADED, **fields
            )
    return {"buildings": len(parsed)}
