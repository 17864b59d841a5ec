"""The CityLearn 2022 homes, read from the real wheel (cached in ~/.cache/energyrec once): on
their own dates, and replayed onto dates around a given day for the demo."""

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from django.db.models import Sum

import forecasting.tasks  # noqa: F401 -- registers the job kind
from forecasting import citylearn
from forecasting.models import MeterDay, SeriesDay
from forecasting.services.citylearn_import import (
    CITYLEARN_UTILITY,
    DEMO_UTILITY,
    citylearn_load,
    citylearn_store,
    replay_stored,
)
from forecasting.services.readings import meter_days_upsert
from jobs.models import JobRun
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS
from stakeholders.models import Building, DataOrigin, Utility

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
    utility = Utility.objects.get(name=CITYLEARN_UTILITY)
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
    assert Building.objects.filter(utility__name=CITYLEARN_UTILITY).count() == 17


# The replay: the same year on dates around a day (here a Tuesday afternoon, 1 Dec 2026).
NOW = datetime(2026, 12, 1, 14, 30)
STRAINED = date(2017, 6, 21)  # the year's highest total peak on a Wednesday (52.8 kW)


def test_replay_puts_the_most_strained_day_of_tomorrows_weekday_tomorrow(data):
    # when
    replay = citylearn.replay_at(data.load_kwh, NOW)
    # then
    tomorrow = NOW.date() + timedelta(days=1)
    assert tomorrow - timedelta(days=replay.shift_days) == STRAINED
    assert replay.shift_days % 7 == 0  # every hour keeps its weekday
    assert replay.now == datetime(2026, 12, 1, 14, 0)
    days, peaks = citylearn.daily_peaks(data.load_kwh)
    wednesdays = [
        peak for day, peak in zip(days, peaks, strict=True)
        if day.weekday() == 2 and day >= days[citylearn.REPLAY_MIN_HISTORY_DAYS]
    ]  # fmt: skip
    assert peaks[days.index(STRAINED)] == pytest.approx(max(wednesdays))
    assert peaks[days.index(STRAINED)] == pytest.approx(52.8, abs=0.1)


def test_replay_past_blanks_the_hour_in_progress_and_after():
    replay = citylearn.Replay(shift_days=0, now=datetime(2016, 8, 2, 14))
    days, daily = replay.days(np.ones(24 * 4))
    past = replay.past(days, daily)
    assert days[2] == date(2016, 8, 2)
    assert np.isfinite(past[2, :14]).all()
    assert np.isnan(past[2, 14:]).all()
    assert np.isnan(past[3:]).all()
    assert np.isfinite(past[1]).all()


def test_store_a_replay_writes_its_past_on_the_moved_dates(data):
    replay = citylearn.replay_at(data.load_kwh, NOW)
    # when
    counts = citylearn_store(data=data, replay=replay)
    # then
    utility = Utility.objects.get(name=DEMO_UTILITY)
    rows = MeterDay.objects.filter(building__utility=utility)
    last = rows.order_by("-day").first()
    assert (last.day, last.present_mask) == (NOW.date(), (1 << 14) - 1)  # 00:00-13:00 today
    assert rows.order_by("day").first().day == replay.start.date()
    assert counts["hours"] == rows.count() * 24 - (24 - 14) * 17 - 23 * 17
    assert replay_stored(replay=replay)
    # the same values, a whole number of weeks later: yesterday replays 19 June 2017
    home = Building.objects.get(utility=utility, code="CL22-01")
    yesterday = MeterDay.objects.get(building=home, day=NOW.date() - timedelta(days=1))
    index = (STRAINED - timedelta(days=2) - citylearn.START.date()).days * 24 - 23
    assert yesterday.hourly_kwh == pytest.approx(data.load_kwh[0, index : index + 24], abs=1e-5)
    # the day-ahead temperature forecast and the tariff reach the end of tomorrow
    tariff = SeriesDay.objects.filter(utility=utility, series=SeriesDay.Series.PRICE_USD_PER_KWH)
    assert tariff.order_by("-day").first().day == NOW.date() + timedelta(days=1)
    temperature = SeriesDay.objects.filter(utility=utility, series=SeriesDay.Series.TEMPERATURE_C)
    assert temperature.order_by("-day").first().day == NOW.date()


def test_store_the_same_replay_later_keeps_the_past_and_a_moved_one_replaces_it(data):
    replay = citylearn.replay_at(data.load_kwh, NOW)
    citylearn_store(data=data, replay=replay)
    home = Building.objects.get(utility__name=DEMO_UTILITY, code="CL22-01")
    yesterday = NOW.date() - timedelta(days=1)
    changed = MeterDay.objects.get(building=home, day=yesterday).hourly_kwh * 0.5
    meter_days_upsert(
        building_ids=np.array([home.pk]), days=[yesterday], kwh=changed[None, :],
        origin=DataOrigin.SYNTHETIC,
    )  # fmt: skip
    # when: the same replay, two hours on, keeping its past
    later = citylearn.Replay(shift_days=replay.shift_days, now=replay.now + timedelta(hours=2))
    citylearn_store(data=data, replay=later, keep_past=True)
    # then
    assert MeterDay.objects.get(building=home, day=yesterday).origin == DataOrigin.SYNTHETIC
    today = MeterDay.objects.get(building=home, day=NOW.date())
    assert today.present_mask == (1 << 16) - 1
    # when: the next day's replay
    moved = citylearn.replay_at(data.load_kwh, NOW + timedelta(days=1))
    citylearn_store(data=data, replay=moved)
    # then: every reading lies on its dates, none simulated
    rows = MeterDay.objects.filter(building__utility__name=DEMO_UTILITY)
    assert rows.order_by("day").first().day == moved.start.date()
    assert not rows.filter(origin=DataOrigin.SYNTHETIC).exists()
    assert rows.filter(building=home).count() == (moved.today - moved.start.date()).days + 1
