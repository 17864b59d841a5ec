"""Hourly readings: the bulk upsert, and the CSV import (every bad line reported, all or none)."""

from datetime import date

import numpy as np
import pytest
from django.db import transaction

from forecasting.hourly import HOURS
from forecasting.models import MeterDay
from forecasting.services.readings import meter_days_upsert, readings_csv_import
from stakeholders.csvimport import CsvImportError
from stakeholders.models import DataOrigin
from tests.factories import BuildingFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JULY_1, JULY_2 = date(2026, 7, 1), date(2026, 7, 2)


@pytest.fixture
def utility():
    return UtilityFactory(name="Utility X", timezone="America/Los_Angeles")


@pytest.fixture
def hall(utility):
    return BuildingFactory(utility=utility, code="H-01")


def upsert(building_ids, days, kwh):
    return meter_days_upsert(
        building_ids=np.array(building_ids), days=days, kwh=np.array(kwh), origin="uploaded"
    )


def test_upsert_writes_rows_with_totals_and_peaks_of_the_measured_hours(hall):
    # given: a day with hours 0-1 missing and a full day
    first = np.arange(HOURS, dtype=np.float64)
    first[[0, 1]] = np.nan
    second = np.full(HOURS, 1.5)
    # when
    written = upsert([hall.pk, hall.pk], [JULY_1, JULY_2], [first, second])
    # then
    assert written == 2
    day1, day2 = MeterDay.objects.filter(building=hall).order_by("day")
    assert (day1.day, day1.total_kwh, day1.peak_kw, day1.hours_present) == (JULY_1, 275.0, 23.0, 22)
    assert np.isnan(day1.hourly_kwh[:2]).all()
    assert day1.hourly_kwh[2] == 2.0
    assert (day2.total_kwh, day2.peak_kw, day2.hours_present) == (36.0, 1.5, 24)
    assert day2.origin == DataOrigin.UPLOADED


def test_second_upsert_replaces_the_day_without_duplicates(hall):
    upsert([hall.pk], [JULY_1], [np.full(HOURS, 1.0)])
    upsert([hall.pk], [JULY_1], [np.full(HOURS, 2.0)])
    [day] = MeterDay.objects.filter(building=hall)
    assert (day.total_kwh, day.peak_kw) == (48.0, 2.0)
    assert (day.hourly_kwh == 2.0).all()


def test_replacing_twice_inside_one_transaction_works(hall):
    # the bulk path keeps a temporary table until the outer transaction ends
    july = date(2026, 7, 1)
    with transaction.atomic():
        upsert([hall.pk], [july], [np.ones(HOURS)])
        upsert([hall.pk], [july], [np.full(HOURS, 2.0)])
        upsert([hall.pk], [july], [np.full(HOURS, 3.0)])
    assert MeterDay.objects.get(building=hall, day=july).total_kwh == pytest.approx(72.0)


def test_a_day_with_no_measured_hour_is_not_stored(hall):
    written = upsert([hall.pk, hall.pk], [JULY_1, JULY_2], [np.full(HOURS, np.nan), np.ones(24)])
    assert written == 1
    assert list(MeterDay.objects.values_list("day", flat=True)) == [JULY_2]


def test_negative_kwh_is_refused(hall):
    values = np.ones(HOURS)
    values[7] = -0.1
    with pytest.raises(ValueError, match="hourly kWh cannot be negative"):
        upsert([hall.pk], [JULY_1], [values])
    assert not MeterDay.objects.exists()


def test_rows_of_the_wrong_width_are_refused(hall):
    with pytest.raises(ValueError, match="the same n building-days"):
        upsert([hall.pk], [JULY_1], [np.ones(23)])


def test_building_ids_of_another_length_are_refused_with_a_clear_error(hall):
    with pytest.raises(ValueError, match="the same n building-days"):
        upsert([hall.pk, hall.pk], [JULY_1], [np.ones(HOURS)])


def import_csv(utility, text: str) -> dict:
    return readings_csv_import(utility=utility, stream=text.encode())


def test_csv_import_stores_each_reading_at_its_hour(utility, hall):
    school = BuildingFactory(utility=utility, code="S-02")
    counts = import_csv(
        utility,
        "building_code,timestamp,kwh\n"
        "H-01,2026-07-01 00:00,1.25\n"
        "H-01,2026-07-01 14:00,7.5\n"
        "S-02,2026-07-02T23:00,0.5\n",
    )
    assert {key: counts[key] for key in ("rows", "buildings", "days", "review_count")} == {
        "rows": 3,
        "buildings": 2,
        "days": 2,
        "review_count": 0,
    }
    day = MeterDay.objects.get(building=hall, day=JULY_1)
    assert (day.hourly_kwh[0], day.hourly_kwh[14]) == (1.25, 7.5)
    assert day.hours_present == 2
    assert (day.total_kwh, day.peak_kw) == (8.75, 7.5)
    assert MeterDay.objects.get(building=school, day=JULY_2).hourly_kwh[23] == 0.5


