"""The system engineer's dashboard (feeder loading, forecast and compliance model accuracy,
data quality, job runs) and the technical report of the data science, engineering, security
and operations roles (model metrics, request latency and error rate, job durations and memory,
and the live health of the database, broker and workers)."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path

from forecasting.scorecard import FORECASTER_LABELS
from jobs.selectors import health_checks, worker_activity
from stakeholders import formatting

from ..access import portal_view
from ..charts_market import accuracy_chart
from ..dashboards import current_report, dashboard

ENGINEER = "engineer"
TECHNICAL = "technical"
# How the forecast models' held-out scores name each method.
METHODS = FORECASTER_LABELS
# What compliance training stores in ComplianceModelVersion.metrics (forecasting.compliance).
COMPLIANCE_METRICS = (
    "held_out", "auc", "prior_auc", "brier", "prior_brier", "kept", "reason",
    "calibration_intercept", "calibration_slope",
)  # fmt: skip


def _round(value, digits: int = 1):
    return None if value is None else round(value, digits)


def forecast_model_rows(models: list[dict]) -> list[dict]:
    """Each stored forecast model with its held-out scores, one row per method, the best
    total CV(RMSE) marked."""
    out = []
    for model in models:
        metrics = model.get("metrics") or {}
        methods = [
            {"name": label, "key": key, **metrics[key]}
            for key, label in METHODS.items()
            if isinstance(metrics.get(key), dict)
        ]
        scored = [m for m in methods if m.get("total_cvrmse_pct") is not None]
        best = min(scored, key=lambda m: m["total_cvrmse_pct"])["key"] if scored else None
        out.append({**model, "methods": methods, "best": best,
                    "coverage": metrics.get("p10_p90_coverage"), "epochs": metrics.get("epochs")})  # fmt: skip
    return out


def model_metrics(engineering: dict) -> dict:
    """What both pages show of the models: accuracy by day and version, the forecast models'
    held-out scores, and the compliance models' AUC, Brier and calibration."""
    accuracy = engineering.get("accuracy", {})
    compliance = [
        {**c, **{key: (c.get("metrics") or {}).get(key) for key in COMPLIANCE_METRICS},
         "calibration": (c.get("metrics") or {}).get("calibration") or []}
        for c in engineering.get("models", {}).get("compliance", [])
    ]  # fmt: skip
    active = next((c for c in compliance if c["active"]), compliance[0] if compliance else None)
    return {
        "accuracy": accuracy,
        "accuracy_chart": accuracy_chart(
            accuracy.get("rows", []), cvrmse_limit_pct=accuracy.get("ashrae_cvrmse_pct", 30.0),
            nmbe_limit_pct=accuracy.get("ashrae_nmbe_pct", 10.0),
        ),
        "accuracy_latest_version": max(
            (v for v in accuracy.get("versions", []) if v["model"] is not None),
            key=lambda v: v["model"], default=None,
        ),
        "forecast_models": forecast_model_rows(engineering.get("models", {}).get("forecast", [])),
        "compliance_models": compliance,
        "compliance_active": active,
    }  # fmt: skip


def _base(report) -> dict:
    engineering = report.data.get("engineering", {})
    return {
        "engineering": engineering,
        "tz": report.utility.timezone,
        "utility": report.utility,
        **model_metrics(engineering),
    }


@dashboard(
    slug=ENGINEER,
    title="System engineer",
    template="portal/engineer.html",
    csv_rows=lambda member, report: engineer_csv(report),
)
def engineer_context(member, report) -> dict:
    context = _base(report)
    engineering = context["engineering"]
    feeders = engineering.get("feeders", {})
    levels = feeders.get("levels", {})
    context.update(
        feeders=feeders,
        feeders_strained=levels.get("HIGH", 0) + levels.get("CRITICAL", 0),
        quality=engineering.get("quality", {}),
        jobs=engineering.get("jobs", {}),
    )
    return context


@dashboard(
    slug=TECHNICAL,
    title="Technical",
    template="portal/technical.html",
    csv_rows=lambda member, report: technical_csv(report),
)
def technical_context(member, report) -> dict:
    context = _base(report)
    engineering = context["engineering"]
    context.update(jobs=engineering.get("jobs", {}), requests=engineering.get("requests", {}))
    return context


def _accuracy_csv(engineering: dict) -> list[list]:
    accuracy = engineering.get("accuracy", {})
    rows = [["day", "forecast run", "model version", "hours scored", "CV(RMSE) %", "NMBE %",
             "P10-P90 coverage %"]]  # fmt: skip
    rows += [
        [r["day"], r["run"], r["model"], r["hours"], _round(r["cvrmse_pct"]),
         _round(r["nmbe_pct"]), _round(100 * r["coverage"])]
        for r in accuracy.get("rows", [])
    ]  # fmt: skip
    rows += [[], ["model version", "days", "hours", "CV(RMSE) %", "NMBE %", "P10-P90 coverage %"]]
    rows += [
        [v["model"], v["days"], v["hours"], _round(v["cvrmse_pct"]), _round(v["nmbe_pct"]),
         _round(100 * v["coverage"])]
        for v in accuracy.get("versions", [])
    ]  # fmt: skip
    rows += [[], ["compliance model", "active", "outcomes", "held out", "AUC", "prior AUC",
                  "Brier", "prior Brier", "kept"]]  # fmt: skip
    rows += [
        [c["version"], "yes" if c["active"] else "no", c["outcomes"], c["metrics"].get("held_out"),
         c["metrics"].get("auc"), c["metrics"].get("prior_auc"), c["metrics"].get("brier"),
         c["metrics"].get("prior_brier"), c["metrics"].get("kept")]
        for c in engineering.get("models", {}).get("compliance", [])
    ]  # fmt: skip
    return rows


