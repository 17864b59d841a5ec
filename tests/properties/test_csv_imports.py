"""Property tests of the CSV imports: generated rows, encodings and timestamps thrown at the
buildings, readings and weather importers and at their upload pages.

An import either lands or raises CsvImportError with line-numbered reasons (never another
exception, never a 500), and a file with any error saves nothing. Where a generated file is
read back exactly (UTF-8, UTF-8 with a mark, UTF-16, or plain ASCII) each row is also judged
here, independently of the importer, so a valid file must land and a bad one must be refused on
exactly its bad lines.
"""

import csv
import io
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from forecasting.hourly import unpack_days
from forecasting.models import MeterDay, SeriesDay
from forecasting.services.readings import readings_csv_import, weather_csv_import
from jobs.models import JobRun
from stakeholders.csvimport import CsvImportError
from stakeholders.models import Building, BuildingType, Organization
from stakeholders.services import buildings_csv_import
from tests.admin.conftest import staff_member
from tests.factories import BuildingFactory, FeederFactory, OrganizationFactory, UtilityFactory
from tests.uploads import finish_upload

pytestmark = pytest.mark.django_db

ZONE = "America/Chicago"
TZ = ZoneInfo(ZONE)
SERVICE = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PAGE = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"
LONG_VALUE = "x" * 10_001  # past the longest value a CSV field may hold
EXACT_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16")
NUL_COLUMN = "memo\x00"  # read behind a byte-order mark; named in the import's notes


# -- the world every example starts from (and returns to) -------------------------------------


@dataclass
class World:
    utility: object
    owner: object


@pytest.fixture
def world():
    """A Chicago utility with a feeder, one building of the owner (MINE-1, to update), one of
    another owner (TAKEN-1, to refuse), two more (H-01, H-02, to read meters of), and a second
    utility with a building of its own (OTHER-1, not on the first)."""
    utility = UtilityFactory(name="Utility P", timezone=ZONE)
    owner = OrganizationFactory(name="Owner P", kind=Organization.Kind.BUILDING_OWNER)
    other_owner = OrganizationFactory(name="Owner Q", kind=Organization.Kind.BUILDING_OWNER)
    feeder = FeederFactory(utility=utility, name="F-1")
    BuildingFactory(utility=utility, owner=owner, feeder=feeder, code="MINE-1")
    BuildingFactory(utility=utility, owner=other_owner, feeder=feeder, code="TAKEN-1")
    BuildingFactory(utility=utility, owner=owner, feeder=feeder, code="H-01")
    BuildingFactory(utility=utility, owner=owner, feeder=feeder, code="H-02")
    BuildingFactory(utility=UtilityFactory(name="Utility Q", timezone=ZONE), code="OTHER-1")
    return World(utility, owner)


@contextmanager
def rolled_back():
    """One example's writes, undone when it ends (hypothesis runs every example in one test)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def snapshot(model) -> list[dict]:
    return list(model.objects.order_by("pk").values())


# -- files: rows written as CSV, encoded, sometimes damaged -----------------------------------


@dataclass
class GeneratedFile:
    data: bytes
    text: str  # what was encoded
    encoding: str
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (the line the importer reports, raw values)
    exact: bool  # decoded back to the very text written
    header_fault: bool  # a required column dropped or a column named twice
    damaged: bool  # bytes or text spliced in: only the invariants can be checked


def physical_lines(chunk: str) -> int:
    """Lines a chunk counts for csv.reader.line_num (split as TextIOWrapper(newline="") does)."""
    return len(io.StringIO(chunk, newline="").readlines())


def encode(text: str, encoding: str) -> tuple[bytes, str, bool]:
    """The text's bytes, the encoding used (UTF-8 where `encoding` cannot write the text) and
    whether the importer will read back exactly this text."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        try:
            encoding, data = "utf-8", text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: bytes no UTF-8 reader accepts
            return text.encode("utf-8", errors="surrogatepass"), "utf-8", False
    # In an 8-bit code page, which one charset-normalizer guesses is its call.
    return data, encoding, encoding in EXACT_ENCODINGS or text.isascii()


@dataclass(frozen=True)
class Cells:
    """The values a column is drawn from: `valid` ones, and `wild` ones (anything at all)."""

    valid: st.SearchStrategy
    wild: st.SearchStrategy


