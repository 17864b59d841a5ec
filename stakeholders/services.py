"""Writes to the directory: organizations, utilities, feeders, buildings, people and roles."""

import io
import shutil
import tempfile
from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .bulk import bulk_upsert
from .csvimport import (
    PROGRESS_EVERY,
    CsvImportError,
    RowError,
    RowErrors,
    open_csv,
    parse_float,
    parse_int,
)
from .models import (
    Building,
    BuildingType,
    DataOrigin,
    Feeder,
    Membership,
    Organization,
    ProgramHoliday,
    Role,
    Utility,
    holiday_region_problem,
    validate_holiday_country,
    validate_timezone,
)


class DirectoryError(ValueError):
    """A directory change that cannot be made as asked."""


def organization_ensure(*, name: str, kind: str) -> Organization:
    if not name.strip() or len(name) > 200:
        raise DirectoryError("An organization needs a name of 1 to 200 characters.")
    if kind not in Organization.Kind.values:
        raise DirectoryError(
            f"Unknown kind {kind!r}: one of {', '.join(Organization.Kind.values)}."
        )
    organization, created = Organization.objects.get_or_create(name=name, defaults={"kind": kind})
    if not created and organization.kind != kind:
        raise DirectoryError(
            f"Organization {name!r} exists as a {organization.get_kind_display()}."
        )
    return organization


def utility_validate(
    *,
    capacity_kw: float,
    high_strain_pct: float,
    critical_strain_pct: float,
    timezone: str,
    country: str,
    region: str,
) -> list[str]:
    """Reasons a utility cannot be saved as given; empty when it can."""
    problems = []
    if not 0 < capacity_kw < 1e9:
        problems.append("capacity must be above 0 kW (and below 1,000,000 MW)")
    if not 0 < high_strain_pct < critical_strain_pct <= 150:
        problems.append("strain thresholds must satisfy 0 < HIGH < CRITICAL <= 150 %")
    for validator, value in ((validate_timezone, timezone), (validate_holiday_country, country)):
        try:
            validator(value)
        except ValidationError as exc:
            problems.extend(exc.messages)
    region_problem = holiday_region_problem(country, region)
    if region_problem:
        problems.append(region_problem)
    return problems


@transaction.atomic
def utility_ensure(
    *,
    name: str,
    capacity_kw: float,
    timezone: str,
    country: str,
    region: str = "",
    high_strain_pct: float = 80.0,
    critical_strain_pct: float = 95.0,
) -> Utility:
    """The utility named `name` with its own organization, created or updated."""
    if not name.strip() or len(name) > 200:
        raise DirectoryError("A utility needs a name of 1 to 200 characters.")
    problems = utility_validate(
        capacity_kw=capacity_kw, high_strain_pct=high_strain_pct,
        critical_strain_pct=critical_strain_pct, timezone=timezone, country=country,
        region=region,
    )  # fmt: skip
    if problems:
        raise DirectoryError(f"Utility {name}: " + "; ".join(problems) + ".")
    organization = organization_ensure(name=name, kind=Organization.Kind.UTILITY)
    utility, _ = Utility.objects.update_or_create(
        name=name,
        defaults={
            "organization": organization,
            "capacity_kw": capacity_kw,
            "high_strain_pct": high_strain_pct,
            "critical_strain_pct": critical_strain_pct,
            "timezone": timezone,
            "country": country,
            "region": region,
        },
    )
    return utility


def program_holiday_set(*, utility: Utility, day: date, name: str) -> ProgramHoliday:
    """A day the program treats as a holiday on `utility`, added or renamed."""
    if not name.strip() or len(name) > 100:
        raise DirectoryError("A program holiday needs a name of 1 to 100 characters.")
    holiday, _ = ProgramHoliday.objects.update_or_create(
        utility=utility, day=day, defaults={"name": name}
    )
    return holiday


