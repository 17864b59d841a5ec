"""The system engineer's dashboard: feeder loading, forecast accuracy per day and model version
(ASHRAE Guideline 14 on the hourly total), the models' held-out metrics, data quality (flagged
buildings, missing hours, late meters) and job runs; from the snapshot, in a bounded number of
queries, and nothing of another utility's."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from forecasting.hourly import unpack_days
from forecasting.metrics import cv_rmse_pct, nmbe_pct
from forecasting.models import (
    BuildingForecast,
    ComplianceModelVersion,
    ForecastModel,
    ForecastRun,
    MeterDay,
)
from forecasting.selectors import feeder_loading
from forecasting.services.forecasts import forecast_aggregate
from jobs.models import JobRun
from stakeholders import formatting
from stakeholders.models import Role
from stakeholders.portal.models import StakeholderReport
from stakeholders.portal.snapshots.engineering import SAMPLE_BUILDINGS, accuracy_sample
from tests.portal.world import profile

pytestmark = pytest.mark.django_db

FACTOR = 1.1  # yesterday's forecast: 10 % above the usual profile
HELD_OUT = {
    "lstm": {"median_cvrmse_pct": 12.5, "min_cvrmse_pct": 7.0, "max_cvrmse_pct": 30.0,
             "total_cvrmse_pct": 5.4, "median_nmbe_pct": 1.1, "total_nmbe_pct": 0.6},
    "mean7": {"median_cvrmse_pct": 18.25, "min_cvrmse_pct": 9.0, "max_cvrmse_pct": 41.0,
              "total_cvrmse_pct": 8.75, "median_nmbe_pct": 0.2, "total_nmbe_pct": 0.3},
    "p10_p90_coverage": 0.79, "epochs": 14,
}  # fmt: skip
COMPLIANCE = {
    "outcomes": 64, "held_out": 16, "kept": "model", "brier": 0.1734, "prior_brier": 0.2101,
    "auc": 0.7812, "prior_auc": 0.6523, "calibration_intercept": -0.05, "calibration_slope": 0.91,
    "calibration": [{"bin": "0.7-0.8", "count": 16, "predicted": 0.744, "observed": 0.75}],
}  # fmt: skip
SECRET = "Beta's own failure text"


def _model(utility, version: int) -> ForecastModel:
    today = timezone.now().date()
    return ForecastModel.objects.create(
        utility=utility, version=version, status=ForecastModel.Status.ACTIVE,
        hyperparameters={}, train_start=today - timedelta(days=60),
        train_end=today - timedelta(days=20), test_start=today - timedelta(days=19),
        test_end=today - timedelta(days=2), buildings=10, data_fingerprint="f" * 64,
        weights=b"", metrics=HELD_OUT,
    )  # fmt: skip


@pytest.fixture
def engineered(world, other_world):
    """Yesterday forecast by model v3; a meter silent for four days; two buildings flagged in
    tomorrow's run; a compliance model; job runs of this utility, of the system and of Beta."""
    zone = world.utility_zone
    today = timezone.now().astimezone(zone).date()
    yesterday = today - timedelta(days=1)
    model = _model(world.utility, 3)
    run = ForecastRun.objects.create(
        utility=world.utility, day=yesterday, model=model, chunks_total=1, chunks_done=1
    )
    for b in world.buildings:
        p50 = (profile(b.curtailable_kw) * FACTOR).astype("<f4")
        BuildingForecast.objects.create(
            run=run, building=b, method=BuildingForecast.Method.LSTM, p10_kw=(p50 * 0.9).tobytes(),
            p50_kw=p50.tobytes(), p90_kw=(p50 * 1.1).tobytes(), mean_kw=p50.tobytes(),
            peak_p50_kw=float(p50.max()),
        )  # fmt: skip
    forecast_aggregate(run=run)
    # What yesterday metered: the silent meter sent nothing, so the total is the mean of the
    # nine that did, scaled to the ten buildings forecast.
    silent = world.buildings[9]
    rows = MeterDay.objects.filter(building__in=world.buildings[:9], day=yesterday)
    readings = unpack_days(*zip(*rows.values_list("kwh", "present_mask"), strict=True))
    metered = readings.astype(float).mean(axis=0) * len(world.buildings)
    forecast = sum(profile(b.curtailable_kw) * FACTOR for b in world.buildings).astype("<f4")
    MeterDay.objects.filter(building=silent, day__gte=today - timedelta(days=3)).delete()
    tomorrow_run = ForecastRun.objects.get(utility=world.utility, day=today + timedelta(days=1))
    BuildingForecast.objects.filter(run=tomorrow_run, building__in=world.buildings[:2]).update(
        method=BuildingForecast.Method.BASELINE, flag="too little history: 7-day mean baseline"
    )
    ForecastRun.objects.filter(pk=tomorrow_run.pk).update(buildings=10, flagged=2)
    ComplianceModelVersion.objects.create(
        utility=world.utility, version=2, outcomes=64, metrics=COMPLIANCE, weights=b""
    )
    now = timezone.now()
    durations = [2.0, 3.0, 4.0, 10.0]
    for i, duration in enumerate(durations):
        JobRun.objects.create(
            kind="forecasting.forecast_chunk", status=JobRun.Status.SUCCEEDED,
            params={"run_id": run.pk}, started_at=now, finished_at=now + timedelta(seconds=duration),
            duration_s=duration, peak_memory_mb=300.0 + i,
        )  # fmt: skip
    JobRun.objects.create(
        kind="optimization.verify", status=JobRun.Status.FAILED,
        params={"event_id": world.events["verified"].pk}, started_at=now, finished_at=now,
        duration_s=0.5, error="ForecastError: no readings for the window yet",
    )  # fmt: skip
    JobRun.objects.create(
        kind="optimization.verify", status=JobRun.Status.FAILED,
        params={"event_id": other_world.events["verified"].pk}, started_at=now, finished_at=now,
        duration_s=0.5, error=SECRET,
    )  # fmt: skip
    JobRun.objects.create(
        kind="jobs.reconcile", status=JobRun.Status.FAILED, params={}, started_at=now,
        finished_at=now, duration_s=1.0, error="the system's own trouble",
    )  # fmt: skip
    return {
        "run": run, "metered": metered, "forecast": forecast, "silent": silent,
        "durations": durations, "yesterday": yesterday,
    }  # fmt: skip