@st.composite
def csv_files(draw, *, columns: list[str], optional: list[str], cells, extra_columns=()):
    """A CSV whose header has `columns` and some of `optional` (in any order), encoded one way
    or another. Its rows are all drawn from valid values ("clean"), or but one value ("one
    bad"), or from anything ("wild", when the header, rows and bytes may be broken too);
    `cells(column)` gives a column's Cells."""
    mode = draw(st.sampled_from(["clean", "one bad", "wild"]))
    header = list(columns)
    if optional:
        header += draw(st.lists(st.sampled_from(optional), unique=True))
    header += draw(st.lists(st.sampled_from(list(extra_columns)), unique=True, max_size=2))
    header = list(draw(st.permutations(header)))
    header_fault = False
    fault = draw(st.sampled_from([None] * 4 + ["drop", "repeat"])) if mode == "wild" else None
    if fault == "drop":
        header.remove(draw(st.sampled_from(columns)))
        header_fault = True
    elif fault == "repeat":
        header.append(draw(st.sampled_from(header)))
        header_fault = True

    def value(name: str):
        column = cells(name)
        return st.one_of(column.valid, column.wild) if mode == "wild" else column.valid

    row_values = draw(
        st.lists(
            st.one_of(
                st.tuples(*(value(name) for name in header)).map(list),
                st.just([""] * len(header)),  # a blank row: skipped
            ),
            min_size=0 if mode == "wild" else 1,
            max_size=8,
        )
    )
    if mode == "one bad":
        values = draw(st.sampled_from(row_values))
        at = draw(st.integers(0, len(header) - 1))
        values[at] = draw(cells(header[at]).wild)
    for values in row_values if mode == "wild" else ():
        ragged = draw(st.sampled_from([None] * 8 + ["more", "fewer"]))
        if ragged == "more":
            values.append(draw(st.sampled_from(["5", "1,5", ""])))
        elif ragged == "fewer" and len(values) > 1:
            values.pop()
    quote_all = draw(st.booleans())
    terminator = "\n" if quote_all else "\r\n"  # "\r\n" holds both breaks a value may carry

    def written(values: list[str]) -> str:
        out = io.StringIO()
        quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        csv.writer(out, quoting=quoting, lineterminator=terminator).writerow(values)
        return out.getvalue()

    text, line, rows = written(header), 1, []
    for values in row_values:
        chunk = written(values)
        text += chunk
        line += physical_lines(chunk)
        rows.append((line, values))
    damage = draw(st.sampled_from([None] * 6 + ["text", "bytes", "noise"]))
    if mode == "wild" and damage == "text":  # spliced in unquoted: stray quotes, commas, breaks
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(alphabet='",\r\n\x00aé', max_size=6)) + text[at:]
    encodings = st.sampled_from([*EXACT_ENCODINGS, "cp1252", "latin-1"])
    data, encoding, exact = encode(text, draw(encodings))
    if mode == "wild" and damage == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif mode == "wild" and damage == "noise":
        data = draw(st.binary(max_size=200))
    damaged = mode == "wild" and damage is not None
    return GeneratedFile(data, text, encoding, header, rows, exact, header_fault, damaged)


def expected_error_lines(file: GeneratedFile, required: list[str], judge) -> set[int] | None:
    """The lines the importer must refuse (empty: it must land), or None where this test
    cannot tell. `judge(rows)` gives each well-formed row's verdict, in order."""
    if file.damaged or not file.exact:
        return None
    if "\x00" in file.text and file.encoding not in ("utf-8-sig", "utf-16"):
        return {1}  # without a byte-order mark a NUL byte means "not text"
    if file.header_fault or any(name not in file.header for name in required):
        return {1}
    if any("\x00" in name for name in file.header):
        return {1}  # a NUL in the header is refused: it would reach the answer
    bad, well_formed = set(), []
    for line, values in file.rows:
        if all(value == "" for value in values):
            continue
        if len(values) != len(file.header) or any(
            len(value) > 10_000 or "\x00" in value for value in values
        ):
            bad.add(line)  # a NUL in any value is refused with its line
            continue
        well_formed.append((line, {n: v.strip() for n, v in zip(file.header, values, strict=True)}))
    verdicts = judge(well_formed)
    if UNKNOWN in verdicts.values():
        return None
    bad |= {line for line, verdict in verdicts.items() if verdict == INVALID}
    if not bad and not verdicts:
        return {1}  # the file holds nothing to import
    return bad


