"""Shared set-up for the benchmarks: Django on a chosen database, and peak-memory sampling."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_BENCH_URL = "postgres://postgres@127.0.0.1:5432/energyrec_bench"


def setup_django(database_url: str) -> None:
    """Configure Django for a benchmark process against `database_url`, migrated."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energyrec.settings.local")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Debug mode keeps every SQL statement in memory: a peak of its own in the figures.
    os.environ.setdefault("DEBUG", "false")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def postgres_available(database: str = "energyrec_bench") -> bool:
    """Whether PostgreSQL answers on this machine; creates `database` there if missing."""
    try:
        import psycopg

        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=3
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [database]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')
        return True
    except Exception:
        return False


class PeakMemory:
    """Peak resident memory of this process, sampled every 20 ms while the block runs."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.baseline_mb = self._process.memory_info().rss / 2**20
        self.peak_mb = self.baseline_mb
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)


def analyze(*tables: str) -> None:
    """Refresh the planner's statistics, as autovacuum does within a minute of a bulk write
    (without it, the first plans after a load expect a hundred rows where there are 100,000)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")