def _jobs_csv(engineering: dict) -> list[list]:
    rows = [["job kind", "runs", "failed", "unfinished", "p50 s", "p95 s", "max memory MB",
             "last error"]]  # fmt: skip
    rows += [
        [j["kind"], j["runs"], j["failed"], j["unfinished"], _round(j["p50_s"], 2),
         _round(j["p95_s"], 2), _round(j["max_memory_mb"]),
         (j["last_error"] or {}).get("text") or ""]
        for j in engineering.get("jobs", {}).get("kinds", [])
    ]  # fmt: skip
    return rows


def engineer_csv(report) -> list[list]:
    engineering = report.data.get("engineering", {})
    tz = report.utility.timezone
    rows = [["feeder", "capacity kW", "peak P50 kW", "peak P90 kW", "loading %", "peak at",
             "status"]]  # fmt: skip
    rows += [
        [f["name"], _round(f["capacity_kw"]), _round(f["peak_p50_kw"]), _round(f["peak_p90_kw"]),
         _round(f["loading_pct"]), formatting.local_time(f["peak_at"], tz, "%Y-%m-%d %H:%M"),
         f["level"]]
        for f in engineering.get("feeders", {}).get("rows", [])
    ]  # fmt: skip
    rows += [[], *_accuracy_csv(engineering)]
    quality = engineering.get("quality", {})
    rows += [[], ["day", "missing hours", "meters without a reading", "meters with gaps"]]
    rows += [
        [d["day"], d["missing_hours"], d["no_reading"], d["partial"]]
        for d in quality.get("missing", {}).get("days", [])
    ]
    late = quality.get("late", {})
    rows += [
        [],
        ["late meters", late.get("late"), f"no hour in the last {late.get('late_after_h')} h"],
    ]
    rows += [[], *_jobs_csv(engineering)]
    return rows


def technical_csv(report) -> list[list]:
    engineering = report.data.get("engineering", {})
    requests = engineering.get("requests", {})
    rows = [["window", "requests", "per minute", "p50 ms", "p95 ms", "5xx", "5xx share %"]]
    for name in ("hour", "day"):
        w = requests.get(name)
        if w:
            rows.append(
                [name, w["requests"], _round(w["per_minute"], 2), _round(w["p50_ms"]),
                 _round(w["p95_ms"]), w["server_errors"],
                 _round(None if w["server_error_share"] is None else 100 * w["server_error_share"], 2)]
            )  # fmt: skip
    rows += [[], ["route", "method", "requests, day", "5xx", "p50 ms", "p95 ms"]]
    rows += [
        [r["route"], r["method"], r["n"], r["server"], _round(r["p50_ms"]), _round(r["p95_ms"])]
        for r in requests.get("routes", [])
    ]
    rows += [[], *_jobs_csv(engineering), [], *_accuracy_csv(engineering)]
    return rows


@portal_view(ENGINEER)
def engineer_page(request, member):
    report = current_report(member, request.GET.get("utility"))
    context = engineer_context(member, report)
    return render(
        request, "portal/engineer.html",
        {**context, "snapshot": report, "data_label": report.data_label},
    )  # fmt: skip


def duration_text(seconds: float | None) -> str:
    """A wait in words: '45 s', '12 min', '3 h 05 min'."""
    if seconds is None:
        return formatting.DASH
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def live_health() -> dict:
    """Read now, never from a snapshot: the database, the broker, and the workers (from the
    job rows: how long the oldest queued job has waited, and the last one that finished)."""
    checks = health_checks()
    workers = worker_activity()
    workers["waited"] = duration_text(workers["oldest_queued_s"])
    workers["stalled_after"] = duration_text(workers["stalled_after_s"])
    return {"checks": checks, "workers": workers,
            "healthy": all(v == "ok" for v in checks.values()) and workers["status"] != "stalled"}  # fmt: skip


@portal_view(TECHNICAL)
def technical_page(request, member):
    if request.htmx and request.GET.get("panel") == "health":
        return render(
            request, "portal/technical.html#health-panel",
            {"health": live_health(), "tz": member.utility.timezone if member.utility else "UTC"},
        )  # fmt: skip
    report = current_report(member, request.GET.get("utility"))
    context = technical_context(member, report)
    return render(
        request, "portal/technical.html",
        {**context, "health": live_health(), "snapshot": report, "data_label": report.data_label},
    )  # fmt: skip


urlpatterns = [
    path("engineer/", engineer_page, name=ENGINEER),
    path("technical/", technical_page, name=TECHNICAL),
]
