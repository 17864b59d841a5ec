"""What the system engineer and the technical roles read: feeder loading, forecast accuracy
day by day and per model version, the models' held-out metrics, data quality, job runs, and
request timings. Each figure is computed here once per snapshot, with grouped queries and
numpy; the pages only format it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery

from forecasting.hourly import FULL_MASK
from forecasting.metrics import cv_rmse_pct, interval_coverage, nmbe_pct
from forecasting.models import (
    AggregateForecast,
    BuildingForecast,
    ComplianceModelVersion,
    ForecastModel,
    ForecastRun,
    MeterDay,
)
from forecasting.selectors import feeder_loading, latest_runs
from forecasting.services.windows import readings_window
from jobs.models import JobRun
from optimization.models import DemandResponseEvent
from stakeholders.localtime import slot_of
from stakeholders.models import Building, Feeder

from ..models import RequestTiming
from .base import DayContext, section
from .grid import OUTLOOK_DAYS

ACCURACY_DAYS = 30  # past days scored against their meters
SAMPLE_BUILDINGS = 2_000  # above this, accuracy is read on a sample of the meters
SAMPLE_BLOCK = 100  # the sample is made of blocks of this many buildings (consecutive ids)
MIN_PRESENT_SHARE = 0.9  # an hour is scored when this share of the sampled meters sent it
MIN_SCORED_HOURS = 12  # a day is scored with at least this many such hours
QUALITY_DAYS = 7
LATE_AFTER = timedelta(hours=24)  # a meter is late when no measured hour ended since
FEEDERS_SHOWN = 50
LATE_SHOWN = 20
FLAGGED_SHOWN = 20
MODELS_SHOWN = 5
JOB_DAYS = 7
REQUEST_SAMPLE = 50_000  # latency quantiles from at most this many of the latest requests
ROUTES_SHOWN = 15
# ASHRAE Guideline 14's calibration criteria for hourly data.
ASHRAE_CVRMSE_PCT = 30.0
ASHRAE_NMBE_PCT = 10.0


def _feeders(ctx: DayContext) -> dict:
    """Each feeder's forecast peak against its capacity over the hours the grid outlook shows
    (the latest complete run of today and each of the next days)."""
    days = [ctx.day + timedelta(days=d) for d in range(OUTLOOK_DAYS)]
    runs = sorted(run.pk for run in latest_runs(utility=ctx.utility, days=days).values())
    loadings = feeder_loading(run_ids=runs) if runs else []
    rows = [
        {
            "name": f.name, "capacity_kw": f.capacity_kw, "peak_p50_kw": f.peak_p50_kw,
            "peak_p90_kw": f.peak_p90_kw, "peak_at": f.peak_at.isoformat(), "level": f.level,
            "loading_pct": 100.0 * f.peak_p50_kw / f.capacity_kw,
            "p90_loading_pct": 100.0 * f.peak_p90_kw / f.capacity_kw,
        }
        for f in loadings
    ]  # fmt: skip
    return {
        "feeders": Feeder.objects.filter(utility=ctx.utility).count(),
        "forecast": len(rows),
        "levels": {
            level: sum(row["level"] == level for row in rows)
            for level in ("NORMAL", "HIGH", "CRITICAL")
        },
        "rows": rows[:FEEDERS_SHOWN],
        "runs": runs,
        "outlook_days": OUTLOOK_DAYS,
    }


def accuracy_sample(ids: np.ndarray, seed: int) -> list[np.ndarray]:
    """All the ids when there are few; else SAMPLE_BUILDINGS of them as random blocks of
    SAMPLE_BLOCK consecutive ids (each block one cheap range read of the meters)."""
    if ids.size <= SAMPLE_BUILDINGS:
        return [ids]
    blocks = ids.size // SAMPLE_BLOCK
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(blocks, size=SAMPLE_BUILDINGS // SAMPLE_BLOCK, replace=False))
    return [ids[b * SAMPLE_BLOCK : (b + 1) * SAMPLE_BLOCK] for b in chosen]


def _score(actual: np.ndarray, p50: np.ndarray, p10: np.ndarray, p90: np.ndarray) -> dict | None:
    if actual.size == 0 or actual.mean() == 0:
        return None
    return {
        "hours": int(actual.size),
        "cvrmse_pct": cv_rmse_pct(actual, p50),
        "nmbe_pct": nmbe_pct(actual, p50),
        "coverage": interval_coverage(actual, p10, p90),
    }


def _accuracy(ctx: DayContext, building_ids: np.ndarray) -> dict:
    """Each past day's latest complete run against the meters, on the utility's hourly total
    (ASHRAE Guideline 14 CV(RMSE) and NMBE), and pooled per model version."""
    days = [ctx.day - timedelta(days=d) for d in range(ACCURACY_DAYS, 0, -1)]
    runs = latest_runs(utility=ctx.utility, days=days)
    blocks = accuracy_sample(building_ids, seed=ctx.utility.pk)
    sampled = int(sum(block.size for block in blocks))
    out = {
        "days": ACCURACY_DAYS, "buildings": int(building_ids.size), "sampled": sampled,
        "sample": sampled < building_ids.size, "block": SAMPLE_BLOCK,
        "min_present_share": MIN_PRESENT_SHARE, "min_hours": MIN_SCORED_HOURS,
        "ashrae_cvrmse_pct": ASHRAE_CVRMSE_PCT, "ashrae_nmbe_pct": ASHRAE_NMBE_PCT,
        "rows": [], "versions": [], "runs_without_readings": 0,
    }  # fmt: skip
    if not runs or sampled == 0:
        return out
    versions = dict(
        ForecastModel.objects.filter(
            pk__in={run.model_id for run in runs.values() if run.model_id}
        ).values_list("pk", "version")
    )
    totals = {
        row[0]: row[1:]
        for row in AggregateForecast.objects.filter(
            run_id__in=[run.pk for run in runs.values()], feeder__isnull=True
        ).values_list("run_id", "p10_kw", "p50_kw", "p90_kw", "buildings")
    }
    readings = np.concatenate(
        [readings_window(building_ids=block, first_day=days[0], days=len(days)) for block in blocks]
    )  # (sampled, days, 24) kWh, NaN where missing
    pooled: dict[int | None, list[np.ndarray]] = {}
    for offset, day in enumerate(days):
        run = runs.get(day)
        if run is None or run.pk not in totals:
            continue
        p10, p50, p90, covered = totals[run.pk]
        bands = [np.frombuffer(bytes(b), dtype="<f4")[:24].astype(float) for b in (p10, p50, p90)]
        metered = readings[:, offset, :]
        present = np.isfinite(metered).sum(axis=0)
        scored = present >= MIN_PRESENT_SHARE * sampled
        if scored.sum() < MIN_SCORED_HOURS:
            out["runs_without_readings"] += 1
            continue
        with np.errstate(invalid="ignore"):
            total = np.nanmean(metered[:, scored], axis=0) * covered  # the sample's mean, scaled
        version = versions.get(run.model_id)
        low, mid, high = (band[scored] for band in bands)
        score = _score(total, mid, low, high)
        if score is None:
            out["runs_without_readings"] += 1
            continue
        out["rows"].append({"day": day.isoformat(), "run": run.pk, "model": version, **score})
        pooled.setdefault(version, []).append(np.stack([total, mid, low, high]))
    for version, parts in sorted(pooled.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        total, mid, low, high = np.concatenate(parts, axis=1)
        out["versions"].append(
            {"model": version, "days": len(parts), **_score(total, mid, low, high)}
        )
    return out


def _models(ctx: DayContext) -> dict:
    """The forecast models' and compliance models' held-out metrics, latest first."""
    forecast = [
        {**row, "trained_at": row["trained_at"].isoformat(),
         **{k: row[k].isoformat() if row[k] else None
            for k in ("train_start", "train_end", "test_start", "test_end")}}
        for row in ForecastModel.objects.filter(utility=ctx.utility)
        .order_by("-version")
        .values("version", "status", "architecture", "trained_at", "train_start", "train_end",
                "test_start", "test_end", "buildings", "metrics")[:MODELS_SHOWN]
    ]  # fmt: skip
    compliance = [
        {**row, "trained_at": row["trained_at"].isoformat()}
        for row in ComplianceModelVersion.objects.filter(utility=ctx.utility)
        .order_by("-version")
        .values("version", "active", "outcomes", "trained_at", "metrics")[:MODELS_SHOWN]
    ]
    active = next((row for row in compliance if row["active"]), None)
    if active is not None:
        ctx.versions["compliance_model"] = active["version"]
    return {"forecast": forecast, "compliance": compliance}


def _flagged(ctx: DayContext) -> dict:
    run = (
        ForecastRun.objects.filter(utility=ctx.utility, status=ForecastRun.Status.COMPLETE)
        .order_by("-day", "-created_at", "-pk")
        .first()
    )
    if run is None:
        return {"run": None}
    flagged = BuildingForecast.objects.filter(run=run).exclude(flag="")
    return {
        "run": run.pk, "day": run.day.isoformat(), "buildings": run.buildings,
        "flagged": run.flagged,
        "reasons": list(flagged.values("flag").annotate(n=Count("id")).order_by("-n", "flag")[:10]),
        "examples": list(
            flagged.order_by("building__code")
            .values("building__code", "building__name", "flag")[:FLAGGED_SHOWN]
        ),
    }  # fmt: skip


def _missing_hours(ctx: DayContext, buildings: int) -> dict:
    """Hours not measured over the last QUALITY_DAYS whole days: the expected hours (every
    building, 24 a day) less those the rows' present masks hold, one grouped query."""
    first = ctx.day - timedelta(days=QUALITY_DAYS)
    rows = (
        MeterDay.objects.filter(building__utility=ctx.utility, day__gte=first, day__lt=ctx.day)
        .values("day", "present_mask")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_day = {
        first + timedelta(days=d): {"rows": 0, "hours": 0, "partial": 0}
        for d in range(QUALITY_DAYS)
    }
    for row in rows:
        entry = per_day[row["day"]]
        entry["rows"] += row["n"]
        entry["hours"] += row["n"] * int(row["present_mask"]).bit_count()
        if row["present_mask"] != FULL_MASK:
            entry["partial"] += row["n"]
    days = [
        {"day": day.isoformat(), "missing_hours": buildings * 24 - entry["hours"],
         "no_reading": buildings - entry["rows"], "partial": entry["partial"],
         "missing_share": (buildings * 24 - entry["hours"]) / (buildings * 24) if buildings else None}
        for day, entry in sorted(per_day.items())
    ]  # fmt: skip
    expected = buildings * 24 * QUALITY_DAYS
    missing = sum(day["missing_hours"] for day in days)
    return {
        "days": days, "expected_hours": expected, "missing_hours": missing,
        "missing_share": missing / expected if expected else None, "span": QUALITY_DAYS,
    }  # fmt: skip


def _fresh_rows(ctx: DayContext) -> Q:
    """The meter rows holding an hour that ended within LATE_AFTER of the snapshot: on a day D
    whose hour k is the first to end after the cutoff, a row whose present mask has bit k or a
    higher one set (mask >= 2**k)."""
    cutoff = ctx.now - LATE_AFTER
    first, cutoff_hour, _ = slot_of(cutoff, ctx.tz)
    fresh = Q(pk__in=[])
    for offset in range((ctx.day - first).days + 1):
        day = first + timedelta(days=offset)
        hour = cutoff_hour if day == first else 0
        fresh |= Q(day=day, present_mask__gte=2**hour)
    # The bound on day lets the (building, day) index find a building's few recent rows.
    return Q(day__gte=first) & (fresh | Q(day__gt=ctx.day))


def _late_meters(ctx: DayContext) -> dict:
    """Meters whose latest measured hour ended more than LATE_AFTER before the snapshot,
    bucketed by their latest reading in the last QUALITY_DAYS, the most overdue listed: two
    queries, the work in the database."""
    since = ctx.day - timedelta(days=QUALITY_DAYS)
    fresh = Exists(MeterDay.objects.filter(_fresh_rows(ctx), building=OuterRef("pk")))
    latest = Subquery(
        MeterDay.objects.filter(building=OuterRef("pk"), day__gte=since)
        .order_by("-day")
        .values("day")[:1]
    )
    late = Building.objects.filter(utility=ctx.utility).filter(~fresh).annotate(last=latest)
    two_days = ctx.day - timedelta(days=2)
    counts = late.aggregate(
        late=Count("id"),
        within_2_days=Count("id", filter=Q(last__gte=two_days)),
        days_2_to_7=Count("id", filter=Q(last__lt=two_days)),
        over_7_days=Count("id", filter=Q(last__isnull=True)),
    )
    shown = late.order_by(F("last").asc(nulls_first=True), "pk").values("code", "name", "last")
    return {
        "late": counts.pop("late"), "late_after_h": LATE_AFTER.total_seconds() / 3600,
        "buckets": counts, "window_days": QUALITY_DAYS,
        "rows": [
            {"code": row["code"], "name": row["name"],
             "last_day": row["last"].isoformat() if row["last"] else None}
            for row in shown[:LATE_SHOWN]
        ],
    }  # fmt: skip


def _job_scope(params: dict, utility_id: int, event_ids: set, run_ids: set) -> str:
    """ "own" for a job on this utility's work, "other" for another utility's, "shared" for a
    job of the whole system (reconciling, schedules)."""
    if "utility_id" in params:
        return "own" if params["utility_id"] == utility_id else "other"
    if "event_id" in params:
        return "own" if params["event_id"] in event_ids else "other"
    if "run_id" in params:
        return "own" if params["run_id"] in run_ids else "other"
    return "shared"


def _jobs(ctx: DayContext) -> dict:
    """JobRun per kind over the last JOB_DAYS: runs, failures, duration quantiles, peak memory
    and the last error (the text only for this utility's own jobs)."""
    since = ctx.now - timedelta(days=JOB_DAYS)
    event_ids = set(
        DemandResponseEvent.objects.filter(utility=ctx.utility).values_list("pk", flat=True)
    )
    run_ids = set(ForecastRun.objects.filter(utility=ctx.utility).values_list("pk", flat=True))
    kinds: dict[str, dict] = {}
    rows = (
        JobRun.objects.filter(queued_at__gte=since, queued_at__lte=ctx.now)
        .order_by("queued_at", "pk")
        .values_list("kind", "status", "duration_s", "peak_memory_mb", "params", "finished_at", "error")
    )  # fmt: skip
    for kind, status, duration, memory, params, finished, error in rows:
        scope = _job_scope(params or {}, ctx.utility.pk, event_ids, run_ids)
        if scope == "other":
            continue
        entry = kinds.setdefault(
            kind, {"kind": kind, "runs": 0, "failed": 0, "unfinished": 0, "durations": [],
                   "memory": [], "last_error": None, "shared": True},
        )  # fmt: skip
        entry["runs"] += 1
        entry["shared"] = entry["shared"] and scope == "shared"
        if status == JobRun.Status.FAILED:
            entry["failed"] += 1
            entry["last_error"] = {
                "at": finished.isoformat() if finished else None,
                "text": error[:300] if scope == "own" else None,
            }
        elif status not in JobRun.FINISHED:
            entry["unfinished"] += 1
        if duration is not None:
            entry["durations"].append(duration)
        if memory is not None:
            entry["memory"].append(memory)
    out = []
    for entry in sorted(kinds.values(), key=lambda e: e["kind"]):
        durations, memory = entry.pop("durations"), entry.pop("memory")
        p50, p95 = np.percentile(durations, [50, 95]) if durations else (None, None)
        out.append({
            **entry, "timed": len(durations),
            "p50_s": None if p50 is None else float(p50), "p95_s": None if p95 is None else float(p95),
            "max_memory_mb": float(max(memory)) if memory else None,
        })  # fmt: skip
    return {"days": JOB_DAYS, "kinds": out}


def _quantiles(durations) -> dict:
    if len(durations) == 0:
        return {"p50_ms": None, "p95_ms": None}
    p50, p95 = np.percentile(durations, [50, 95])
    return {"p50_ms": float(p50), "p95_ms": float(p95)}


def _requests(ctx: DayContext) -> dict:
    """Latency (p50 / p95), requests per minute and error shares over the last hour and day,
    from the recorded request timings, and per route over the day: three queries. Quantiles
    come from the latest REQUEST_SAMPLE requests of the day (all of them below that; where the
    hour alone had more, from its latest ones)."""
    hour_start = ctx.now - timedelta(hours=1)
    day = RequestTiming.objects.filter(at__gt=ctx.now - timedelta(days=1), at__lte=ctx.now)
    server, client = Q(status__gte=500), Q(status__gte=400, status__lt=500)
    in_hour = Q(at__gt=hour_start)
    counts = day.aggregate(
        day=Count("id"), day_server=Count("id", filter=server),
        day_client=Count("id", filter=client), hour=Count("id", filter=in_hour),
        hour_server=Count("id", filter=in_hour & server),
        hour_client=Count("id", filter=in_hour & client),
    )  # fmt: skip
    sample = list(
        day.order_by("-at").values_list("route", "method", "duration_ms", "at")[:REQUEST_SAMPLE]
    )
    durations = np.array([row[2] for row in sample], dtype=float)
    recent = np.array([row[3] > hour_start for row in sample], dtype=bool)
    windows = {}
    for name, minutes, chosen in (("hour", 60, recent), ("day", 1440, slice(None))):
        n, errors = counts[name], counts[f"{name}_server"]
        windows[name] = {
            "requests": n, "server_errors": errors, "client_errors": counts[f"{name}_client"],
            "server_error_share": errors / n if n else None, "per_minute": n / minutes,
            **_quantiles(durations[chosen]), "sampled": int(durations[chosen].size),
            "minutes": minutes,
        }  # fmt: skip
    by_route: dict[tuple[str, str], list[float]] = {}
    for route, method, duration, _ in sample:
        by_route.setdefault((route, method), []).append(duration)
    top = (
        day.values("route", "method")
        .annotate(n=Count("id"), server=Count("id", filter=server))
        .order_by("-n", "route")[:ROUTES_SHOWN]
    )
    routes = [{**row, **_quantiles(by_route.get((row["route"], row["method"]), []))} for row in top]
    return {**windows, "routes": routes, "sample_cap": REQUEST_SAMPLE}


@section("engineering")
def engineering(ctx: DayContext) -> dict:
    building_ids = np.array(
        Building.objects.filter(utility=ctx.utility).order_by("pk").values_list("pk", flat=True),
        dtype=np.int64,
    )
    return {
        "feeders": _feeders(ctx),
        "accuracy": _accuracy(ctx, building_ids),
        "models": _models(ctx),
        "quality": {
            "buildings": int(building_ids.size),
            "flagged": _flagged(ctx),
            "missing": _missing_hours(ctx, int(building_ids.size)),
            "late": _late_meters(ctx),
        },
        "jobs": _jobs(ctx),
        "requests": _requests(ctx),
    }