def test_csv_import_merges_into_a_stored_day_keeping_its_other_hours(utility, hall):
    # given: a full stored day of 1 kWh an hour
    upsert([hall.pk], [JULY_1], [np.ones(HOURS)])
    # when: a file gives two of its hours again
    import_csv(
        utility, "building_code,timestamp,kwh\nH-01,2026-07-01 09:00,4\nH-01,2026-07-01 10:00,0\n"
    )
    # then
    [day] = MeterDay.objects.filter(building=hall)
    expected = np.ones(HOURS)
    expected[[9, 10]] = [4.0, 0.0]
    np.testing.assert_array_equal(day.hourly_kwh, expected)
    assert (day.total_kwh, day.peak_kw, day.hours_present) == (26.0, 4.0, 24)


def test_csv_import_reports_every_error_with_its_line_and_saves_nothing(utility, hall):
    # given
    upsert([hall.pk], [JULY_1], [np.ones(HOURS)])
    text = (
        "building_code,timestamp,kwh\n"
        "H-01,2026-07-01 03:00,2.0\n"  # line 2: good
        "H-01,2026-13-01 00:00,1.0\n"  # line 3: no 13th month
        "H-01,2026-07-01 10:30,1.0\n"  # line 4: not on the hour
        "H-01,2026-07-01 11:00,-1.0\n"  # line 5: negative
        "H-01,2026-07-01 12:00,lots\n"  # line 6: not a number
        "NOPE,2026-07-01 13:00,1.0\n"  # line 7: unknown building
        "H-01,2026-07-01 03:00,2.5\n"  # line 8: hour of line 2 again
    )
    # when
    with pytest.raises(CsvImportError) as raised:
        import_csv(utility, text)
    # then
    assert [(e.line, e.reason) for e in raised.value.errors] == [
        (
            3,
            "timestamp '2026-13-01 00:00' is not a date and hour (use YYYY-MM-DD HH:00, "
            "optionally with its UTC offset, e.g. 2026-11-01T01:00-06:00)",
        ),
        (4, "timestamp '2026-07-01 10:30' is not on the hour"),
        (5, "kWh -1 is below 0"),
        (6, "kWh 'lots' is not a number"),
        (7, "building 'NOPE' is not on Utility X"),
        (8, "H-01 2026-07-01 03:00 was already given on line 2"),
    ]
    assert MeterDay.objects.count() == 1
    assert (MeterDay.objects.get().hourly_kwh == 1.0).all()


def test_csv_import_reports_several_problems_of_one_line():
    utility = UtilityFactory()
    with pytest.raises(CsvImportError) as raised:
        import_csv(utility, "building_code,timestamp,kwh\nNOPE,yesterday,-3\n")
    assert [e.line for e in raised.value.errors] == [2, 2, 2]
    assert not MeterDay.objects.exists()


def test_csv_import_refuses_a_file_without_readings(utility, hall):
    with pytest.raises(CsvImportError, match="line 1: the file holds no readings"):
        import_csv(utility, "building_code,timestamp,kwh\n")


def test_timestamps_with_an_offset_are_converted_to_local_time(utility, hall):
    # 21:00 UTC is 14:00 in Los Angeles in July (PDT, UTC-7); 06:00 UTC is 23:00 the day before
    import_csv(
        utility,
        "building_code,timestamp,kwh\n"
        "H-01,2026-07-01T21:00+00:00,3.0\n"
        "H-01,2026-07-02T06:00Z,2.0\n",
    )
    [day] = MeterDay.objects.filter(building=hall)
    assert day.day == JULY_1
    present = {hour: float(v) for hour, v in enumerate(day.hourly_kwh) if not np.isnan(v)}
    assert present == {14: 3.0, 23: 2.0}


def test_an_hour_given_twice_with_and_without_offset_is_a_duplicate(utility, hall):
    with pytest.raises(CsvImportError) as raised:
        import_csv(
            utility,
            "building_code,timestamp,kwh\nH-01,2026-07-01 14:00,3.0\nH-01,2026-07-01T21:00+00:00,3.0\n",
        )
    assert [(e.line, e.reason) for e in raised.value.errors] == [
        (3, "H-01 2026-07-01 14:00 was already given on line 2")
    ]