def combined(*verdicts: str) -> str:
    if INVALID in verdicts:
        return INVALID
    return UNKNOWN if UNKNOWN in verdicts else VALID


def note_outcome(expected: set[int] | None, landed: bool) -> None:
    """Shown by --hypothesis-show-statistics: how many examples were judged, and landed."""
    judged = "unjudged" if expected is None else "judged valid" if not expected else "judged bad"
    if currently_in_test_context():
        event(f"{judged}, {'landed' if landed else 'refused'}")


def has_nul(value) -> bool:
    """Whether a NUL hides in a value (or a list or dict of them): PostgreSQL stores none."""
    return "\\u0000" in json.dumps(value)


def imported(run, *, expected: set[int] | None, models) -> dict | None:
    """What `run()` imported, or None when it refused the file: then with reasons on lines
    (`expected` ones, where known), and the tables of `models` as they were."""
    before = [snapshot(model) for model in models]
    try:
        return_value = run()
    except CsvImportError as exc:
        refusal = exc
    else:
        note_outcome(expected, landed=True)
        assert expected in (None, set()), f"a file with errors on lines {expected} landed"
        return return_value
    note_outcome(expected, landed=False)
    check_refusal(refusal)
    assert [snapshot(model) for model in models] == before
    if expected is not None:
        assert expected, f"a valid file was refused: {refusal}"
        assert {error.line for error in refusal.errors} == expected, str(refusal)
    return None


def check_refusal(refusal: CsvImportError) -> None:
    assert refusal.errors
    assert refusal.total >= len(refusal.errors)
    for error in refusal.errors:
        assert isinstance(error.line, int)
        assert error.line >= 1
        assert isinstance(error.reason, str)
        assert error.reason.strip()


# -- values: valid ones, wrong ones, and plain nasty ones -------------------------------------

NASTY = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", '"', '""', ",", "a,b", 'say "hi"', "line\nbreak", "cr\rlf", "\x00", "\ufeff",
         "é", "☃" * 3, "1,5", "1e300", "-1", "nan", "inf", "-0.0", "1e39", LONG_VALUE]
    ),
)  # fmt: skip


def numbers(low: float, high: float, *, blank: bool = False) -> Cells:
    """Figures within [low, high] (or left blank where `blank`), and any other."""
    valid = st.floats(low, high).map(repr)
    return Cells(
        valid=st.one_of(valid, st.just("")) if blank else valid,
        wild=st.one_of(
            st.floats(low - (high - low), high + (high - low)).map(repr),  # either side
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.integers(-10, 10**7).map(str),
            st.sampled_from(["1e300", "-1", "nan", "inf", "-inf", "1,5", "", " 2.5 ", "1_0"]),
            NASTY,
        ),
    )


def texts(pool: list[str], limit: int) -> Cells:
    """Text of 1 to `limit` characters (any but NUL), and any other, around the limit too."""
    return Cells(
        valid=st.one_of(
            st.sampled_from(pool),
            st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=30).filter(
                str.strip
            ),
        ),
        wild=st.one_of(
            st.text(alphabet="abc", min_size=limit - 1, max_size=limit + 2),
            st.just("Ha\x00ll"),
            st.text(max_size=30),
            NASTY,
        ),
    )


def judge_figure(text: str, low: float, high: float) -> str:
    """A finite number within [low, high]."""
    try:
        number = float(text)
    except ValueError:
        return INVALID
    return VALID if math.isfinite(number) and low <= number <= high else INVALID


def judge_text(text: str, limit: int) -> str:
    """1 to `limit` characters. A NUL (readable behind a byte-order mark) may be refused or
    dropped, the importer's call; it must never reach the database (PostgreSQL refuses it)."""
    if not text or len(text) > limit:
        return INVALID
    return UNKNOWN if "\x00" in text else VALID


