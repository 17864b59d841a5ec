import time

from django.core.management.base import BaseCommand, CommandError

from forecasting.citylearn import CityLearnError
from forecasting.services.citylearn_import import citylearn_load, citylearn_store


class Command(BaseCommand):
    help = "Import the CityLearn 2022 homes (17 buildings, a year of hourly readings, weather, price, carbon)."

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            data = citylearn_load()
        except CityLearnError as exc:
            raise CommandError(str(exc)) from None
        counts = citylearn_store(
            data=data, progress=lambda pct, note: self.stdout.write(f"  {pct:3.0f}% {note}")
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {counts['buildings']} homes, {counts['hours']:,} hourly readings "
                f"({counts['meter_days']:,} building-days) and {counts['series_days']:,} series days "
                f"in {time.perf_counter() - started:.1f} s. Data: CityLearn 2022, {data.licence}."
            )
        )
