"""Training, the model registry, and day-ahead forecast runs on a small utility.

Four buildings on two feeders with 90 days of deterministic hourly readings and temperatures;
the LSTM is kept tiny so that a training takes about a second.
"""

from dataclasses import asdict, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

import forecasting.tasks  # noqa: F401  (registers the job kinds)
from forecasting import lstm
from forecasting.models import (
    AggregateForecast,
    BuildingForecast,
    ForecastModel,
    ForecastRun,
    GridStatusHour,
    MeterDay,
    SeriesDay,
)
from forecasting.services.forecasts import building_forecast_values, forecast_run_create
from forecasting.services.models import (
    ForecastError,
    forecast_model_promote,
    forecast_model_rollback,
    forecast_model_train,
    forecast_model_transfer,
    training_data,
)
from forecasting.services.readings import meter_days_upsert, series_days_upsert
from jobs.models import JobRun
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS
from stakeholders.models import DataOrigin
from tests.factories import BuildingFactory, FeederFactory, UtilityFactory

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)
DAYS = 90
FORECAST_DAY = START + timedelta(days=DAYS)  # the day after the last reading
SCALES_KW = (20.0, 35.0, 50.0, 80.0)
# A test-sized model: a step floor of 10 (the default is 2,000) keeps each training a blink.
TINY = lstm.LSTMConfig(epochs=3, hidden=8, head_hidden=16, patience=2, min_steps=10, max_steps=200)
TINY_PARAMS = asdict(TINY)
# Never learns: worse on the held-out days than TINY (about 31 % median CV(RMSE) against 20 %).
UNTRAINED = replace(TINY, learning_rate=0.0)