IGNORED = Cells(valid=NASTY, wild=NASTY)  # a column the import does not read


# -- buildings --------------------------------------------------------------------------------

BUILDING_REQUIRED = [
    "code", "name", "building_type", "floor_area_m2", "tariff_usd_per_kwh", "carbon_kg_per_kwh",
    "curtailable_kw",
]  # fmt: skip
BUILDING_OPTIONAL = [
    "feeder", "pv_kw", "battery_kwh", "max_setpoint_change_c", "max_events_per_month",
    "enrolled_on", "consent_by",
]  # fmt: skip
# The plausible range of each figure (the model's constraints, and the documented bounds).
BUILDING_RANGES = {
    "floor_area_m2": (0.0, 1e7),
    "tariff_usd_per_kwh": (0.0, 10.0),
    "carbon_kg_per_kwh": (0.0, 2.0),
    "curtailable_kw": (0.0, 1e5),
    "pv_kw": (0.0, 1e5),
    "battery_kwh": (0.0, 1e6),
    "max_setpoint_change_c": (0.0, 10.0),
}
BUILDING_BLANK_ALLOWED = {"floor_area_m2", "pv_kw", "battery_kwh", "max_setpoint_change_c"}
BUILDING_CODES = ["B-1", "B-2", " B-1 ", "B-3", "MINE-1", "TAKEN-1", "c" * 64]


def building_cells(column: str) -> Cells:
    if column == "code":
        return texts(BUILDING_CODES, 64)
    if column in ("name", "consent_by"):
        return texts(["Hall", "Hall, East", 'The "Annex"', "Ünïcode ☃", "n" * 200], 200)
    if column == "building_type":
        return Cells(st.sampled_from([*BuildingType.values, " office "]), NASTY)
    if column in BUILDING_RANGES:
        low, high = BUILDING_RANGES[column]
        if column == "floor_area_m2":
            low = 1e-3
        return numbers(low, high, blank=column in BUILDING_BLANK_ALLOWED)
    if column == "feeder":
        return Cells(st.sampled_from(["", "F-1"]), st.one_of(st.just("F-9"), NASTY))
    if column == "max_events_per_month":
        return Cells(
            st.one_of(st.integers(0, 31).map(str), st.sampled_from(["", "٣", "+3"])),
            st.one_of(st.integers(-2, 40).map(str), st.sampled_from(["99999", "3.5"]), NASTY),
        )
    if column == "enrolled_on":
        return Cells(
            st.one_of(st.just(""), st.dates(date(1990, 1, 1), date(2100, 12, 31)).map(str)),
            st.one_of(
                st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026/07/01"]),
                st.dates().map(date.isoformat),
                NASTY,
            ),
        )
    return IGNORED


def judge_number(text: str, column: str) -> str:
    """A figure within its range (a floor area above 0); the optional ones (and floor area,
    when unknown) may be left empty."""
    if text == "":
        return VALID if column in BUILDING_BLANK_ALLOWED else INVALID
    if column == "floor_area_m2" and judge_figure(text, 0.0, 0.0) == VALID:
        return INVALID
    return judge_figure(text, *BUILDING_RANGES[column])


def judge_building(row: dict[str, str]) -> str:
    verdicts = [
        judge_text(row["code"], 64),
        judge_text(row["name"], 200),
        VALID if row["building_type"] in BuildingType.values else INVALID,
        VALID if row.get("feeder", "") in ("", "F-1") else INVALID,
    ]
    verdicts += [judge_number(row.get(name, ""), name) for name in BUILDING_RANGES]
    events = row.get("max_events_per_month", "")
    if events:
        try:
            count = int(events)
        except ValueError:
            verdicts.append(INVALID)
        else:
            verdicts.append(VALID if 0 <= count <= 31 else INVALID)
    if row.get("enrolled_on"):
        try:
            enrolled_on = date.fromisoformat(row["enrolled_on"])
        except ValueError:
            verdicts.append(INVALID)
        else:
            verdicts.append(VALID if 1990 <= enrolled_on.year <= 2100 else INVALID)
        verdicts.append(judge_text(row.get("consent_by", ""), 200))  # who consented
    return combined(*verdicts)


