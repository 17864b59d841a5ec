"""Day-ahead forecasts for every building of a utility, in chunks that several workers share,
then summed per feeder and utility and graded into grid status.

forecast_run_create -> one `forecasting.forecast_chunk` job per CHUNK_BUILDINGS buildings ->
the chunk that completes the run queues `forecasting.forecast_aggregate` -> aggregates and
grid status hours, then `optimization.propose_from_grid`, where the DR side judges whether the
day needs an event.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from jobs.models import JobRun
from jobs.services import job_create
from stakeholders.bulk import bulk_insert
from stakeholders.localtime import HOURS, hour_starts
from stakeholders.models import Building, Utility

from .. import cleaning, lstm, weather
from ..evaluation import static_features
from ..grid import Quantiles, aggregate, grade
from ..models import (
    AggregateForecast,
    BuildingForecast,
    ForecastModel,
    ForecastRun,
    GridStatusHour,
    SeriesDay,
)
from ..selectors import utility_holidays
from .models import ForecastError, active_model
from .windows import readings_window, series_window

CHUNK_BUILDINGS = 25_000
_F32 = np.dtype("<f4")


def forecast_run_create(
    *, utility: Utility, day: date, horizon_h: int = 24, requested_by=None
) -> ForecastRun:
    """Start a forecast of every building of `utility` for `day` (issued at its midnight)."""
    if horizon_h not in (24, 48):
        raise ForecastError("The horizon is 24 or 48 hours.")
    ids = list(Building.objects.filter(utility=utility).order_by("pk").values_list("pk", flat=True))
    if not ids:
        raise ForecastError(f"{utility} has no buildings to forecast.")
    chunks = [ids[start : start + CHUNK_BUILDINGS] for start in range(0, len(ids), CHUNK_BUILDINGS)]
    with transaction.atomic():
        run = ForecastRun.objects.create(
            utility=utility,
            day=day,
            horizon_h=horizon_h,
            model=active_model(utility=utility),
            chunks_total=len(chunks),
        )
        for chunk in chunks:
            job_create(
                kind="forecasting.forecast_chunk",
                params={"run_id": run.pk, "first_id": chunk[0], "last_id": chunk[-1]},
                requested_by=requested_by,
            )
    return run


def forecast_runs_for_tomorrow() -> list[ForecastRun]:
    """A run for tomorrow (each utility's local date) for every utility with buildings."""
    runs = []
    for utility in Utility.objects.filter(buildings__isnull=False).distinct():
        tomorrow = timezone.now().astimezone(ZoneInfo(utility.timezone)).date() + timedelta(days=1)
        runs.append(forecast_run_create(utility=utility, day=tomorrow))
    return runs


def forecast_run_fail(*, run: ForecastRun, reason: str) -> None:
    """A chunk or the aggregation failed: the run will not complete."""
    ForecastRun.objects.filter(pk=run.pk, status=ForecastRun.Status.RUNNING).update(
        status=ForecastRun.Status.FAILED, completed_at=timezone.now()
    )


def forecast_runs_reconcile(now: datetime) -> dict[str, int]:
    """The reconciler's step for forecast runs (jobs.reconciler): a running run one of whose
    chunk or aggregate jobs has failed for good is failed; one whose chunks have all succeeded
    but that has no aggregate job (its queueing was lost) gets one. Chunks still queued or
    running are the reconciler's own to send again."""
    done = {"runs_failed": 0, "runs_aggregated": 0}
    for run in ForecastRun.objects.filter(status=ForecastRun.Status.RUNNING):
        jobs = JobRun.objects.filter(
            kind__in=["forecasting.forecast_chunk", "forecasting.forecast_aggregate"],
            params__run_id=run.pk,
        )
        failed = jobs.filter(status=JobRun.Status.FAILED).first()
        if failed is not None:
            forecast_run_fail(run=run, reason=f"{failed.kind} #{failed.pk} failed")
            done["runs_failed"] += 1
            continue
        chunks = jobs.filter(kind="forecasting.forecast_chunk")
        ended = not chunks.exclude(status=JobRun.Status.SUCCEEDED).exists()
        if (
            ended
            and run.chunks_done == run.chunks_total
            and not jobs.filter(kind="forecasting.forecast_aggregate").exists()
        ):
            job_create(kind="forecasting.forecast_aggregate", params={"run_id": run.pk})
            done["runs_aggregated"] += 1
    return done


def _pack(values: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in np.ascontiguousarray(values, dtype=_F32)]


def _unpack(blobs) -> np.ndarray:
    return np.frombuffer(b"".join(bytes(blob) for blob in blobs), dtype=_F32)


def _calendar(utility: Utility, days: list[date]) -> np.ndarray:
    holidays = utility_holidays(utility=utility, years={day.year for day in days})
    return lstm.calendar_features(
        np.array([day.weekday() for day in days]),
        np.array([day in holidays for day in days], dtype=np.float32),
    )


def forecast_chunk_compute(*, run: ForecastRun, first_id: int, last_id: int) -> dict:
    """Forecast one chunk of buildings; returns arrays to store (nothing is written here)."""
    buildings = list(
        Building.objects.filter(utility=run.utility_id, pk__gte=first_id, pk__lte=last_id)
        .order_by("pk")
        .values_list("pk", "pv_kw")
    )
    ids = np.array([pk for pk, _ in buildings])
    model: ForecastModel | None = run.model
    trained = lstm.TrainedModel.from_bytes(bytes(model.weights)) if model is not None else None
    lookback = trained.config.lookback_days if trained else lstm.LSTMConfig().lookback_days
    horizon_days = run.horizon_h // 24
    first = run.day - timedelta(days=lookback)
    raw = readings_window(building_ids=ids, first_day=first, days=lookback)
    short = cleaning.too_little_history(raw.reshape(ids.size, -1), lookback * 24)
    flat, _ = cleaning.remove_spikes(raw.reshape(ids.size, -1))
    load = cleaning.fill_gaps(flat).reshape(ids.size, lookback, 24).astype(np.float32)
    # Baseline for everyone first (and as the answer for buildings with too little history).
    # The 7-day-mean baseline (forecasting.baselines) for the one day after the window.
    base = np.tile(load[:, -7:, :].mean(axis=1), (1, horizon_days))
    p10, p50, p90, mean = base * 0.8, base.copy(), base * 1.2, base.copy()
    method = np.full(ids.size, BuildingForecast.Method.BASELINE, dtype=object)
    usable = ~short
    if trained is not None and usable.any():
        if horizon_days % trained.config.horizon_days:
            raise ForecastError(
                f"Model v{model.version} forecasts {trained.config.horizon_h} h, which does not "
                f"chain into the {run.horizon_h} h the run asks: train a model with that horizon."
            )
        span = lookback + horizon_days
        # The day-ahead temperature forecast as training read it (forecasting.weather): the
        # stored forecast, else the day before's temperatures; never a day's own measurement.
        measured = series_window(
            utility=run.utility, series=SeriesDay.Series.TEMPERATURE_C,
            first_day=first - timedelta(days=1), days=span + 1,
        )  # fmt: skip
        stored = series_window(
            utility=run.utility, series=SeriesDay.Series.TEMPERATURE_FORECAST_C,
            first_day=first, days=span,
        )  # fmt: skip
        forecast_t = weather.temperature_forecast(
            measured[1:], stored, day_before_c=measured[0]
        ).forecast_c
        # Days ahead without any weather data repeat the last day that has some.
        temperature = cleaning.fill_gaps(measured[1:].reshape(1, -1)).reshape(span, 24)
        forecast_t = cleaning.fill_gaps(forecast_t.reshape(1, -1)).reshape(span, 24)
        padded = np.concatenate(
            [load[usable], np.zeros((int(usable.sum()), horizon_days, 24), np.float32)], axis=1
        )
        pv = np.array([pv or 0.0 for _, pv in buildings])[usable]
        calendar = _calendar(run.utility, [first + timedelta(days=d) for d in range(span)])
        static = static_features(load[usable], pv)
        # A model of a shorter horizon is chained: each step's mean forecast stands in for the
        # readings of the days it covers when the next step looks back.
        steps = []
        for start in range(0, horizon_days, trained.config.horizon_days):
            samples = lstm.build_samples(
                padded, temperature, forecast_t, calendar, static,
                np.array([lookback + start]), trained.config, with_target=False,
            )  # fmt: skip
            step = lstm.predict(trained, samples)
            days_ahead = trained.config.horizon_days
            padded[:, lookback + start : lookback + start + days_ahead] = step[..., 3].reshape(
                -1, days_ahead, 24
            )
            steps.append(step)
        predicted = np.concatenate(steps, axis=1)
        p10[usable], p50[usable], p90[usable], mean[usable] = (predicted[..., k] for k in range(4))
        method[usable] = BuildingForecast.Method.LSTM
    return {
        "ids": ids,
        "method": method,
        "flag": np.where(short, "too little history: 7-day mean baseline", ""),
        "quantiles": Quantiles(p10=p10, p50=p50, p90=p90, mean=mean),
    }


def forecast_chunk_store(*, run: ForecastRun, computed: dict) -> dict:
    """Write a chunk's forecasts and count the chunk done; the last chunk queues the aggregate.

    Call inside the job's commit, so that a redelivered chunk cannot count twice.
    """
    ids, q = computed["ids"], computed["quantiles"]
    BuildingForecast.objects.filter(run=run, building_id__in=ids.tolist()).delete()
    blobs = [_pack(q.p10), _pack(q.p50), _pack(q.p90), _pack(q.mean)]
    peaks = np.maximum(q.p50.max(axis=1), 0.0).tolist()
    rows = zip(
        [run.pk] * ids.size, ids.tolist(), computed["method"].tolist(), computed["flag"].tolist(),
        *blobs, peaks, strict=True,
    )  # fmt: skip
    bulk_insert(
        BuildingForecast,
        [
            "run_id",
            "building_id",
            "method",
            "flag",
            "p10_kw",
            "p50_kw",
            "p90_kw",
            "mean_kw",
            "peak_p50_kw",
        ],
        ["int8", "int8", "text", "text", "bytea", "bytea", "bytea", "bytea", "float8"],
        rows,
    )
    flagged = int((computed["method"] == BuildingForecast.Method.BASELINE).sum())
    ForecastRun.objects.filter(pk=run.pk).update(
        chunks_done=F("chunks_done") + 1,
        buildings=F("buildings") + ids.size,
        flagged=F("flagged") + flagged,
    )
    run.refresh_from_db(fields=["chunks_done", "chunks_total"])
    if run.chunks_done == run.chunks_total:
        job_create(kind="forecasting.forecast_aggregate", params={"run_id": run.pk})
    return {"buildings": int(ids.size), "flagged": flagged}


def _quantiles_of(rows) -> tuple[np.ndarray, Quantiles]:
    ids, p10, p50, p90, mean = zip(*rows, strict=True)
    n = len(ids)
    return np.array(ids), Quantiles(
        *(_unpack(column).reshape(n, -1) for column in (p10, p50, p90, mean))
    )


@transaction.atomic
def forecast_aggregate(*, run: ForecastRun) -> dict:
    """Sum building forecasts per feeder and utility, grade every hour's strain, and queue the
    DR side's look at the day (optimization.propose_from_grid)."""
    utility = run.utility
    feeder_of = dict(Building.objects.filter(utility=utility).values_list("pk", "feeder_id"))
    rows = BuildingForecast.objects.filter(run=run).values_list(
        "building_id", "p10_kw", "p50_kw", "p90_kw", "mean_kw"
    )
    ids, quantiles = _quantiles_of(list(rows.iterator(chunk_size=20_000)))
    feeders = list(utility.feeders.all())
    index = {feeder.pk: position + 1 for position, feeder in enumerate(feeders)}
    groups = np.array([index.get(feeder_of.get(int(b)), 0) for b in ids])
    by_feeder = aggregate(quantiles, groups, len(feeders) + 1)
    total = aggregate(quantiles, np.zeros(ids.size, dtype=int), 1)
    AggregateForecast.objects.filter(run=run).delete()
    GridStatusHour.objects.filter(run=run).delete()
    tz = ZoneInfo(utility.timezone)
    # Every hour that happens on the run's local days, each with the forecast of its wall-clock
    # slot (stakeholders.localtime): 23 on the spring-forward day, 25 on the fall-back day.
    hours = [
        (offset * HOURS + slot, moment)
        for offset in range(run.horizon_h // HOURS)
        for slot, moment in hour_starts(run.day + timedelta(days=offset), tz)
    ]
    counts = np.bincount(groups, minlength=len(feeders) + 1)
    aggregates, grid_rows = [], []
    targets = [(None, total, 0, utility.capacity_kw)] + [
        (feeder, by_feeder, position + 1, feeder.capacity_kw)
        for position, feeder in enumerate(feeders)
    ]
    for feeder, source, row, capacity in targets:
        count = int(ids.size if feeder is None else counts[row])
        if feeder is not None and count == 0:
            continue
        take = 0 if feeder is None else row
        aggregates.append(
            AggregateForecast(
                run=run, feeder=feeder, buildings=count,
                p10_kw=_pack(source.p10[take : take + 1])[0], p50_kw=_pack(source.p50[take : take + 1])[0],
                p90_kw=_pack(source.p90[take : take + 1])[0], mean_kw=_pack(source.mean[take : take + 1])[0],
            )
        )  # fmt: skip
        strain = grade(
            source.p50[take], capacity, utility.high_strain_pct, utility.critical_strain_pct
        )
        for h, moment in hours:
            grid_rows.append(
                GridStatusHour(
                    run=run, feeder=feeder, starts_at=moment, forecast_kw=float(source.p50[take, h]),
                    p90_kw=float(source.p90[take, h]), capacity_kw=capacity,
                    strain_pct=float(strain.strain_pct[h]), level=str(strain.level[h]),
                    kw_above_high=float(strain.kw_above_high[h]),
                    kw_above_critical=float(strain.kw_above_critical[h]),
                )
            )  # fmt: skip
    AggregateForecast.objects.bulk_create(aggregates)
    bulk_insert(
        GridStatusHour,
        ["run_id", "feeder_id", "starts_at", "forecast_kw", "p90_kw", "capacity_kw", "strain_pct",
         "level", "kw_above_high", "kw_above_critical"],
        ["int8", "int8", "timestamptz", "float8", "float8", "float8", "float8", "text", "float8", "float8"],
        (
            (run.pk, row.feeder.pk if row.feeder else None, row.starts_at, row.forecast_kw, row.p90_kw,
             row.capacity_kw, row.strain_pct, row.level, row.kw_above_high, row.kw_above_critical)
            for row in grid_rows
        ),
    )  # fmt: skip
    ForecastRun.objects.filter(pk=run.pk).update(
        status=ForecastRun.Status.COMPLETE, completed_at=timezone.now()
    )
    utility_hours = [row for row in grid_rows if row.feeder is None]
    # The DR side judges whether the day needs an event: on the P90 of the error its last days
    # show, which may reach HIGH where the P50 does not (by job kind, so no import of it here).
    job_create(kind="optimization.propose_from_grid", params={"run_id": run.pk})
    return {
        "buildings": int(ids.size),
        "feeders": len(aggregates) - 1,
        "peak_kw": round(float(total.p50[0].max()), 2),
        "hours_high": sum(row.level == "HIGH" for row in utility_hours),
        "hours_critical": sum(row.level == "CRITICAL" for row in utility_hours),
    }


def building_forecast_values(forecast: BuildingForecast) -> Quantiles:
    return Quantiles(*(np.frombuffer(bytes(blob), dtype=_F32) for blob in (
        forecast.p10_kw, forecast.p50_kw, forecast.p90_kw, forecast.mean_kw
    )))  # fmt: skip
