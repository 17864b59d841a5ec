from django.core.management.base import BaseCommand, CommandError

from forecasting.services.readings import readings_csv_import
from stakeholders.csvimport import CsvImportError
from stakeholders.models import Utility


class Command(BaseCommand):
    help = (
        "Import hourly readings from a CSV with columns building_code, timestamp, kwh "
        "(timestamp = interval start, YYYY-MM-DD HH:00). A file with any error saves nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path")
        parser.add_argument("--utility", required=True, help="The utility's name.")

    def handle(self, *args, csv_path: str, utility: str, **options):
        found = Utility.objects.filter(name=utility).first()
        if found is None:
            raise CommandError(f"No utility named {utility!r}.")
        try:
            with open(csv_path, "rb") as stream:
                counts = readings_csv_import(utility=found, stream=stream.read())
        except OSError as exc:
            raise CommandError(f"Cannot read {csv_path}: {exc}") from None
        except CsvImportError as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{len(exc.errors)} error(s) in {csv_path}; nothing was saved."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {counts['rows']:,} readings for {counts['buildings']} building(s), "
                f"{counts['days']:,} building-days."
            )
        )