def judge_buildings(rows: list[tuple[int, dict[str, str]]]) -> dict[int, str]:
    """Each row's verdict; a code given again, or another owner's, refuses its row."""
    verdicts, codes = {}, set()
    for line, row in rows:
        verdict = judge_building(row)
        if verdict == VALID:
            if row["code"] in codes or row["code"] == "TAKEN-1":
                verdict = INVALID
            codes.add(row["code"])
        verdicts[line] = verdict
    return verdicts


buildings_files = csv_files(
    columns=BUILDING_REQUIRED,
    optional=BUILDING_OPTIONAL,
    cells=building_cells,
    extra_columns=["notes", "Comments é", NUL_COLUMN],
)


def file_codes(file: GeneratedFile) -> set[str]:
    return {
        values[file.header.index("code")].strip()
        for _, values in file.rows
        if any(values)  # blank rows are skipped
    }


@SERVICE
@given(file=buildings_files)
def test_a_buildings_file_lands_whole_or_is_refused_on_its_bad_lines(world, file):
    with rolled_back():
        # given
        before = snapshot(Building)
        expected = expected_error_lines(file, BUILDING_REQUIRED, judge_buildings)
        # when
        result = imported(
            lambda: buildings_csv_import(
                utility=world.utility, owner=world.owner, stream=file.data
            ),
            expected=expected,
            models=[Building],
        )
        # then
        if result is None:
            return
        mine = Building.objects.filter(utility=world.utility, owner=world.owner)
        for building in Building.objects.all():
            building.full_clean()
            assert not has_nul([building.code, building.name, building.consent_by])
        taken = Building.objects.get(code="TAKEN-1")
        assert [row for row in snapshot(Building) if row["id"] == taken.pk] == [
            row for row in before if row["id"] == taken.pk
        ]
        added = len(snapshot(Building)) - len(before)
        assert added <= result["buildings"] <= added + 3  # the owner's three it may update
        if expected is not None:
            codes = file_codes(file)
            assert result["buildings"] == len(codes)
            assert set(mine.values_list("code", flat=True)) == codes | {"MINE-1", "H-01", "H-02"}
            by_code = {building.code: building for building in mine}
            for _, values in file.rows:
                if any(values):
                    row = dict(zip(file.header, (value.strip() for value in values), strict=True))
                    stored = by_code[row["code"]]
                    assert (stored.name, stored.building_type) == (
                        row["name"],
                        row["building_type"],
                    )
                    assert stored.curtailable_kw == float(row["curtailable_kw"])


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_nul_behind_a_byte_order_mark_never_reaches_the_database(world, encoding):
    # given: a NUL the byte-order mark lets through (without one, the file is refused)
    text = ",".join(BUILDING_REQUIRED) + "\nB-1,Ha\x00ll,office,900,0.2,0.3,25\n"
    # when
    result = imported(
        lambda: buildings_csv_import(
            utility=world.utility, owner=world.owner, stream=text.encode(encoding)
        ),
        expected=None,
        models=[Building],
    )
    # then: refused, or landed without it
    if result is not None:
        assert not has_nul(list(Building.objects.values_list("code", "name")))


# -- timestamps -------------------------------------------------------------------------------