def test_the_engineer_sees_accuracy_quality_models_and_jobs_as_computed(
    world, engineered, signed_in
):
    client = signed_in(world.members[Role.SYSTEM_ENGINEER])
    # when
    page = client.get("/portal/", follow=True)
    # then
    assert page.redirect_chain[-1][0] == "/portal/engineer/"
    html = page.content.decode()
    # yesterday's run against what was metered, on the hourly total (ASHRAE Guideline 14)
    accuracy = page.context["accuracy"]
    day = next(r for r in accuracy["rows"] if r["day"] == engineered["yesterday"].isoformat())
    expected_cv = cv_rmse_pct(engineered["metered"], engineered["forecast"])
    expected_nmbe = nmbe_pct(engineered["metered"], engineered["forecast"])
    assert day["model"] == 3
    assert day["hours"] == 24
    assert day["cvrmse_pct"] == pytest.approx(expected_cv, rel=1e-4)
    assert day["nmbe_pct"] == pytest.approx(expected_nmbe, rel=1e-4)
    assert formatting.pct(expected_cv) in html
    version = next(v for v in accuracy["versions"] if v["model"] == 3)
    assert version["days"] == 1
    assert not accuracy["sample"]  # ten buildings: every meter is read
    # the held-out metrics the model stored: the LSTM against the 7-day mean
    assert "Model v3" in html
    assert "5.4 %" in html
    assert "8.8 %" in html  # 8.75 to one decimal
    assert "0.781" in html  # the compliance model's AUC
    assert "0.173" in html  # its Brier score
    assert "74.4 %" in html  # its calibration table
    # feeder loading: the selector's peak against capacity
    runs = page.context["feeders"]["runs"]
    peak = feeder_loading(run_ids=runs)[0]
    assert formatting.kw(peak.peak_p50_kw) in html
    assert formatting.pct(100 * peak.peak_p50_kw / peak.capacity_kw) in html
    # data quality: the two flagged buildings, the silent meter's 72 missing hours, late
    quality = page.context["quality"]
    assert quality["flagged"]["flagged"] == 2
    assert quality["flagged"]["reasons"] == [
        {"flag": "too little history: 7-day mean baseline", "n": 2}
    ]
    assert quality["missing"]["missing_hours"] == 72
    assert "72 of 1,680 meter-hours" in html
    assert quality["late"]["late"] == 1
    assert quality["late"]["rows"][0]["code"] == engineered["silent"].code
    assert quality["late"]["buckets"]["days_2_to_7"] == 1
    # jobs per kind: durations' quantiles, peak memory, this utility's errors only
    chunks = next(
        j for j in page.context["jobs"]["kinds"] if j["kind"] == "forecasting.forecast_chunk"
    )
    p50, p95 = np.percentile(engineered["durations"], [50, 95])
    assert chunks["runs"] == 4
    assert chunks["p50_s"] == pytest.approx(p50)
    assert chunks["p95_s"] == pytest.approx(p95)
    assert chunks["max_memory_mb"] == 303.0
    assert f"{p95:,.2f} s" in html
    verify = next(j for j in page.context["jobs"]["kinds"] if j["kind"] == "optimization.verify")
    assert verify["runs"] == 1  # Beta's run is not counted here
    assert "no readings for the window yet" in html
    assert SECRET not in html
    assert "the system&#x27;s own trouble" not in html
    assert "system-wide job" in html
    assert "PST" in html