def make_portfolio(*, days: int = DAYS, seed: int = 0, tz: str = "UTC"):
    """A utility (UTC unless `tz`) with two feeders of two buildings each, `days` days of readings from
    START (a daily sine profile x the building's scale, a quieter weekend, 3 % seeded noise)
    and hourly temperatures. Returns (utility, buildings)."""
    rng = np.random.default_rng(seed)
    utility = UtilityFactory(timezone=tz)
    feeders = [FeederFactory(utility=utility) for _ in range(2)]
    buildings = [
        BuildingFactory(utility=utility, feeder=feeders[i // 2]) for i in range(len(SCALES_KW))
    ]
    dates = [START + timedelta(days=d) for d in range(days)]
    hours = np.arange(24)
    profile = 1.0 + 0.6 * np.sin(2 * np.pi * (hours - 8) / 24)  # (24,), peak mid-afternoon
    weekday = np.array([0.7 if day.weekday() >= 5 else 1.0 for day in dates])  # (days,)
    ids, all_days, kwh = [], [], []
    for building, scale in zip(buildings, SCALES_KW, strict=True):
        noise = 1 + 0.03 * rng.standard_normal((days, 24))
        kwh.append(scale * profile[None, :] * weekday[:, None] * noise)
        ids += [building.pk] * days
        all_days += dates
    meter_days_upsert(
        building_ids=np.array(ids),
        days=all_days,
        kwh=np.concatenate(kwh),
        origin=DataOrigin.UPLOADED,
    )
    seasonal = 5 + 10 * np.arange(days) / days  # slowly warming
    temperature = seasonal[:, None] + 6 * np.sin(2 * np.pi * (hours - 9) / 24)[None, :]
    temperature = temperature + 0.5 * rng.standard_normal((days, 24))
    series_days_upsert(
        utility=utility,
        series=SeriesDay.Series.TEMPERATURE_C,
        days=dates,
        values=temperature,
        origin=DataOrigin.UPLOADED,
    )
    return utility, buildings


def run_jobs(kind: str) -> list[JobRun]:
    """Execute, in this process, every queued job of `kind`; returns them finished."""
    done = []
    for job in JobRun.objects.filter(kind=kind, status=JobRun.Status.QUEUED).order_by("pk"):
        finished = job_execute(job_id=job.pk, work=JOB_TASKS[kind])
        assert finished.status == JobRun.Status.SUCCEEDED, finished.error
        done.append(finished)
    return done


def run_forecast(utility, day: date = FORECAST_DAY, *, before_aggregate=None) -> ForecastRun:
    run = forecast_run_create(utility=utility, day=day)
    assert len(run_jobs("forecasting.forecast_chunk")) == run.chunks_total == 1
    if before_aggregate:
        before_aggregate(run)
    assert len(run_jobs("forecasting.forecast_aggregate")) == 1
    run.refresh_from_db()
    return run


@pytest.fixture
def portfolio():
    return make_portfolio()


@pytest.fixture
def utility(portfolio):
    return portfolio[0]


@pytest.fixture
def buildings(portfolio):
    return portfolio[1]


@pytest.fixture
def trained(utility):
    return forecast_model_train(utility=utility, config=TINY)


# --- training and the registry ---------------------------------------------------------------


def test_first_training_registers_an_active_version_1(utility, trained):
    model = trained
    assert (model.version, model.status) == (1, ForecastModel.Status.ACTIVE)
    assert model.promoted_at is not None
    assert model.buildings == 4
    for name in ("lstm", "mean7", "prevday", "prevweek"):
        assert {"median_cvrmse_pct", "total_cvrmse_pct"} <= model.metrics[name].keys(), name
        assert model.metrics[name]["median_cvrmse_pct"] > 0
    assert 0.0 <= model.metrics["p10_p90_coverage"] <= 1.0
    assert model.metrics["spikes_removed"] == 0
    # no day-ahead forecasts were stored: the day before stands in, and the record says so
    assert model.metrics["temperature_forecast"] == {
        "source": "previous_day",
        "label": "Stand-in: same hours of the day before",
        "stored_share": 0.0,
    }
    assert model.metrics["training"] == {"epochs": 10, "steps": 10, "stopped": "epoch_cap"}
    assert model.metrics["promotion"] == {"promoted": True, "reason": "No version was active."}
    assert len(model.data_fingerprint) == 64
    assert int(model.data_fingerprint, 16) >= 0  # hexadecimal
    assert model.hyperparameters == asdict(TINY)
    # 90 days: the first 60 train (after a 14-day lookback), the last 30 test
    assert model.train_start == START + timedelta(days=14)
    assert model.train_end == START + timedelta(days=59)
    assert (model.test_start, model.test_end) == (
        START + timedelta(days=60),
        FORECAST_DAY - timedelta(days=1),
    )
    weights = bytes(model.weights)
    assert weights
    assert lstm.TrainedModel.from_bytes(weights).config == TINY


def test_same_data_same_fingerprint(utility, trained):
    again = forecast_model_train(utility=utility, config=TINY)
    assert again.data_fingerprint == trained.data_fingerprint


def test_later_versions_wait_as_candidates_until_promoted_and_can_be_rolled_back(utility, trained):
    # given: version 1 active and a second training
    v1 = trained
    v2 = forecast_model_train(utility=utility, config=TINY)
    assert (v2.version, v2.status, v2.promoted_at) == (2, ForecastModel.Status.CANDIDATE, None)
    # when: version 2 is promoted
    forecast_model_promote(model=v2)
    # then: it is the one active model, and version 1 retires
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == (ForecastModel.Status.RETIRED, ForecastModel.Status.ACTIVE)
    assert v2.promoted_at is not None
    # when: rolled back
    back = forecast_model_rollback(utility=utility)
    # then: version 1 is active again
    v2.refresh_from_db()
    assert back.pk == v1.pk
    assert (back.status, v2.status) == (ForecastModel.Status.ACTIVE, ForecastModel.Status.RETIRED)
    assert ForecastModel.objects.filter(utility=utility, status="active").count() == 1


def test_promoting_the_active_model_is_refused(trained):
    with pytest.raises(ForecastError, match="already active"):
        forecast_model_promote(model=trained)


def test_rollback_without_an_earlier_version_is_refused(utility, trained):
    with pytest.raises(ForecastError, match="no earlier active version"):
        forecast_model_rollback(utility=utility)
    trained.refresh_from_db()
    assert trained.status == ForecastModel.Status.ACTIVE


def test_rollback_without_any_model_is_refused(utility):
    with pytest.raises(ForecastError, match="no active model"):
        forecast_model_rollback(utility=utility)


def test_training_on_too_few_days_says_how_many_it_needs():
    utility, _ = make_portfolio(days=20)
    with pytest.raises(ForecastError, match=r"has 20 days of readings; training needs at least 74"):
        forecast_model_train(utility=utility, config=TINY)
    assert not ForecastModel.objects.exists()


def test_training_without_buildings_is_refused():
    with pytest.raises(ForecastError, match="no buildings"):
        forecast_model_train(utility=UtilityFactory(), config=TINY)


def test_model_trained_by_a_job_links_to_it(utility):
    job = JobRun.objects.create(
        kind="forecasting.train", params={"utility_id": utility.pk, "config": TINY_PARAMS}
    )
    job_execute(job_id=job.pk, work=JOB_TASKS["forecasting.train"])
    assert ForecastModel.objects.get(utility=utility).job_id == job.pk


def test_train_job_registers_the_model_and_reports_it(utility):
    job = JobRun.objects.create(
        kind="forecasting.train", params={"utility_id": utility.pk, "config": TINY_PARAMS}
    )
    done = job_execute(job_id=job.pk, work=JOB_TASKS["forecasting.train"])
    assert done.status == JobRun.Status.SUCCEEDED, done.error
    assert done.progress == 100
    model = ForecastModel.objects.get(utility=utility)
    assert done.result["model_id"] == model.pk
    assert done.result["version"] == 1
    assert done.result["metrics"]["lstm"] == model.metrics["lstm"]
    assert done.counts["epochs"] == len(lstm.TrainedModel.from_bytes(bytes(model.weights)).history)


# --- temperature forecasts ------------------------------------------------------------------


def _measured_temperature(utility) -> np.ndarray:
    rows = SeriesDay.objects.filter(utility=utility, series=SeriesDay.Series.TEMPERATURE_C)
    return np.stack([row.hourly_values for row in rows.order_by("day")])


def _store_forecasts(utility, first: int, last: int, values: np.ndarray) -> None:
    """Stored day-ahead forecasts for days first..last (offsets from START)."""
    series_days_upsert(
        utility=utility,
        series=SeriesDay.Series.TEMPERATURE_FORECAST_C,
        days=[START + timedelta(days=d) for d in range(first, last + 1)],
        values=values,
        origin=DataOrigin.UPLOADED,
    )


def test_a_days_forecast_is_never_its_own_measured_temperature(utility):
    measured = _measured_temperature(utility)
    prepared = training_data(utility=utility)
    forecast = prepared.data.temperature_forecast
    np.testing.assert_allclose(forecast[1:], measured[:-1], rtol=1e-6)
    assert not np.isclose(forecast, measured).all(axis=1).any()
    assert prepared.temperature_forecast.source == "previous_day"


def test_stored_forecasts_are_read_where_there_are_some(utility):
    # given: forecasts stored for the last 60 of the 90 days, 2 °C off the measured values
    measured = _measured_temperature(utility)
    _store_forecasts(utility, 30, DAYS - 1, measured[30:] + 2.0)
    # when
    prepared = training_data(utility=utility)
    # then: stored where stored, the day before elsewhere
    forecast = prepared.data.temperature_forecast
    np.testing.assert_allclose(forecast[30:], measured[30:] + 2.0, rtol=1e-6)
    np.testing.assert_allclose(forecast[1:30], measured[:29], rtol=1e-6)
    assert prepared.temperature_forecast.source == "mixed"
    assert prepared.temperature_forecast.stored_share == pytest.approx(60 / 90)
    # and the stored ones can be left out, to see what they are worth
    stand_in = training_data(utility=utility, stored_forecasts=False)
    np.testing.assert_allclose(stand_in.data.temperature_forecast[1:], measured[:-1], rtol=1e-6)
    assert stand_in.temperature_forecast.source == "previous_day"


def test_model_record_names_stored_forecasts(utility):
    _store_forecasts(utility, 0, DAYS - 1, _measured_temperature(utility) + 1.0)
    model = forecast_model_train(utility=utility, config=TINY)
    assert model.metrics["temperature_forecast"] == {
        "source": "stored",
        "label": "Stored day-ahead forecasts",
        "stored_share": 1.0,
    }


@pytest.mark.parametrize("kept_days", [0, 40])  # no temperature, or 40 of 90 days (44 %)
def test_a_model_trained_without_temperature_says_so_and_still_forecasts(utility, kept_days):
    # given: the utility's temperatures gone but for the last `kept_days` days
    SeriesDay.objects.filter(
        utility=utility,
        series=SeriesDay.Series.TEMPERATURE_C,
        day__lt=FORECAST_DAY - timedelta(days=kept_days),
    ).delete()
    # when
    model = forecast_model_train(utility=utility, config=TINY)
    # then
    assert model.metrics["temperature_forecast"] == {
        "source": "none",
        "label": "Trained without temperature (none imported)",
        "stored_share": 0.0,
    }
    assert model.hyperparameters["use_temperature"] is False
    assert lstm.TrainedModel.from_bytes(bytes(model.weights)).config.use_temperature is False
    run = run_forecast(utility)
    assert set(BuildingForecast.objects.filter(run=run).values_list("method", flat=True)) == {
        BuildingForecast.Method.LSTM
    }


# --- promotion -------------------------------------------------------------------------------


def test_a_worse_model_waits_as_a_candidate_and_says_why(utility, trained):
    worse = forecast_model_train(utility=utility, config=UNTRAINED)
    trained.refresh_from_db()
    assert (worse.status, trained.status) == ("candidate", "active")
    assert worse.promoted_at is None
    promotion = worse.metrics["promotion"]
    assert promotion["promoted"] is False
    assert promotion["active"] == trained.metrics["lstm"]["median_cvrmse_pct"]
    assert promotion["candidate"] == worse.metrics["lstm"]["median_cvrmse_pct"]
    assert promotion["candidate"] > promotion["active"]
    assert "does not beat version 1's" in promotion["reason"]


def test_a_better_model_on_the_same_held_out_days_becomes_active(utility):
    poor = forecast_model_train(utility=utility, config=UNTRAINED)
    assert poor.status == "active"  # the first one: nothing to beat
    better = forecast_model_train(utility=utility, config=TINY)
    poor.refresh_from_db()
    assert (better.status, poor.status) == ("active", "retired")
    assert better.promoted_at is not None
    promotion = better.metrics["promotion"]
    assert promotion["promoted"] is True
    assert (promotion["active_version"], promotion["active"]) == (
        1,
        poor.metrics["lstm"]["median_cvrmse_pct"],
    )
    assert "beats version 1's" in promotion["reason"]
    # the one promoted on its own can still be rolled back
    assert forecast_model_rollback(utility=utility).pk == poor.pk


def test_an_active_model_that_cannot_be_scored_is_not_replaced_on_its_own(utility, trained):
    # given: the active version forecasts 48 h, which a day-ahead score cannot judge
    two_days = lstm.TrainedModel.from_bytes(bytes(trained.weights))
    two_days.config = replace(two_days.config, horizon_days=2)
    ForecastModel.objects.filter(pk=trained.pk).update(weights=two_days.to_bytes())
    # when
    new = forecast_model_train(utility=utility, config=TINY)
    # then
    trained.refresh_from_db()
    assert (new.status, trained.status) == ("candidate", "active")
    assert new.metrics["promotion"]["promoted"] is False
    assert new.metrics["promotion"]["reason"].startswith(
        "Not compared with version 1 on the same held-out days (version 1 cannot forecast "
        "them: it forecasts 48 h"
    )


def test_a_transferred_model_never_replaces_an_active_one_on_its_own(trained):
    # given: another utility, with a model of its own active
    other, _ = make_portfolio(seed=1)
    own = forecast_model_train(utility=other, config=TINY)
    # when
    transferred = forecast_model_transfer(model=trained, utility=other)
    # then
    own.refresh_from_db()
    assert (transferred.status, own.status) == ("candidate", "active")
    assert transferred.metrics["promotion"] == {
        "promoted": False,
        "reason": (
            "Not compared with version 1 on the same held-out days (it has no held-out days "
            "of this utility): promote it by hand to replace that one."
        ),
    }
    # and to a utility with no model it is the active one
    empty, _ = make_portfolio(seed=2)
    assert forecast_model_transfer(model=trained, utility=empty).status == "active"


# --- forecast runs ---------------------------------------------------------------------------


def _stored(forecast) -> np.ndarray:
    values = building_forecast_values(forecast)
    return np.stack([values.p10, values.p50, values.p90, values.mean])


def test_run_forecasts_every_building_with_the_lstm(utility, buildings, trained):
    run = run_forecast(utility)
    assert run.status == ForecastRun.Status.COMPLETE
    assert run.completed_at is not None
    assert run.model_id == trained.pk
    assert (run.chunks_done, run.buildings, run.flagged) == (1, 4, 0)
    forecasts = BuildingForecast.objects.filter(run=run).order_by("building_id")
    assert [f.building_id for f in forecasts] == [b.pk for b in buildings]
    for forecast, scale in zip(forecasts, SCALES_KW, strict=True):
        assert (forecast.method, forecast.flag) == (BuildingForecast.Method.LSTM, "")
        values = _stored(forecast)
        assert values.shape == (4, 24)
        assert np.isfinite(values).all()
        p10, p50, p90, _ = values
        assert (p10 <= p50).all()
        assert (p50 <= p90).all()
        assert (p10 >= 0).all()
        assert forecast.peak_p50_kw == pytest.approx(float(p50.max()))
        # a sane day-ahead forecast of a building of this scale (its readings span 0.3-1.6 x)
        assert 0.2 * scale < p50.mean() < 2.0 * scale


def test_building_with_mostly_missing_lookback_gets_the_baseline_and_a_flag(
    utility, buildings, trained
):
    # given: the last 10 of the 14 lookback days of one building are gone
    sparse = buildings[1]
    MeterDay.objects.filter(building=sparse, day__gte=FORECAST_DAY - timedelta(days=10)).delete()
    run = run_forecast(utility)
    assert (run.buildings, run.flagged) == (4, 1)
    methods = dict(BuildingForecast.objects.filter(run=run).values_list("building_id", "method"))
    assert methods == {b.pk: ("baseline" if b == sparse else "lstm") for b in buildings}
    baseline = BuildingForecast.objects.get(run=run, building=sparse)
    assert "too little history" in baseline.flag
    p10, p50, p90, mean = _stored(baseline)
    assert np.isfinite(p50).all()
    assert (p50 > 0).all()
    np.testing.assert_allclose(mean, p50)
    np.testing.assert_allclose(p10, 0.8 * p50, rtol=1e-6)
    np.testing.assert_allclose(p90, 1.2 * p50, rtol=1e-6)


def test_history_is_judged_on_the_models_own_lookback(utility, buildings):
    forecast_model_train(
        utility=utility, config=lstm.LSTMConfig(**{**asdict(TINY), "lookback_days": 7})
    )
    # given: the last 7 days complete, the 7 days before them missing
    MeterDay.objects.filter(
        building=buildings[0],
        day__gte=FORECAST_DAY - timedelta(days=14),
        day__lt=FORECAST_DAY - timedelta(days=7),
    ).delete()
    run = run_forecast(utility)
    assert run.flagged == 0
    assert BuildingForecast.objects.get(run=run, building=buildings[0]).method == "lstm"


def test_run_sums_per_feeder_and_utility_and_grades_each_hour(utility, buildings, trained):
    def capacity_just_above_peak_over_90_pct(run):
        p50 = sum(
            _stored(f)[1].astype(np.float64) for f in BuildingForecast.objects.filter(run=run)
        )
        utility.capacity_kw = float(p50.max()) / 0.9  # the peak hour at 90 %: HIGH
        utility.save(update_fields=["capacity_kw"])

    run = run_forecast(utility, before_aggregate=capacity_just_above_peak_over_90_pct)
    forecasts = {f.building_id: _stored(f) for f in BuildingForecast.objects.filter(run=run)}
    # the utility: every building, P50 summed
    total = AggregateForecast.objects.get(run=run, feeder__isnull=True)
    assert total.buildings == 4
    summed = building_forecast_values(total)
    np.testing.assert_allclose(summed.p50, sum(v[1] for v in forecasts.values()), rtol=1e-5)
    assert (summed.p10 <= summed.p50).all()
    assert (summed.p50 <= summed.p90).all()
    # each feeder: its two buildings
    by_feeder = AggregateForecast.objects.filter(run=run, feeder__isnull=False)
    assert sorted(a.feeder_id for a in by_feeder) == sorted({b.feeder_id for b in buildings})
    for aggregate in by_feeder:
        members = [b.pk for b in buildings if b.feeder_id == aggregate.feeder_id]
        assert aggregate.buildings == len(members) == 2
        np.testing.assert_allclose(
            building_forecast_values(aggregate).p50,
            sum(forecasts[pk][1] for pk in members),
            rtol=1e-5,
        )
    # grid status: 24 utility hours from midnight UTC, graded by the utility's thresholds
    hours = list(GridStatusHour.objects.filter(run=run, feeder__isnull=True).order_by("starts_at"))
    assert len(hours) == 24
    assert hours[0].starts_at.isoformat() == f"{FORECAST_DAY}T00:00:00+00:00"
    assert GridStatusHour.objects.filter(run=run, feeder__isnull=False).count() == 2 * 24
    utility.refresh_from_db()
    high, critical = utility.high_strain_pct, utility.critical_strain_pct
    for hour, p50 in zip(hours, summed.p50, strict=True):
        assert hour.capacity_kw == utility.capacity_kw
        assert hour.forecast_kw == pytest.approx(float(p50), rel=1e-5)
        assert hour.strain_pct == pytest.approx(100 * hour.forecast_kw / utility.capacity_kw)
        expected = (
            "CRITICAL"
            if hour.strain_pct >= critical
            else "HIGH"
            if hour.strain_pct >= high
            else "NORMAL"
        )
        assert hour.level == expected
        assert hour.kw_above_high == pytest.approx(
            max(hour.forecast_kw - utility.capacity_kw * high / 100, 0.0), abs=1e-6
        )
        assert hour.kw_above_critical == 0.0
    levels = [hour.level for hour in hours]
    assert "HIGH" in levels
    assert "NORMAL" in levels
    assert "CRITICAL" not in levels
    assert max(hour.strain_pct for hour in hours) == pytest.approx(90.0)
    aggregate_job = JobRun.objects.get(kind="forecasting.forecast_aggregate")
    assert aggregate_job.result["hours_high"] == levels.count("HIGH")
    assert aggregate_job.result["feeders"] == 2
    # strain ahead: the DR side is asked to propose an event for this run
    proposal = JobRun.objects.get(kind="optimization.propose_from_grid")
    assert proposal.params == {"run_id": aggregate_job.params["run_id"]}


def test_run_without_an_active_model_gives_everyone_the_baseline(utility, buildings):
    run = run_forecast(utility)
    assert run.model is None
    assert run.status == ForecastRun.Status.COMPLETE
    assert (run.buildings, run.flagged) == (4, 4)
    forecasts = BuildingForecast.objects.filter(run=run)
    assert {f.method for f in forecasts} == {BuildingForecast.Method.BASELINE}
    assert {f.flag for f in forecasts} == {""}  # they had history enough: no model, no flag
    # the 7-day mean of the last week, hour by hour
    first = FORECAST_DAY - timedelta(days=7)
    for forecast in forecasts:
        week = np.stack(
            [
                m.hourly_kwh
                for m in MeterDay.objects.filter(building=forecast.building, day__gte=first)
            ]
        )
        assert week.shape == (7, 24)
        np.testing.assert_allclose(_stored(forecast)[1], week.mean(axis=0), rtol=1e-5)
    assert GridStatusHour.objects.filter(run=run, feeder__isnull=True).count() == 24


def test_48_hour_run_without_a_model_repeats_the_baseline_for_two_days(utility, buildings):
    run = forecast_run_create(utility=utility, day=FORECAST_DAY, horizon_h=48)
    run_jobs("forecasting.forecast_chunk")
    run_jobs("forecasting.forecast_aggregate")
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.COMPLETE
    for forecast in BuildingForecast.objects.filter(run=run):
        p50 = _stored(forecast)[1]
        assert p50.shape == (48,)
        np.testing.assert_array_equal(p50[:24], p50[24:])
    hours = GridStatusHour.objects.filter(run=run, feeder__isnull=True)
    assert hours.count() == 48
    assert hours.order_by("starts_at").last().starts_at.isoformat() == (
        f"{FORECAST_DAY + timedelta(days=1)}T23:00:00+00:00"
    )


def test_48_hour_run_chains_the_day_ahead_model_over_the_second_day(utility, trained):
    run = forecast_run_create(utility=utility, day=FORECAST_DAY, horizon_h=48)
    run_jobs("forecasting.forecast_chunk")
    run_jobs("forecasting.forecast_aggregate")
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.COMPLETE
    forecast = BuildingForecast.objects.filter(run=run).first()
    values = building_forecast_values(forecast)
    assert forecast.method == BuildingForecast.Method.LSTM
    assert values.p50.shape == (48,)
    assert np.isfinite(values.p50).all()
    # The second day is a forecast of its own, not the first day repeated.
    assert not np.allclose(values.p50[:24], values.p50[24:])
    assert GridStatusHour.objects.filter(run=run, feeder__isnull=True).count() == 48


def test_run_whose_chunk_fails_is_marked_failed(utility, trained, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the readings could not be read")

    monkeypatch.setattr("forecasting.tasks.forecast_chunk_compute", broken)
    run = forecast_run_create(utility=utility, day=FORECAST_DAY, horizon_h=48)
    job = JobRun.objects.get(kind="forecasting.forecast_chunk")
    done = job_execute(job_id=job.pk, work=JOB_TASKS["forecasting.forecast_chunk"])
    assert done.status == JobRun.Status.FAILED
    assert "the readings could not be read" in done.error
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.FAILED
    assert not BuildingForecast.objects.filter(run=run).exists()


@pytest.mark.parametrize(
    ("day", "hours", "repeated"),
    [(date(2026, 3, 8), 23, None), (date(2026, 11, 1), 25, "01:00")],
    ids=["spring-forward", "fall-back"],
)
def test_run_on_a_daylight_saving_day_grades_each_real_hour_once(day, hours, repeated):
    utility, _ = make_portfolio(days=(day - START).days, tz="America/Los_Angeles")
    run = run_forecast(utility, day)
    assert run.status == ForecastRun.Status.COMPLETE
    starts = list(
        GridStatusHour.objects.filter(run=run, feeder__isnull=True)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
    )
    tz = ZoneInfo("America/Los_Angeles")
    assert len(set(starts)) == len(starts) == hours
    assert starts[0] == datetime.combine(day, time(0), tzinfo=tz)
    assert starts[-1] + timedelta(hours=1) == datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=tz
    )
    labels = [moment.astimezone(tz).strftime("%H:%M") for moment in starts]
    assert "02:00" not in labels if hours == 23 else labels.count(repeated) == 2


def test_daily_job_starts_tomorrows_run_for_each_utility_with_buildings(utility, buildings):
    UtilityFactory()  # no buildings: no run
    job = JobRun.objects.create(kind="forecasting.forecast_daily", params={})
    done = job_execute(job_id=job.pk, work=JOB_TASKS["forecasting.forecast_daily"])
    assert done.status == JobRun.Status.SUCCEEDED, done.error
    run = ForecastRun.objects.get()
    assert done.result == {"runs": [run.pk]}
    assert run.utility == utility
    assert run.day == timezone.now().astimezone(ZoneInfo("UTC")).date() + timedelta(days=1)
    assert JobRun.objects.filter(kind="forecasting.forecast_chunk", status="queued").count() == 1


def test_run_of_a_utility_without_buildings_is_refused():
    with pytest.raises(ForecastError, match="no buildings"):
        forecast_run_create(utility=UtilityFactory(), day=FORECAST_DAY)
    assert not ForecastRun.objects.exists()


def test_run_horizon_must_be_24_or_48_hours(utility):
    with pytest.raises(ForecastError, match="24 or 48"):
        forecast_run_create(utility=utility, day=FORECAST_DAY, horizon_h=36)
    assert not ForecastRun.objects.exists()
    assert not JobRun.objects.exists()


# --- the back office -------------------------------------------------------------------------


def test_admin_promote_action_makes_the_candidate_active(client, staff_user, utility, trained):
    v2 = forecast_model_train(utility=utility, config=TINY)
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:forecasting_forecastmodel_changelist"),
        {"action": "promote", "_selected_action": [v2.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert f"Version 2 is now active for {utility}." in response.content.decode()
    trained.refresh_from_db()
    v2.refresh_from_db()
    assert (v2.status, trained.status) == ("active", "retired")


def test_admin_roll_back_action_restores_the_previous_version(client, staff_user, utility, trained):
    v2 = forecast_model_train(utility=utility, config=TINY)
    forecast_model_promote(model=v2)
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:forecasting_forecastmodel_changelist"),
        {"action": "roll_back", "_selected_action": [v2.pk]},
        follow=True,
    )
    assert f"{utility}: version 1 is active again." in response.content.decode()
    trained.refresh_from_db()
    assert trained.status == "active"


def test_admin_run_page_draws_the_forecast_chart(client, staff_user, utility, trained):
    run = run_forecast(utility)
    client.force_login(staff_user)
    response = client.get(reverse("admin:forecasting_forecastrun_change", args=[run.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page
    assert "HIGH threshold" in page