def judge_timestamp(text: str) -> str | tuple[date, int, bool]:
    """The (local day, wall-clock slot, second pass) an ISO timestamp names in Chicago, or a
    verdict. Written without its offset, an hour the clocks skip or repeat is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return INVALID
    if moment.minute or moment.second or moment.microsecond or not 1990 <= moment.year <= 2100:
        return INVALID
    if moment.tzinfo is None:
        wall = moment.replace(tzinfo=TZ)
        if wall.replace(fold=0).utcoffset() != wall.replace(fold=1).utcoffset():
            return INVALID  # in the spring gap or the fall-back overlap
        return moment.date(), moment.hour, False
    local = moment.astimezone(TZ)
    if local.minute or not 1990 <= local.year <= 2100:
        return UNKNOWN  # on the hour of its own offset, not of Chicago's; or out of the years
    second_pass = local.fold == 1 and (
        local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()
    )
    return local.date(), local.hour, second_pass


DST_DAYS = [date(2026, 3, 8), date(2026, 11, 1), date(2025, 3, 9), date(2025, 11, 2)]
OFFSETS = [None, None, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=-6))]
HALF_HOUR_AHEAD = timezone(timedelta(hours=5, minutes=30))  # off Chicago's hours


def written_timestamp(moment: datetime, offset, separator: str) -> str:
    if offset is not None:
        moment = moment.replace(tzinfo=offset)
    text = moment.isoformat(sep=separator, timespec="minutes" if not moment.second else "auto")
    return text.replace("+00:00", "Z") if separator == "T" else text


def on_the_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def timestamps() -> Cells:
    """Hours of 1990-2100 and about Chicago's clock changes, with and without an offset; and
    any moment of years 1 to 9999, offsets off the hour, text that is no timestamp at all."""
    recent = st.datetimes(datetime(1990, 1, 2), datetime(2100, 12, 30, 23)).map(on_the_hour)
    near_changes = st.builds(
        lambda day, hour: datetime.combine(day, time(hour)),
        st.sampled_from(DST_DAYS),
        st.integers(0, 8),
    )
    any_time = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23))
    separators = st.sampled_from([" ", "T"])
    return Cells(
        valid=st.builds(
            written_timestamp, st.one_of(recent, near_changes), st.sampled_from(OFFSETS),
            separators,
        ).filter(lambda text: judge_timestamp(text) not in (INVALID, UNKNOWN)),
        wild=st.one_of(
            st.builds(
                written_timestamp,
                st.one_of(near_changes, any_time.map(on_the_hour), any_time),
                st.sampled_from([*OFFSETS, HALF_HOUR_AHEAD]),
                separators,
            ),
            st.sampled_from(
                ["2026-03-08 02:00", "2026-11-01 01:00", "2026-07-01", "2026-07-01T17",
                 "2026-13-01 00:00", "2026-07-01 24:00", "20260701T1700", "2026-07-01 17:30",
                 "2026-07-01 17:00:00.000001", "1989-12-31 23:00", "2101-01-01 00:00", ""]
            ),
            NASTY,
        ),
    )  # fmt: skip


# -- readings ---------------------------------------------------------------------------------

READING_COLUMNS = ["building_code", "timestamp", "kwh"]


def reading_cells(column: str) -> Cells:
    if column == "building_code":
        return Cells(
            st.sampled_from(["H-01", "H-02", " H-01 "]),
            st.one_of(st.sampled_from(["OTHER-1", "ZZ-9", "h-01"]), NASTY),
        )
    if column == "timestamp":
        return timestamps()
    if column == "kwh":
        return numbers(0.0, 1e6)
    return IGNORED


def judge_readings(rows: list[tuple[int, dict[str, str]]]) -> dict[int, str]:
    """Each row's verdict; an hour of a building given twice refuses the second (whatever the
    first's kWh)."""
    verdicts, seen = {}, set()
    for line, row in rows:
        code = VALID if row["building_code"] in ("H-01", "H-02") else INVALID
        hour = judge_timestamp(row["timestamp"])
        kwh = judge_figure(row["kwh"], 0.0, 1e6)  # a gigawatt-hour in an hour is a typo
        verdict = combined(code, hour if hour in (INVALID, UNKNOWN) else VALID, kwh)
        if code == VALID and isinstance(hour, tuple):
            key = (row["building_code"], *hour)
            if key in seen:
                verdict = INVALID
            seen.add(key)
        verdicts[line] = verdict
    return verdicts


def stored_hours(days) -> int:
    """Hours held by meter days: their 24 slots' bits and the fall-back day's second pass."""
    return sum(bin(day.present_mask).count("1") + (day.repeated_kwh is not None) for day in days)


readings_files = csv_files(
    columns=READING_COLUMNS, optional=[], cells=reading_cells, extra_columns=["meter", NUL_COLUMN]
)


