from collections.abc import Iterator
from contextlib import contextmanager

from jobs.models import JobRun
from jobs.reconciler import reconcile_step
from jobs.services import TRANSIENT_ERRORS, JobContext
from jobs.tasks import job_task
from stakeholders.csvimport import csv_import_work
from stakeholders.models import Utility

from . import lstm
from .models import ForecastRun
from .services.citylearn_import import citylearn_load, citylearn_store
from .services.forecasts import (
    forecast_aggregate,
    forecast_chunk_compute,
    forecast_chunk_store,
    forecast_run_fail,
    forecast_runs_for_tomorrow,
    forecast_runs_reconcile,
)
from .services.models import forecast_model_train
from .services.readings import readings_csv_import, weather_csv_import

reconcile_step(forecast_runs_reconcile)


@contextmanager
def failing_the_run(run: ForecastRun) -> Iterator[None]:
    """A chunk or aggregation that fails for good fails its run too (a retry does not)."""
    try:
        yield
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        forecast_run_fail(run=run, reason=str(exc))
        raise


@job_task("forecasting.import_citylearn")
def import_citylearn(context: JobContext) -> None:
    """Import the 17 CityLearn homes, their year of readings and the utility's series."""
    context.progress(5, note="reading the CityLearn wheel")
    data = citylearn_load()
    context.progress(30, note="storing homes and readings")
    with context.commit() as result:
        result.update(citylearn_store(data=data))
        context.counts.update(buildings=result["buildings"], meter_days=result["meter_days"])


@job_task("forecasting.train")
def train(context: JobContext) -> None:
    """Train the global LSTM for a utility and register it with its held-out metrics."""
    utility = Utility.objects.get(pk=context.params["utility_id"])
    overrides = context.params.get("config", {})
    config = lstm.LSTMConfig(**overrides)

    def on_epoch(epoch: int, epochs: int, valid_loss: float) -> None:
        context.progress(
            90 * epoch / epochs, note=f"epoch {epoch} of at most {epochs}", epochs=epoch
        )

    with context.commit() as result:
        model = forecast_model_train(
            utility=utility,
            config=config,
            progress=on_epoch,
            job=JobRun.objects.get(pk=context.job_id),
        )
        result.update(model_id=model.pk, version=model.version, metrics=model.metrics)


@job_task("forecasting.forecast_chunk")
def forecast_chunk(context: JobContext) -> None:
    """Forecast one chunk of a utility's buildings for a run."""
    run = ForecastRun.objects.select_related("utility", "model").get(pk=context.params["run_id"])
    context.progress(10, note="reading readings and weather")
    with failing_the_run(run):
        computed = forecast_chunk_compute(
            run=run, first_id=context.params["first_id"], last_id=context.params["last_id"]
        )
    context.progress(70, note="storing forecasts", buildings=int(computed["ids"].size))
    with context.commit() as result:
        result.update(forecast_chunk_store(run=run, computed=computed))


@job_task("forecasting.forecast_aggregate")
def forecast_aggregate_job(context: JobContext) -> None:
    """Sum a run's forecasts per feeder and utility, and grade grid status per hour."""
    run = ForecastRun.objects.select_related("utility").get(pk=context.params["run_id"])
    with failing_the_run(run), context.commit() as result:
        result.update(forecast_aggregate(run=run))


@job_task("forecasting.forecast_daily")
def forecast_daily(context: JobContext) -> None:
    """The scheduled forecast: tomorrow, in each utility's own time, for every utility."""
    with context.commit() as result:
        runs = forecast_runs_for_tomorrow()
        result["runs"] = [run.pk for run in runs]
        context.counts["runs"] = len(runs)


@job_task("forecasting.import_readings")
def import_readings(context: JobContext) -> None:
    """Check and import an uploaded readings CSV: every row, or none."""
    utility = Utility.objects.get(pk=context.params["utility_id"])
    csv_import_work(
        context,
        lambda stream, progress: readings_csv_import(
            utility=utility, stream=stream, progress=progress
        ),
    )


@job_task("forecasting.import_weather")
def import_weather(context: JobContext) -> None:
    """Check and import an uploaded weather CSV (measured, or day-ahead forecasts)."""
    utility = Utility.objects.get(pk=context.params["utility_id"])
    csv_import_work(
        context,
        lambda stream, progress: weather_csv_import(
            utility=utility, stream=stream, forecasts=bool(context.params.get("forecasts")),
            progress=progress,
        ),
    )  # fmt: skip
