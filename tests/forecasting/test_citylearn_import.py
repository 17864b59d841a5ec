"""The CityLearn 2022 homes, read from the real wheel (cached in ~/.cache/energyrec once)."""

from datetime import date, datetime

import numpy as np
import pytest
from django.db.models import Sum

import forecasting.tasks  # noqa: F401 -- registers the job kind
from forecasting import citylearn
from forecasting.models import MeterDay, SeriesDay
from forecasting.services.citylearn_import import DEMO_UTILITY, citylearn_load, citylearn_store
from jobs.models import JobRun
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS
from stakeholders.models import Building, Utility

pytestmark = pytest.mark.django_db

DAYS = 366  # 2016-07-31 23:00 + 8760 h ends on 2017-07-31 22:00


@pytest.fixture(scope="module")
def data() -> citylearn.CityLearnData:
    return citylearn_load()


def counts() -> tuple[int, int, int, int]:
    return (
        Utility.objects.count(),
        Building.objects.count(),
        MeterDay.objects.count(),
        SeriesDay.objects.count(),
    )


def test_store_creates_the_17_homes_with_their_readings(data):
    # when
    result = citylearn_store(data=data)
    # then
    assert result == {
        "buildings": 17,
        "meter_days": 17 * DAYS,
        "hours": 17 * 8760,
        # five series; the day-ahead temperature forecast has none for the first (partial) day
        "series_days": 5 * DAYS - 1,
        "capacity_kw": 55,
    }
    utility = Utility.objects.get(name=DEMO_UTILITY)
    assert utility.capacity_kw == 55  # ceil of the 17-home total's peak, 54.68 kW
    assert utility.buildings.filter(enrolled=True, origin="measured").count() == 17
    assert counts() == (1, 17, 17 * DAYS, 5 * DAYS - 1)


def test_home_figures_come_from_its_stored_readings(data):
    citylearn_store(data=data)
    home = Building.objects.get(code="CL22-01")
    rows = list(MeterDay.objects.filter(building=home))
    hours = sum(row.hours_present for row in rows)
    assert hours == 8760
    assert sum(row.total_kwh for row in rows) / hours == pytest.approx(1.208, abs=0.01)
    assert max(row.peak_kw for row in rows) == pytest.approx(7.99, abs=0.01)
    # the first day holds only its last hour, 23:00
    first = min(rows, key=lambda row: row.day)
    assert (first.day, first.present_mask) == (date(2016, 7, 31), 1 << 23)
    assert home.feeder.name == "Fontana F1"
    assert 0 < home.curtailable_kw < 7.99


def test_the_total_peak_of_the_stored_readings_sets_the_capacity(data):
    citylearn_store(data=data)
    stacked = np.stack(
        [
            np.concatenate([row.hourly_kwh for row in MeterDay.objects.filter(building=b)])
            for b in Building.objects.order_by("code")
        ]
    )
    peak = np.nanmax(np.nansum(stacked, axis=0))
    assert peak == pytest.approx(54.68, abs=0.01)  # kW, all 17 homes together
    assert Utility.objects.get().capacity_kw == 55


def test_store_twice_leaves_the_same_rows(data):
    citylearn_store(data=data)
    once = counts()
    total = MeterDay.objects.aggregate(Sum("total_kwh"))["total_kwh__sum"]
    citylearn_store(data=data)
    assert counts() == once
    assert MeterDay.objects.aggregate(Sum("total_kwh"))["total_kwh__sum"] == pytest.approx(total)


def test_to_days_starting_at_23h_gives_a_partial_first_day():
    days, daily = citylearn.to_days(np.arange(1.0, 27.0), start=datetime(2016, 7, 31, 23))
    assert days == [date(2016, 7, 31), date(2016, 8, 1), date(2016, 8, 2)]
    assert daily.shape == (3, 24)
    assert np.isnan(daily[0, :23]).all()
    assert daily[0, 23] == 1.0
    assert daily[1].tolist() == list(np.arange(2.0, 26.0))
    assert daily[2, 0] == 26.0
    assert np.isnan(daily[2, 1:]).all()


def test_to_days_keeps_leading_axes():
    days, daily = citylearn.to_days(np.ones((2, 48)), start=datetime(2016, 8, 1, 0))
    assert len(days) == 2
    assert daily.shape == (2, 2, 24)
    assert not np.isnan(daily).any()


def test_import_job_kind_succeeds_with_its_counts():
    job = JobRun.objects.create(kind="forecasting.import_citylearn")
    done = job_execute(job_id=job.pk, work=JOB_TASKS["forecasting.import_citylearn"])
    assert done.status == "succeeded"
    assert done.progress == 100
    assert done.counts == {"buildings": 17, "meter_days": 17 * DAYS}
    assert done.result["capacity_kw"] == 55
    assert Building.objects.filter(utility__name=DEMO_UTILITY).count() == 17