@SERVICE
@given(file=readings_files)
def test_a_readings_file_lands_whole_or_is_refused_on_its_bad_lines(world, file):
    with rolled_back():
        # given
        expected = expected_error_lines(file, READING_COLUMNS, judge_readings)
        # when
        result = imported(
            lambda: readings_csv_import(utility=world.utility, stream=file.data),
            expected=expected,
            models=[MeterDay],
        )
        # then
        if result is None:
            return
        days = list(MeterDay.objects.all())
        assert len(days) == result["days"]
        for day in days:
            assert math.isfinite(day.total_kwh)
            assert math.isfinite(day.peak_kw)
            assert 0 <= day.peak_kw <= day.total_kwh + 1e-9
            hourly = np.nan_to_num(day.hourly_kwh.astype(float)).sum()
            assert day.total_kwh == pytest.approx(hourly + (day.repeated_kwh or 0), rel=1e-6)
        assert stored_hours(days) == result["rows"]
        if expected is not None:
            check_readings_stored(file, days)


def check_readings_stored(file: GeneratedFile, days: list[MeterDay]) -> None:
    """Every row's kWh sits in the slot its timestamp names."""
    by_key = {(day.building.code, day.day): day for day in days}
    rows = [dict(zip(file.header, values, strict=True)) for _, values in file.rows if any(values)]
    assert stored_hours(days) == len(rows)
    for row in rows:
        day, hour, second_pass = judge_timestamp(row["timestamp"].strip())
        stored = by_key[(row["building_code"].strip(), day)]
        kwh = float(row["kwh"])
        if second_pass:
            assert stored.repeated_kwh == kwh
        else:
            values = unpack_days([stored.kwh], [stored.present_mask])[0]
            assert values[hour] == np.float32(kwh)


def test_the_fall_back_day_written_with_offsets_lands_as_25_hours(world):
    # given: every hour of 2026-11-01 in Chicago, 01:00 twice (CDT then CST)
    midnight = datetime(2026, 11, 1, tzinfo=TZ).astimezone(UTC)
    stamps = [
        (midnight + timedelta(hours=h)).astimezone(TZ).isoformat(timespec="minutes")
        for h in range(25)
    ]
    assert {"2026-11-01T01:00-05:00", "2026-11-01T01:00-06:00"} <= set(stamps)
    text = "building_code,timestamp,kwh\n" + "".join(
        f"H-01,{stamp},{h + 1}\n" for h, stamp in enumerate(stamps)
    )
    # when
    result = readings_csv_import(utility=world.utility, stream=text.encode())
    # then
    day = MeterDay.objects.get(building__code="H-01", day=date(2026, 11, 1))
    assert (result["rows"], stored_hours([day])) == (25, 25)
    assert day.hours_present == 24
    assert day.hourly_kwh[1] == 2.0  # the first pass, in CDT
    assert day.repeated_kwh == 3.0  # the second, in CST
    assert day.total_kwh == sum(range(1, 26))


def test_the_skipped_spring_hour_without_an_offset_is_refused_on_its_line(world):
    text = (
        "building_code,timestamp,kwh\n"
        "H-01,2026-03-08 01:00,1\n"
        "H-01,2026-03-08 02:00,1\n"
        "H-01,2026-03-08 03:00,1\n"
    )
    with pytest.raises(CsvImportError) as refused:
        readings_csv_import(utility=world.utility, stream=text.encode())
    [error] = refused.value.errors
    assert error.line == 3
    assert "2026-03-08 02:00 does not exist in America/Chicago" in error.reason
    assert not MeterDay.objects.exists()


# -- weather ----------------------------------------------------------------------------------

WEATHER_REQUIRED = ["timestamp", "temperature_c"]


def weather_cells(column: str) -> Cells:
    if column == "timestamp":
        return timestamps()
    if column == "temperature_c":
        return numbers(-90.0, 60.0)
    if column == "humidity_pct":
        return numbers(0.0, 100.0, blank=True)
    return IGNORED


def judge_weather(forecasts: bool):
    def judge(rows: list[tuple[int, dict[str, str]]]) -> dict[int, str]:
        verdicts, seen = {}, set()
        for line, row in rows:
            hour = judge_timestamp(row["timestamp"])
            figures = [judge_figure(row["temperature_c"], -90.0, 60.0)]
            if not forecasts and row.get("humidity_pct"):
                figures.append(judge_figure(row["humidity_pct"], 0.0, 100.0))
            verdict = combined(hour if hour in (INVALID, UNKNOWN) else VALID, *figures)
            if isinstance(hour, tuple):
                if hour in seen:
                    verdict = INVALID
                seen.add(hour)
            verdicts[line] = verdict
        return verdicts

    return judge


