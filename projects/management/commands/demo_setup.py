"""Demo data for `make run` on a developer's machine: the CityLearn year replayed onto dates
around today with a strained grid and events in every state, one login per role, and the demo
program. Safe to run again: a second run the same day duplicates nothing; on a later day the
replay moves to the new today (projects.services.demo_live)."""

import os
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from forecasting.citylearn import CityLearnError
from forecasting.services.citylearn_import import citylearn_load
from forecasting.services.models import active_model
from projects.services.demo import demo_kpis_measure, demo_program_create
from projects.services.demo_live import DemoError, demo_live_setup

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "energyrec-demo")
LOGIN_URL = "http://127.0.0.1:8000/accounts/login/"


class Command(BaseCommand):
    help = "Load the live demo: the replayed CityLearn homes, events, one login per role."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup creates known passwords: it runs with DEBUG=true only.")
        started = time.perf_counter()
        self.stdout.write("Reading the CityLearn 2022 homes (first run downloads a 23 MB wheel)...")
        try:
            data = citylearn_load()
            demo = demo_live_setup(data=data, password=DEMO_PASSWORD, log=self.stdout.write)
        except (CityLearnError, DemoError) as exc:
            raise CommandError(str(exc)) from None
        replay, utility = demo.replay, demo.utility
        model = active_model(utility=utility)
        lstm, mean7 = model.metrics["lstm"], model.metrics["mean7"]
        tomorrow = replay.today + timedelta(days=1)
        self.stdout.write(
            f"  {utility.name}: readings {replay.start:%Y-%m-%d} to {replay.now:%Y-%m-%d %H}:00; "
            f"tomorrow replays {tomorrow - timedelta(days=replay.shift_days):%a %d %b %Y}, "
            f"a strained day. "
            f"{'Built now.' if demo.built else 'Set up earlier today: readings brought up to now.'}"
        )
        self.stdout.write(
            f"  model v{model.version}{' (trained now)' if demo.trained else ''}: median "
            f"CV(RMSE) {lstm['median_cvrmse_pct']} % (7-day mean {mean7['median_cvrmse_pct']} %), "
            f"total {lstm['total_cvrmse_pct']} % (7-day mean {mean7['total_cvrmse_pct']} %)"
        )
        self.stdout.write(
            f"  capacity {demo.capacity_kw:.1f} kW, HIGH from {utility.high_strain_pct:.0f} %, "
            f"CRITICAL from {utility.critical_strain_pct:.0f} %: "
            + "; ".join(
                f"{day:%a %d %b} {demo.hours_high[day]} h HIGH, {demo.hours_critical[day]} h CRITICAL"
                for day in demo.hours_high
            )
        )
        self.stdout.write(
            "  events: "
            + ", ".join(f"{count} {status}" for status, count in demo.events.items() if count)
        )
        admin = get_user_model().objects.get(username="admin")
        program = demo_program_create(
            starts_on=timezone.localdate() - timedelta(days=7), user=admin, utility=utility
        )
        measured = demo_kpis_measure(program=program)
        self.stdout.write(f"  program: {program.name} ({len(measured)} KPI(s) measured now)")
        self.stdout.write(
            self.style.SUCCESS(f"\nSign in at {LOGIN_URL}  (password for every login below)")
        )
        rows = [("username", "password", "role", "organization", "sees")] + [
            (login.username, DEMO_PASSWORD, login.role, login.organization, login.sees)
            for login in demo.logins
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for *cells, sees in rows:
            padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            self.stdout.write("  " + "  ".join(padded) + f"  {sees}")
        self.stdout.write(
            f"\nData: {demo.label} Its past events and their homes' responses are simulated, "
            "and labelled so. Local only: these passwords are public."
        )
        parts = ", ".join(
            f"{name[:-2].replace('_', ' and ')} {s} s" for name, s in demo.timings_s.items()
        )
        self.stdout.write(f"demo_setup took {time.perf_counter() - started:.1f} s ({parts}).")