def feeder_ensure(*, utility: Utility, name: str, capacity_kw: float) -> Feeder:
    if not name.strip() or len(name) > 100:
        raise DirectoryError("A feeder needs a name of 1 to 100 characters.")
    if not 0 < capacity_kw < 1e9:
        raise DirectoryError(f"Feeder {name}: capacity must be above 0 kW.")
    feeder, _ = Feeder.objects.update_or_create(
        utility=utility, name=name, defaults={"capacity_kw": capacity_kw}
    )
    return feeder


# Plausible bounds of each building figure, checked before anything is saved: the database's
# own constraints where it has them, and what a real building can be beyond.
BUILDING_BOUNDS = {
    "floor_area_m2": (0.0, 10_000_000.0, "m2"),
    "tariff_usd_per_kwh": (0.0, 10.0, "$/kWh"),
    "carbon_kg_per_kwh": (0.0, 2.0, "kg/kWh"),
    "curtailable_kw": (0.0, 100_000.0, "kW"),
    "pv_kw": (0.0, 100_000.0, "kW"),
    "battery_kwh": (0.0, 1_000_000.0, "kWh"),
    "max_setpoint_change_c": (0.0, 10.0, "°C"),
}
MAX_EVENTS_PER_MONTH = 31
TEXT_LENGTHS = {"code": 64, "name": 200, "consent_by": 200}
ENROLMENT_YEARS = (1990, 2100)


def building_validate(*, utility: Utility, feeder: Feeder | None, fields: dict) -> list[str]:
    """Reasons a building cannot be saved as given; empty when it can."""
    problems = []
    if feeder is not None and feeder.utility_id != utility.pk:
        problems.append(f"feeder {feeder.name} belongs to another utility")
    for name, limit in TEXT_LENGTHS.items():
        if len(fields.get(name) or "") > limit:
            problems.append(f"{name} is longer than {limit} characters")
    if fields.get("floor_area_m2") is not None and fields["floor_area_m2"] <= 0:
        problems.append("floor area must be above 0 m2")
    for name, (low, high, unit) in BUILDING_BOUNDS.items():
        value = fields.get(name)
        if value is not None and not low <= value <= high:
            problems.append(f"{name} {value:g} is outside {low:g}-{high:,g} {unit}")
    events = fields.get("max_events_per_month")
    if events is not None and not 0 <= events <= MAX_EVENTS_PER_MONTH:
        problems.append(f"max_events_per_month {events} is outside 0-{MAX_EVENTS_PER_MONTH}")
    enrolled_on = fields.get("enrolled_on")
    if enrolled_on is not None and not ENROLMENT_YEARS[0] <= enrolled_on.year <= ENROLMENT_YEARS[1]:
        problems.append(
            f"enrolled_on {enrolled_on} is outside {ENROLMENT_YEARS[0]}-{ENROLMENT_YEARS[1]}"
        )
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
BUILDING_CSV_OPTIONAL = [
    "feeder",
    *BUILDING_CSV_OPTIONAL_FLOATS,
    "max_events_per_month",
    "enrolled_on",
    "consent_by",
]
# A building row as the bulk upsert writes it, with each column's PostgreSQL type.
_BUILDING_COLUMNS = {
    "utility_id": "int8", "owner_id": "int8", "feeder_id": "int8", "code": "text",
    "name": "text", "building_type": "text", "floor_area_m2": "float8",
    "tariff_usd_per_kwh": "float8", "carbon_kg_per_kwh": "float8", "curtailable_kw": "float8",
    "pv_kw": "float8", "battery_kwh": "float8", "max_setpoint_change_c": "float8",
    "max_events_per_month": "int2", "enrolled": "bool", "enrolled_on": "date",
    "consent_by": "text", "origin": "text", "created_at": "timestamptz",
}  # fmt: skip
# What a row sets on a building that exists: the required figures always, an optional one only
# where the file has its column, the enrolment only where the row gives its date.
_ALWAYS_UPDATED = [
    "owner_id", "name", "building_type", "floor_area_m2", "tariff_usd_per_kwh",
    "carbon_kg_per_kwh", "curtailable_kw", "origin",
]  # fmt: skip
_OPTIONAL_UPDATED = {
    "feeder": "feeder_id", "pv_kw": "pv_kw", "battery_kwh": "battery_kwh",
    "max_setpoint_change_c": "max_setpoint_change_c",
    "max_events_per_month": "max_events_per_month",
}  # fmt: skip
_ENROLMENT = ["enrolled", "enrolled_on", "consent_by"]
_DEFAULTS = {
    name: Building._meta.get_field(name).get_default()
    for name in ("max_setpoint_change_c", "max_events_per_month")
}
_BUILDING_TYPES = frozenset(BuildingType.values)
BUILDINGS_BATCH = 5_000