weather_files = csv_files(
    columns=WEATHER_REQUIRED,
    optional=["humidity_pct"],
    cells=weather_cells,
    extra_columns=["station", NUL_COLUMN],
)


@SERVICE
@given(file=weather_files, forecasts=st.booleans())
def test_a_weather_file_lands_whole_or_is_refused_on_its_bad_lines(world, file, forecasts):
    with rolled_back():
        # given
        expected = expected_error_lines(file, WEATHER_REQUIRED, judge_weather(forecasts))
        # when
        result = imported(
            lambda: weather_csv_import(
                utility=world.utility, stream=file.data, forecasts=forecasts
            ),
            expected=expected,
            models=[SeriesDay],
        )
        # then
        if result is None:
            return
        temperature = (
            SeriesDay.Series.TEMPERATURE_FORECAST_C if forecasts else SeriesDay.Series.TEMPERATURE_C
        )
        hours = sum(
            bin(day.present_mask).count("1") for day in SeriesDay.objects.filter(series=temperature)
        )
        assert hours + result["repeated_hours_not_kept"] == result["rows"]
        for day in SeriesDay.objects.all():
            values = day.hourly_values
            values = values[~np.isnan(values)]
            if day.series == SeriesDay.Series.HUMIDITY_PCT:
                assert ((values >= 0) & (values <= 100)).all()
            else:
                assert ((values >= -90) & (values <= 60)).all()


# -- the upload pages -------------------------------------------------------------------------

UPLOAD_PERMISSIONS = [
    f"{app}.{action}_{model}"
    for app, model in (("stakeholders", "building"), ("forecasting", "meterday"),
                       ("forecasting", "seriesday"))
    for action in ("view", "add", "change")
]  # fmt: skip


@pytest.fixture
def uploader(client, world):
    """A client signed in as a staff member of the utility who may upload all three files."""
    client.force_login(staff_member(world.utility.organization, permissions=UPLOAD_PERMISSIONS))
    return client


def upload_and_follow(client, page: str, data: bytes, fields: dict, models) -> None:
    """POST the file to the page, run the job it queues, and check the page that follows."""
    before = [snapshot(model) for model in models]
    csv_file = SimpleUploadedFile("generated.csv", data, content_type="text/csv")
    response = client.post(reverse(page), {**fields, "csv_file": csv_file})
    if response.status_code == 200:  # the form refused it (an empty file): nothing queued
        assert b"Traceback" not in response.content
        assert not JobRun.objects.filter(kind__contains="import").exists()
    else:
        response = finish_upload(client, response)
        job = response.context["job"]
        assert job.status in (JobRun.Status.SUCCEEDED, JobRun.Status.FAILED)
        assert not has_nul(job.result), job.result
        if job.status == JobRun.Status.FAILED:
            assert job.result.get("errors"), f"the job crashed: {job.error}"
            assert [snapshot(model) for model in models] == before
    assert response.status_code == 200
    assert "Traceback" not in response.content.decode()


def any_bytes(files):
    return st.one_of(files.map(lambda file: file.data), st.binary(max_size=300))


@PAGE
@given(data=any_bytes(buildings_files))
def test_the_buildings_upload_page_never_fails(uploader, world, data):
    with rolled_back():
        upload_and_follow(
            uploader, "admin:stakeholders_building_upload", data,
            {"utility": world.utility.pk, "owner": world.owner.pk}, [Building],
        )  # fmt: skip


@PAGE
@given(data=any_bytes(readings_files))
def test_the_readings_upload_page_never_fails(uploader, world, data):
    with rolled_back():
        upload_and_follow(
            uploader, "admin:forecasting_meterday_upload", data, {"utility": world.utility.pk},
            [MeterDay],
        )  # fmt: skip


@PAGE
@given(data=any_bytes(weather_files), kind=st.sampled_from(["measured", "forecasts"]))
def test_the_weather_upload_page_never_fails(uploader, world, data, kind):
    with rolled_back():
        upload_and_follow(
            uploader, "admin:forecasting_seriesday_upload", data,
            {"utility": world.utility.pk, "kind": kind}, [SeriesDay],
        )  # fmt: skip
