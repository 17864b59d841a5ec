"""Start-up with missing or malformed settings stops with one line that names the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "k8#Qz!vR2@pL9$wX4^mN7&bT1*cY6(hJ3)fG5-dS0+aE8=uI2~oP4"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}
    }
    clean["ENERGYREC_VAR_DIR"] = str(ROOT / "var" / "test-settings")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DATABASE_URL": "mysql//nowhere"}, "DATABASE_URL='mysql//nowhere' is not a database URL"),
        (
            {"CELERY_BROKER_URL": "kafka://x:1"},
            "CELERY_BROKER_URL='kafka://x:1' is not a broker URL",
        ),
        ({"JOB_TIME_LIMIT_S": "soon"}, "JOB_TIME_LIMIT_S='soon' is not a whole number"),
        (
            {"DJANGO_SETTINGS_MODULE": "energyrec.settings.production"},
            "SECRET_KEY is not set",
        ),
        (
            {
                "DJANGO_SETTINGS_MODULE": "energyrec.settings.production",
                "SECRET_KEY": GOOD_SECRET,
                "ALLOWED_HOSTS": "dr.example.com",
                "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            },
            "DATABASE_URL must point at PostgreSQL in production",
        ),
    ],
)
def test_bad_setting_stops_start_up_with_one_line(env, named):
    result = manage("check", **env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert named in result.stderr


def test_production_profile_passes_deploy_check_without_warnings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level=WARNING",
        DJANGO_SETTINGS_MODULE="energyrec.settings.production",
        SECRET_KEY=GOOD_SECRET,
        ALLOWED_HOSTS="dr.example.com",
        DATABASE_URL="postgres://energyrec@db.example.com:5432/energyrec",
        CELERY_BROKER_URL="redis://cache.example.com:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_local_profile_needs_no_settings_at_all():
    result = manage("check")
    assert result.returncode == 0, result.stderr


def test_every_process_knows_the_job_kinds():
    # A web process or a command creates jobs too, not only the worker that runs them.
    result = manage(
        "shell",
        "-c",
        "from celery import current_app; print(sorted(k for k in current_app.tasks if '.' in k and not k.startswith('celery')))",
    )
    assert result.returncode == 0, result.stderr
    for kind in (
        "forecasting.train",
        "forecasting.forecast_chunk",
        "projects.measure_kpis",
        "jobs.enqueue",
    ):
        assert kind in result.stdout