def _building_fields(row: dict[str, str], feeders: dict[str, Feeder]) -> dict:
    """A CSV row as building fields; raises ValueError listing everything wrong with it."""
    problems, fields = [], {}
    if not row["code"]:
        problems.append("code is empty")
    if not row["name"]:
        problems.append("name is empty")
    if row["building_type"] not in _BUILDING_TYPES:
        problems.append(
            f"building_type {row['building_type'][:40]!r} is not one of "
            f"{', '.join(BuildingType.values)}"
        )
    for name in BUILDING_CSV_REQUIRED[3:] + BUILDING_CSV_OPTIONAL_FLOATS:
        value = row.get(name, "")
        if not value and (name in BUILDING_CSV_OPTIONAL_FLOATS or name == "floor_area_m2"):
            continue
        try:
            fields[name] = parse_float(value, name=name)
        except ValueError as exc:
            problems.append(str(exc))
    if row.get("max_events_per_month"):
        try:
            fields["max_events_per_month"] = parse_int(
                row["max_events_per_month"], name="max_events_per_month", minimum=0,
                maximum=MAX_EVENTS_PER_MONTH,
            )  # fmt: skip
        except ValueError as exc:
            problems.append(str(exc))
    feeder_name = row.get("feeder", "")
    if feeder_name and feeder_name not in feeders:
        problems.append(f"feeder {feeder_name[:100]!r} is not on this utility")
    fields["feeder"] = feeders.get(feeder_name)
    fields["enrolled"] = False
    if row.get("enrolled_on"):
        try:
            fields["enrolled_on"] = date.fromisoformat(row["enrolled_on"])
        except ValueError:
            problems.append(f"enrolled_on {row['enrolled_on'][:40]!r} is not a date (YYYY-MM-DD)")
        fields["enrolled"] = True
        fields["consent_by"] = row.get("consent_by", "")
    fields.update(code=row["code"], name=row["name"], building_type=row["building_type"])
    if problems:
        raise ValueError("; ".join(problems))
    return fields


def _checked_buildings(stream, utility: Utility, feeders, errors: RowErrors):
    """The opened file and its (line, fields) rows that pass every check; the others go to
    `errors`."""
    csv_file = open_csv(
        stream, required=BUILDING_CSV_REQUIRED, optional=BUILDING_CSV_OPTIONAL, errors=errors
    )

    def rows():
        for line, row in csv_file.rows:
            try:
                fields = _building_fields(row, feeders)
                problems = building_validate(
                    utility=utility, feeder=fields["feeder"], fields=fields
                )
                if problems:
                    raise ValueError("; ".join(problems))
            except ValueError as exc:
                errors.add(line, str(exc))
                continue
            yield line, fields

    return csv_file, rows()


def buildings_bulk_upsert(
    *, utility: Utility, owner: Organization, rows, columns: set[str] | None = None
) -> int:
    """Create or update `owner`'s buildings on `utility` from checked field dicts, in batches
    (the caller holds the transaction). `columns`: the optional columns the source gives (all
    when None); a building that exists keeps the figures of the others."""
    optional = [
        field for column, field in _OPTIONAL_UPDATED.items() if columns is None or column in columns
    ]
    now = timezone.now()
    written = 0
    batches: dict[bool, list[tuple]] = {False: [], True: []}
    for fields in rows:
        enrolment = bool(fields.get("enrolled_on"))
        batches[enrolment].append(_building_row(utility, owner, fields, now))
        if len(batches[enrolment]) == BUILDINGS_BATCH:
            written += _write_buildings(batches[enrolment], optional, enrolment)
            batches[enrolment] = []
    for enrolment, batch in batches.items():
        if batch:
            written += _write_buildings(batch, optional, enrolment)
    return written


