from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from forecasting.models import ForecastRun, GridStatusHour
from forecasting.services.forecasts import forecast_run_create
from forecasting.services.models import ForecastError
from jobs.models import JobRun
from jobs.services import JobError
from jobs.tasks import jobs_run_here
from stakeholders.commands import utility_named
from stakeholders.formatting import local_time


class Command(BaseCommand):
    help = (
        "Forecast every building of a utility from a local day's midnight, 24 or 48 hours ahead, "
        "as jobs run here; prints the utility's peak and its HIGH and CRITICAL hours."
    )

    def add_arguments(self, parser):
        parser.add_argument("--utility", required=True, help="The utility's name.")
        parser.add_argument(
            "--day", type=date.fromisoformat, help="YYYY-MM-DD; tomorrow if not given."
        )
        parser.add_argument("--hours", type=int, default=24, choices=[24, 48])

    def handle(self, *args, utility: str, day: date | None, hours: int, **options):
        found = utility_named(utility)
        tz = ZoneInfo(found.timezone)
        day = day or timezone.now().astimezone(tz).date() + timedelta(days=1)
        last = JobRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        try:
            with transaction.atomic():
                run = forecast_run_create(utility=found, day=day, horizon_h=hours)
            jobs_run_here(after_pk=last, worker="forecast")
        except (ForecastError, JobError) as exc:
            raise CommandError(str(exc)) from None
        run = ForecastRun.objects.get(pk=run.pk)
        grid = list(
            GridStatusHour.objects.filter(run=run, feeder__isnull=True).order_by("starts_at")
        )
        if run.status != ForecastRun.Status.COMPLETE or not grid:
            raise CommandError(f"Forecast run #{run.pk} did not complete ({run.status}).")
        peak = max(grid, key=lambda hour: hour.forecast_kw)
        model = f"model v{run.model.version}" if run.model else "the 7-day-mean baseline"
        self.stdout.write(
            f"{len(grid)} hours from {local_time(grid[0].starts_at, found.timezone)} with {model}: "
            f"peak {peak.forecast_kw:,.0f} kW at {local_time(peak.starts_at, found.timezone)} "
            f"({peak.strain_pct:.0f} % of capacity)."
        )
        for level in ("CRITICAL", "HIGH"):
            marked = [hour for hour in grid if hour.level == level]
            if marked:
                self.stdout.write(
                    f"{level}: {len(marked)} hour(s), first "
                    f"{local_time(marked[0].starts_at, found.timezone)}."
                )
        self.stdout.write(self.style.SUCCESS(f"Forecast run #{run.pk} is complete."))
