"""Chaos benchmark: what becomes of jobs run by a real worker when the faults of a deployment
strike, one fault per row, each on jobs of its own (tests/jobs/chaos.py: a Redis of its own, a
proxy in front of PostgreSQL that can refuse connections, a worker with its embedded beat, so
that the reconciler runs; its intervals shortened as in the chaos test).

    python bench/chaos.py [--jobs N] [--quick]

Rows: pool processes SIGKILLed mid-job; database connections dropped; the whole worker
SIGKILLed and another started; Redis stopped REDIS_DOWN_S and started again (its queues lost);
jobs submitted while Redis is down; the database refusing connections DATABASE_DOWN_S. Per
row: jobs, succeeded, failed, lost or stuck (not finished RECOVERY_TIMEOUT_S after the fault),
duplicated effects, and the seconds from the fault's end until every job had finished. Last
line, one JSON object: {"jobs", "faults", "succeeded", "failed", "lost", "stuck",
"duplicated", "max_recovery_s", "rows": [...]}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, postgres_available, setup_django

sys.path.insert(0, str(ROOT))

DATABASE = "energyrec_chaos"
REDIS_DOWN_S = 25
DATABASE_DOWN_S = 45
RECOVERY_TIMEOUT_S = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="jobs per row")
    parser.add_argument("--quick", action="store_true", help="6 jobs per row, shorter outages")
    args = parser.parse_args()
    if not postgres_available(DATABASE):
        sys.exit("bench/chaos.py needs PostgreSQL on 127.0.0.1:5432")
    os.environ["DJANGO_SETTINGS_MODULE"] = "energyrec.settings.test"
    setup_django(f"postgres://postgres@127.0.0.1:5432/{DATABASE}")

    from django.db import connection

    from tests.jobs import chaos

    n = 6 if args.quick else args.jobs
    redis_down = 8 if args.quick else REDIS_DOWN_S
    database_down = 35 if args.quick else DATABASE_DOWN_S
    folder = Path(tempfile.mkdtemp(prefix="chaos-"))
    redis, proxy, worker = chaos.faults(folder, connection.settings_dict)
    rows = []

    def row(name: str, faults: int, jobs: list[int], fault_ended: float) -> None:
        chaos.wait_finished(jobs, RECOVERY_TIMEOUT_S - (time.monotonic() - fault_ended))
        finished_at = last_finish(jobs)
        outcome = chaos.tally(jobs)
        rows.append(
            {
                "fault": name, "faults": faults, "jobs": outcome.jobs,
                "succeeded": outcome.succeeded, "failed": outcome.failed,
                "stuck": outcome.stuck, "duplicated": outcome.duplicated,
                "missing_effects": outcome.missing_effects,
                "recovery_s": round(max(finished_at - fault_ended, 0.0), 1),
                "errors": sorted(set(outcome.failed_errors)),
            }
        )  # fmt: skip
        print(f"  {name}: {rows[-1]['succeeded']}/{n} succeeded", flush=True)

    def last_finish(jobs: list[int]) -> float:
        """When the last job finished, on this process's monotonic clock."""
        from django.utils import timezone

        from jobs.models import JobRun

        latest = max(
            (j.finished_at for j in JobRun.objects.filter(pk__in=jobs) if j.finished_at),
            default=None,
        )
        if latest is None:
            return time.monotonic()
        return time.monotonic() - (timezone.now() - latest).total_seconds()

    print(f"Chaos benchmark: {n} jobs per fault, a real worker (2 pool processes), its own "
          f"Redis and a proxy to PostgreSQL ({DATABASE})", flush=True)  # fmt: skip
    try:
        with chaos.broker(redis.url):
            worker.start()
            # pool processes killed mid-job, one per job
            jobs = chaos.submit(n)
            kills = 0
            for _ in range(n):
                kills += chaos.kill_running(jobs, timeout_s=10)
                time.sleep(0.8)
            row("pool process SIGKILL", kills, jobs, time.monotonic())
            # connections dropped while jobs run
            jobs = chaos.submit(n)
            for _ in range(5):
                chaos.wait_running(jobs, timeout_s=10)
                proxy.drop()
                time.sleep(1.0)
            row("database connections dropped", 5, jobs, time.monotonic())
            # the whole worker lost, another started
            jobs = chaos.submit(n)
            chaos.wait_running(jobs, timeout_s=10)
            worker.kill()
            time.sleep(1.0)
            worker.start()
            row("whole worker SIGKILL, new worker started", 1, jobs, time.monotonic())
            # Redis stopped and started again
            jobs = chaos.submit(n)
            chaos.wait_running(jobs, timeout_s=10)
            redis.stop()
            time.sleep(redis_down)
            redis.start()
            row(f"Redis stopped {redis_down} s, started again", 1, jobs, time.monotonic())
            # jobs submitted while Redis is down
            redis.stop()
            started = time.monotonic()
            jobs = chaos.submit(n)
            submit_s = (time.monotonic() - started) / n
            time.sleep(max(redis_down - (time.monotonic() - started), 0))
            redis.start()
            row(f"jobs submitted while Redis was down ({submit_s:.1f} s a request)", 1, jobs,
                time.monotonic())  # fmt: skip
            # the database refusing connections
            jobs = chaos.submit(n)
            chaos.wait_running(jobs, timeout_s=10)
            proxy.down()
            time.sleep(database_down)
            proxy.up()
            row(f"database refusing connections {database_down} s", 1, jobs, time.monotonic())
    finally:
        worker.stop()
        proxy.stop()
        redis.stop()

    print(f"\n{'fault':<58}{'jobs':>6}{'succeeded':>11}{'failed':>8}{'lost/stuck':>12}"
          f"{'duplicated':>12}{'recovery s':>12}")  # fmt: skip
    for r in rows:
        print(f"{r['fault']:<58}{r['jobs']:>6}{r['succeeded']:>11}{r['failed']:>8}"
              f"{r['stuck']:>12}{r['duplicated']:>12}{r['recovery_s']:>12.1f}")  # fmt: skip
        for error in r["errors"]:
            print(f"    failed: {error[:110]}")
    summary = {
        "jobs": sum(r["jobs"] for r in rows),
        "faults": sum(r["faults"] for r in rows),
        "succeeded": sum(r["succeeded"] for r in rows),
        "failed": sum(r["failed"] for r in rows),
        "lost": sum(r["missing_effects"] for r in rows),
        "stuck": sum(r["stuck"] for r in rows),
        "duplicated": sum(r["duplicated"] for r in rows),
        "max_recovery_s": max(r["recovery_s"] for r in rows),
        "rows": rows,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
