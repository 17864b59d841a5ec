"""Training, the model registry, and day-ahead forecast runs on a small utility.

Four buildings on two feeders with 90 days of deterministic hourly readings and temperatures;
the LSTM is kept tiny so that a training takes about a second.
"""

from dataclasses import asdict
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
TINY = lstm.LSTMConfig(epochs=3, hidden=8, head_hidden=16, patience=2)
TINY_PARAMS = {"epochs": 3, "hidden": 8, "head_hidden": 16, "patience": 2}


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


def test_48_hour_run_with_a_24_hour_model_fails_its_chunk_with_the_reason(utility, trained):
    run = forecast_run_create(utility=utility, day=FORECAST_DAY, horizon_h=48)
    job = JobRun.objects.get(kind="forecasting.forecast_chunk")
    done = job_execute(job_id=job.pk, work=JOB_TASKS["forecasting.forecast_chunk"])
    assert done.status == JobRun.Status.FAILED
    assert "Model v1 forecasts 24 h, the run asks 48 h" in done.error
    assert not BuildingForecast.objects.filter(run=run).exists()
    assert not JobRun.objects.filter(kind="forecasting.forecast_aggregate").exists()


def test_run_whose_chunk_fails_is_marked_failed(utility, trained):
    run = forecast_run_create(utility=utility, day=FORECAST_DAY, horizon_h=48)
    job = JobRun.objects.get(kind="forecasting.forecast_chunk")
    job_execute(job_id=job.pk, work=JOB_TASKS["forecasting.forecast_chunk"])
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.FAILED


def test_run_on_a_daylight_saving_day_grades_24_distinct_hours():
    # 2026-03-08: Los Angeles clocks jump from 02:00 to 03:00
    dst_day = date(2026, 3, 8)
    utility, _ = make_portfolio(days=(dst_day - START).days, tz="America/Los_Angeles")
    run = run_forecast(utility, dst_day)
    assert run.status == ForecastRun.Status.COMPLETE
    starts = list(
        GridStatusHour.objects.filter(run=run, feeder__isnull=True).values_list(
            "starts_at", flat=True
        )
    )
    assert len(set(starts)) == 24
    tz = ZoneInfo("America/Los_Angeles")
    assert min(starts) == datetime.combine(dst_day, time(0), tzinfo=tz)


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
