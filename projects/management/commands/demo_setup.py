"""Demo data for `make run` on a developer's machine: logins, the real CityLearn homes, and the
demo program. Safe to run again: everything it creates is created once."""

import os
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from forecasting.citylearn import CityLearnError
from forecasting.selectors import next_forecast_day
from forecasting.services.citylearn_import import DEMO_UTILITY, citylearn_load, citylearn_store
from forecasting.services.forecasts import forecast_run_create
from forecasting.services.models import active_model, forecast_model_train
from projects.services.demo import demo_program_create
from projects.services.kpis import kpis_measure_from_records
from stakeholders.models import Utility
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
        utility = Utility.objects.get(name=DEMO_UTILITY)
        model = active_model(utility=utility)
        if model is None:
            self.stdout.write("Training the forecasting LSTM on the homes (about 10 s)...")
            model = forecast_model_train(utility=utility)
        lstm_metrics, mean7 = model.metrics["lstm"], model.metrics["mean7"]
        self.stdout.write(
            f"  model v{model.version}: median CV(RMSE) {lstm_metrics['median_cvrmse_pct']} % "
            f"(7-day mean {mean7['median_cvrmse_pct']} %), total {lstm_metrics['total_cvrmse_pct']} % "
            f"(7-day mean {mean7['total_cvrmse_pct']} %) on held-out days"
        )
        run = forecast_run_create(utility=utility, day=next_forecast_day(utility=utility))
        self.stdout.write(
            f"  forecast for {run.day} queued for the worker ({run.chunks_total} job)"
        )
        program = demo_program_create(
            starts_on=timezone.localdate() - timedelta(days=7), user=admin
        )
        measured = kpis_measure_from_records(program=program)
        self.stdout.write(f"  Program: {program.name} ({len(measured)} KPI(s) measured now)")
        self.stdout.write(self.style.SUCCESS("Demo logins (local only):"))
        self.stdout.write(f"  back office   admin / {DEMO_PASSWORD}   (staff superuser)")