def test_a_large_utility_is_read_on_a_sample_of_blocks():
    ids = np.arange(1, 25_001, dtype=np.int64) * 3
    blocks = accuracy_sample(ids, seed=1)
    sampled = np.concatenate(blocks)
    assert sampled.size == SAMPLE_BUILDINGS
    assert np.unique(sampled).size == SAMPLE_BUILDINGS
    assert all(np.all(np.diff(np.searchsorted(ids, block)) == 1) for block in blocks)
    # the same sample from one snapshot to the next
    assert np.array_equal(sampled, np.concatenate(accuracy_sample(ids, seed=1)))


def test_without_past_runs_accuracy_is_not_measured_yet(world, signed_in):
    html = signed_in(world.members[Role.SYSTEM_ENGINEER]).get("/portal/engineer/")
    text = html.content.decode()
    assert "No past day scored yet: not measured yet." in text
    assert "No forecast model trained yet: not measured yet." in text
    assert "No compliance model trained yet: not measured yet." in text


def test_the_dashboard_reads_its_snapshot_in_a_bounded_number_of_queries(
    world, engineered, signed_in, django_assert_max_num_queries
):
    client = signed_in(world.members[Role.SYSTEM_ENGINEER])
    client.get("/portal/engineer/")  # builds the day's snapshot
    with django_assert_max_num_queries(14):
        assert client.get("/portal/engineer/").status_code == 200
    assert StakeholderReport.objects.filter(utility=world.utility, kind="day").count() == 1


def test_another_utility_and_another_role_are_refused(world, other_world, signed_in):
    client = signed_in(other_world.members[Role.SYSTEM_ENGINEER])
    assert client.get(f"/portal/engineer/?utility={world.utility.pk}").status_code == 404
    client = signed_in(world.members[Role.ENERGY_TRADER])
    assert client.get("/portal/engineer/").status_code == 403


def test_the_stored_report_and_its_csv(world, engineered, signed_in):
    client = signed_in(world.members[Role.SYSTEM_ENGINEER])
    client.get("/portal/engineer/")
    report = StakeholderReport.objects.get(utility=world.utility, kind="day")
    stored = client.get(f"/portal/reports/{report.pk}/").content.decode()
    assert "Feeder loading" in stored
    assert "System engineer report" in stored
    csv = client.get(f"/portal/reports/{report.pk}.csv").content.decode()
    assert "CV(RMSE) %" in csv
    assert "forecasting.forecast_chunk" in csv
