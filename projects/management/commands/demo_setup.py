"""Demo data for `make run` on a developer's machine: logins, the real CityLearn homes, and the
demo program. Safe to run again: everything it creates is created once."""

import os
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from forecasting.citylearn import CityLearnError
from forecasting.services.citylearn_import import citylearn_load, citylearn_store
from projects.services.demo import demo_program_create
from projects.services.kpis import kpis_measure_from_records
from stakeholders.services import user_ensure

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "energyrec-demo")


class Command(BaseCommand):
    help = "Load the demo: a staff login, the real CityLearn homes and the demo program."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup creates known passwords: it runs with DEBUG=true only.")
        admin = user_ensure(username="admin", password=DEMO_PASSWORD, superuser=True)
        self.stdout.write(
            "Importing the CityLearn 2022 homes (first run downloads a 23 MB wheel)..."
        )
        try:
            counts = citylearn_store(data=citylearn_load())
        except CityLearnError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"  {counts['buildings']} homes, {counts['hours']:,} hourly readings, "
            f"{counts['series_days']:,} days of weather, price and carbon."
        )
        program = demo_program_create(
            starts_on=timezone.localdate() - timedelta(days=7), user=admin
        )
        measured = kpis_measure_from_records(program=program)
        self.stdout.write(f"  Program: {program.name} ({len(measured)} KPI(s) measured now)")
        self.stdout.write(self.style.SUCCESS("Demo logins (local only):"))
        self.stdout.write(f"  back office   admin / {DEMO_PASSWORD}   (staff superuser)")