def _building_row(utility: Utility, owner: Organization, fields: dict, now) -> tuple:
    feeder = fields.get("feeder")
    values = {
        **_DEFAULTS, "pv_kw": None, "battery_kwh": None, "floor_area_m2": None,
        "enrolled": False, "enrolled_on": None, "consent_by": "",
        **{name: value for name, value in fields.items() if name != "feeder"},
        "utility_id": utility.pk, "owner_id": owner.pk,
        "feeder_id": feeder.pk if feeder is not None else None,
        "origin": DataOrigin.UPLOADED, "created_at": now,
    }  # fmt: skip
    return tuple(values[name] for name in _BUILDING_COLUMNS)


def _write_buildings(batch: list[tuple], optional: list[str], enrolment: bool) -> int:
    return bulk_upsert(
        Building, list(_BUILDING_COLUMNS), list(_BUILDING_COLUMNS.values()), batch,
        unique=["utility_id", "code"] if connection.vendor == "postgresql" else ["utility", "code"],
        update=[*_ALWAYS_UPDATED, *optional, *(_ENROLMENT if enrolment else [])],
    )  # fmt: skip


def buildings_csv_import(*, utility: Utility, owner: Organization, stream, progress=None) -> dict:
    """Create or update `owner`'s buildings on `utility` from a CSV; all rows or none.

    Required columns: code, name, building_type, floor_area_m2 (may be empty), tariff_usd_per_kwh,
    carbon_kg_per_kwh, curtailable_kw. Optional: feeder, pv_kw, battery_kwh,
    max_setpoint_change_c, max_events_per_month, enrolled_on, consent_by.

    The file is read twice as a stream: once to check every row (keeping only each code's
    line), once to write in batches within one transaction.
    """
    feeders = {feeder.name: feeder for feeder in utility.feeders.all()}
    stream = _rereadable(stream)
    start = stream.tell()
    errors = RowErrors()
    first_line: dict[str, int] = {}
    csv_file, rows = _checked_buildings(stream, utility, feeders, errors)
    for line, fields in rows:
        if progress is not None and len(first_line) % PROGRESS_EVERY == 0:
            progress(len(first_line))
        earlier = first_line.setdefault(fields["code"], line)
        if earlier != line:
            errors.add(line, f"code {fields['code']!r} was already given on line {earlier}")
    codes = list(first_line)
    for offset in range(0, len(codes), BUILDINGS_BATCH):
        taken = Building.objects.filter(
            utility=utility, code__in=codes[offset : offset + BUILDINGS_BATCH]
        ).exclude(owner=owner)
        for code in taken.values_list("code", flat=True):
            errors.add(first_line[code], f"code {code!r} belongs to another owner on this utility")
    errors.raise_any()
    if not codes:
        raise CsvImportError([RowError(1, "the file holds no buildings")])
    stream.seek(start)
    _, rows = _checked_buildings(stream, utility, feeders, RowErrors())
    with transaction.atomic():
        written = buildings_bulk_upsert(
            utility=utility, owner=owner, rows=(fields for _, fields in rows),
            columns=set(csv_file.columns),
        )  # fmt: skip
    return {
        "buildings": written,
        "encoding": csv_file.encoding,
        "ignored_columns": csv_file.ignored_columns,
    }


def _rereadable(stream):
    """A stream that can be read twice: bytes and seekable files as they are, others spooled."""
    if isinstance(stream, bytes | bytearray):
        return io.BytesIO(bytes(stream))
    if stream.seekable():
        return stream
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)  # noqa: SIM115 (the caller's)
    shutil.copyfileobj(stream, spooled)
    spooled.seek(0)
    return spooled
