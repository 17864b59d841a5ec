"""Forecast benchmark: day-ahead accuracy of the LSTM against three persistence baselines on the
17 real CityLearn homes (DATA.md's split), a rolling-origin variant, and inference for 100,000
synthetic buildings from the database to stored forecasts.

    python bench/forecast.py [--quick]

Prints tables, then one JSON line (CV(RMSE) in percent).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
from _common import POSTGRES_BENCH_URL, ROOT, PeakMemory, postgres_available, setup_django

sys.path.insert(0, str(ROOT))

from forecasting import citylearn, cleaning, lstm, weather  # noqa: E402 -- after the path is set
from forecasting.calendar import holiday_dates  # noqa: E402
from forecasting.evaluation import TRAIN_DAYS, daily_data, evaluate  # noqa: E402

# The homes' public holidays over the data set's years.
HOMES_HOLIDAYS = holiday_dates(
    range(2016, 2018), country=citylearn.COUNTRY, region=citylearn.REGION
)


def accuracy(quick: bool) -> dict:
    data_set = citylearn.read(citylearn.wheel_path(Path.home() / ".cache" / "energyrec"))
    data = daily_data(
        data_set.load_kwh, data_set.temperature_c, data_set.temperature_forecast_24h_c,
        data_set.pv_kw, citylearn.START.date() + timedelta(days=1), skip_hours=1,
        holidays=HOMES_HOLIDAYS,
    )  # fmt: skip
    config = lstm.LSTMConfig()
    started = time.perf_counter()
    result = evaluate(data, config)
    train_s = time.perf_counter() - started
    names = ["lstm", "mean7", "prevday", "prevweek"]
    print("Day-ahead accuracy, 17 CityLearn homes (measured), test = last 122 days, CV(RMSE) %")
    print(f"{'home':<8}" + "".join(f"{name:>10}" for name in names))
    for home in range(data.load.shape[0]):
        row = "".join(f"{result.scores[name].per_building_cvrmse[home]:>10.1f}" for name in names)
        print(f"{home + 1:<8}{row}")
    for label, pick in (
        ("median", lambda s: s.median_cvrmse),
        ("min", lambda s: float(s.per_building_cvrmse.min())),
        ("max", lambda s: float(s.per_building_cvrmse.max())),
        ("total", lambda s: s.total_cvrmse),
        ("NMBE tot", lambda s: s.total_nmbe),
    ):
        print(f"{label:<8}" + "".join(f"{pick(result.scores[name]):>10.1f}" for name in names))
    print(
        f"P10-P90 coverage: {result.coverage_p10_p90:.3f} per home-hour "
        f"(0.80 is calibrated); training {train_s:.1f} s, {len(result.trained.history)} epochs"
    )
    origins = [TRAIN_DAYS + 30 * k for k in range(2 if quick else 4)]
    print("\nRolling origin (train on every day before the origin, test the next 30 days)")
    print(f"{'origin':<8}{'lstm med':>10}{'mean7 med':>10}{'lstm tot':>10}{'mean7 tot':>10}")
    rolling = []
    for origin in origins:
        step = evaluate(
            data, config, train_end=origin, test_end=min(origin + 30, data.load.shape[1])
        )
        rolling.append(step)
        lstm_s, mean7_s = step.scores["lstm"], step.scores["mean7"]
        print(
            f"{origin:<8}{lstm_s.median_cvrmse:>10.1f}{mean7_s.median_cvrmse:>10.1f}"
            f"{lstm_s.total_cvrmse:>10.1f}{mean7_s.total_cvrmse:>10.1f}"
        )
    return {
        "lstm_median_cvrmse": round(result.scores["lstm"].median_cvrmse, 2),
        "mean7_median_cvrmse": round(result.scores["mean7"].median_cvrmse, 2),
        "prevday_median_cvrmse": round(result.scores["prevday"].median_cvrmse, 2),
        "prevweek_median_cvrmse": round(result.scores["prevweek"].median_cvrmse, 2),
        "lstm_total_cvrmse": round(result.scores["lstm"].total_cvrmse, 2),
        "mean7_total_cvrmse": round(result.scores["mean7"].total_cvrmse, 2),
        "p10_p90_coverage": round(result.coverage_p10_p90, 3),
        "rolling_lstm_median_cvrmse": round(
            float(np.mean([s.scores["lstm"].median_cvrmse for s in rolling])), 2
        ),
        "rolling_mean7_median_cvrmse": round(
            float(np.mean([s.scores["mean7"].median_cvrmse for s in rolling])), 2
        ),
    }


def temperature_sources(quick: bool) -> dict:
    """The same 17 homes scored three ways: with CityLearn's own 24 h temperature predictions
    (true forecasts), with the stand-in a utility without stored forecasts gets (the same hours
    of the day before, forecasting.weather), and without temperature; the baselines beside."""
    data_set = citylearn.read(citylearn.wheel_path(Path.home() / ".cache" / "energyrec"))
    true = daily_data(
        data_set.load_kwh, data_set.temperature_c, data_set.temperature_forecast_24h_c,
        data_set.pv_kw, citylearn.START.date() + timedelta(days=1), skip_hours=1,
        holidays=HOMES_HOLIDAYS,
    )  # fmt: skip
    days = true.temperature.shape[0]
    standin = weather.temperature_forecast(true.temperature, np.full((days, 24), np.nan))
    standin_c = cleaning.fill_gaps(standin.forecast_c.reshape(1, -1)).reshape(days, 24)
    config = lstm.LSTMConfig(epochs=30) if quick else lstm.LSTMConfig()
    runs = {
        "true forecasts": evaluate(true, config),
        standin.label: evaluate(replace(true, temperature_forecast=standin_c), config),
        "no temperature": evaluate(true, replace(config, use_temperature=False)),
    }
    names = ["lstm", "prevday", "prevweek", "mean7"]
    print("\nHeld-out day-ahead CV(RMSE) %, 17 homes, by the temperature forecast the LSTM read")
    print(
        f"{'temperature forecast':<42}" + "".join(f"{n:>10}" for n in names) + f"{'lstm tot':>10}"
    )
    for label, result in runs.items():
        row = "".join(f"{result.scores[n].median_cvrmse:>10.1f}" for n in names)
        print(f"{label:<42}{row}{result.scores['lstm'].total_cvrmse:>10.1f}")
    key = {"true forecasts": "true", standin.label: "standin", "no temperature": "none"}
    return {
        f"lstm_median_cvrmse_{key[label]}": round(result.scores["lstm"].median_cvrmse, 2)
        for label, result in runs.items()
    } | {
        f"lstm_total_cvrmse_{key[label]}": round(result.scores["lstm"].total_cvrmse, 2)
        for label, result in runs.items()
    }


def part_inference(buildings: int) -> dict:
    """In its own process: set up a synthetic portfolio with 14 days of readings (not timed),
    then time a forecast run from the database back to it, all chunks in this process."""
    import forecasting.tasks  # noqa: F401 -- registers the job kinds
    from forecasting import citylearn
    from forecasting.models import ForecastModel, ForecastRun, MeterDay
    from forecasting.services.citylearn_import import (
        CITYLEARN_UTILITY,
        citylearn_load,
        citylearn_store,
    )
    from forecasting.services.forecasts import forecast_run_create
    from forecasting.services.models import (
        active_model,
        forecast_model_train,
        forecast_model_transfer,
    )
    from forecasting.services.synthetic import synthetic_buildings_create, synthetic_readings_write
    from forecasting.synthetic import synthetic_spec
    from jobs.models import JobRun
    from jobs.services import job_execute
    from jobs.tasks import JOB_TASKS
    from stakeholders.models import Building, Utility
    from stakeholders.services import utility_ensure

    data = citylearn_load()
    homes = Utility.objects.filter(name=CITYLEARN_UTILITY).first()
    if homes is None or not Building.objects.filter(utility=homes).exists():
        citylearn_store(data=data)
        homes = Utility.objects.get(name=CITYLEARN_UTILITY)
    model = active_model(utility=homes) or forecast_model_train(utility=homes)
    name = f"Synthetic forecast-bench utility, {buildings} buildings (synthetic)"
    utility = utility_ensure(
        name=name, capacity_kw=1e6, timezone="America/Los_Angeles", country="US", region="CA"
    )
    days, first_hour = 14, 24 * 200 + 1
    first_day = citylearn.START.date() + timedelta(days=201)
    if MeterDay.objects.filter(building__utility=utility).count() != buildings * days:
        Building.objects.filter(utility=utility).delete()
        spec = synthetic_spec(buildings, profiles=citylearn.HOMES, seed=11)
        mean_kw = data.load_kwh.mean(axis=1)[spec.source] * spec.scale
        ids = synthetic_buildings_create(
            utility=utility, spec=spec, feeders=200, tariff_usd_per_kwh=0.3,
            carbon_kg_per_kwh=0.16, mean_kw=mean_kw,
        )  # fmt: skip
        synthetic_readings_write(
            building_ids=ids, spec=spec, profiles=data.load_kwh, first_day=first_day,
            first_hour=first_hour, days=days,
        )  # fmt: skip
        total_mean = float(mean_kw.sum())
        Utility.objects.filter(pk=utility.pk).update(capacity_kw=round(total_mean * 1.6, 1))
    if not ForecastModel.objects.filter(utility=utility, status="active").exists():
        forecast_model_transfer(model=model, utility=utility)
    utility.refresh_from_db()
    forecast_day = first_day + timedelta(days=days)
    with PeakMemory() as memory:
        started = time.perf_counter()
        run = forecast_run_create(utility=utility, day=forecast_day)
        for kind in ("forecasting.forecast_chunk", "forecasting.forecast_aggregate"):
            for job in JobRun.objects.filter(
                kind=kind, status="queued", params__run_id=run.pk
            ).order_by("pk"):
                outcome = job_execute(job_id=job.pk, work=JOB_TASKS[kind])
                assert outcome.status == "succeeded", outcome.error
        seconds = time.perf_counter() - started
    run = ForecastRun.objects.get(pk=run.pk)
    aggregate = JobRun.objects.filter(
        kind="forecasting.forecast_aggregate", params__run_id=run.pk
    ).get()
    return {
        "buildings": run.buildings,
        "chunks": run.chunks_total,
        "flagged": run.flagged,
        "seconds": seconds,
        "peak_mb": memory.peak_mb,
        "baseline_mb": memory.baseline_mb,
        "result": aggregate.result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="10,000 buildings, two rolling origins"
    )
    parser.add_argument("--part", choices=["inference"])
    parser.add_argument("--database-url")
    parser.add_argument("--buildings", type=int)
    args = parser.parse_args()
    buildings = args.buildings or (10_000 if args.quick else 100_000)
    if args.part:
        setup_django(args.database_url)
        print(json.dumps(part_inference(buildings)))
        return
    figures = accuracy(args.quick)
    figures.update(temperature_sources(args.quick))
    url = (
        POSTGRES_BENCH_URL
        if postgres_available()
        else f"sqlite:///{Path(tempfile.mkdtemp()) / 'b.sqlite3'}"
    )
    command = [
        sys.executable,
        __file__,
        "--part",
        "inference",
        "--database-url",
        url,
        "--buildings",
        str(buildings),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"inference failed:\n{done.stderr[-3000:]}")
    inference = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"\nInference, {inference['buildings']:,} synthetic buildings on {url.split(':')[0]}: database -> forecasts stored"
    )
    print(
        f"  chunks                {inference['chunks']} of up to 25,000 buildings, run in one process"
    )
    print(
        f"  time                  {inference['seconds']:.1f} s (load, clean, LSTM, store, aggregate, grid status)"
    )
    print(
        f"  peak memory           {inference['peak_mb']:.0f} MB (process baseline {inference['baseline_mb']:.0f} MB)"
    )
    print(f"  buildings flagged     {inference['flagged']} (too little history: baseline forecast)")
    print(
        f"  utility peak P50      {inference['result']['peak_kw']:,.0f} kW, hours HIGH {inference['result']['hours_high']}, CRITICAL {inference['result']['hours_critical']}"
    )
    figures.update(
        infer_buildings=inference["buildings"],
        infer_s=round(inference["seconds"], 2),
        infer_peak_mb=round(inference["peak_mb"], 1),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
